"""Generated texts and queries (Hypothesis): on both databases a search finds exactly the
examples whose text holds every word of the query, by a reference that knows nothing of the
analyzer (tests/search_reference.py): a CJK word anywhere in a text, another word as a whole
word, after NFKC and lower-casing.

The texts mix ASCII words in any case, accented letters, digits, punctuation, Chinese,
Japanese and Korean runs, full-width letters and the ideographic space, so that words meet CJK
runs and punctuation at every edge.
"""

import itertools

from hypothesis import example, given
from hypothesis import strategies as st
from sqlalchemy.orm import Session

from app import repositories
from app.canonical import CanonicalExample
from app.services.examples import example_texts
from tests.factories import chat, make_dataset, store
from tests.generated import generated_cases
from tests.search_reference import contains

WORDS = ["quokka", "Quokka", "data", "DATA", "café", "naïve", "x1", "42", "a"]
# Few CJK characters, so that queries meet texts often, and across the edges of runs.
CJK = [*"数据库", "の", "한"]
SEPARATORS = [" ", "  ", ", ", ".", "-", "_", "\n", "!", "\u3000", "（", "）", "。"]
FULL_WIDTH = ["Ｑｕｏｋｋａ", "ｄａｔａ"]  # NFKC makes these 'quokka' and 'data'

cjk_runs = st.lists(st.sampled_from(CJK), min_size=1, max_size=5).map("".join)
pieces = st.one_of(st.sampled_from(WORDS + FULL_WIDTH), cjk_runs, st.sampled_from(SEPARATORS))
# At most 10 pieces: no word reaches the 64 characters past which the analyzer cuts words,
# which the reference does not model.
texts = st.lists(pieces, min_size=1, max_size=10).map("".join)
# A query unit: a word, or a CJK word of two or more characters (a single CJK character is
# only indexed where it stands alone: Elasticsearch's CJK analyzer has the same limit).
units = st.one_of(
    st.sampled_from([w.lower() for w in WORDS]),
    st.lists(st.sampled_from(CJK), min_size=2, max_size=3).map("".join),
)
queries = st.lists(units, min_size=1, max_size=2, unique=True)
examples = st.lists(st.tuples(texts, texts), min_size=1, max_size=8)
_slugs = itertools.count()


def _found(session: Session, dataset_id: int, query: str) -> list[int]:
    page = repositories.page_examples(
        session, dataset_id, repositories.ExampleFilters(q=query), None, 100
    )
    return [example.id for example in page.items]


@generated_cases(200)
@given(pairs=examples, query_units=queries)
# Edges a search must not cross, and normalisation, checked on every run whatever is generated.
@example(pairs=[("数据。据库", "x"), ("数据 库", "数据\n库")], query_units=["数据库"])
@example(pairs=[("Ｑｕｏｋｋａ数据", "x"), ("quokkas", "数据")], query_units=["quokka"])
@example(pairs=[("data数据库", "の한"), ("DATA_库数据", "x")], query_units=["数据", "data"])
def test_a_search_finds_exactly_the_examples_holding_every_word(
    session: Session, pairs: list[tuple[str, str]], query_units: list[str]
) -> None:
    dataset = make_dataset(session, f"gen-{next(_slugs)}")
    # A counter in each question, so that no two examples are duplicates.
    stored: list[CanonicalExample] = [chat(f"{q} #{i}", a) for i, (q, a) in enumerate(pairs)]
    ids = store(session, dataset, *stored).created
    assert len(ids) == len(stored)
    query = " ".join(query_units)
    expected = [
        example_id
        for example_id, example in zip(ids, stored, strict=True)
        if all(any(contains(t, unit) for t in example_texts(example)) for unit in query_units)
    ]
    assert _found(session, dataset.id, query) == expected, query
    total = repositories.count_examples(session, dataset.id, repositories.ExampleFilters(q=query))
    assert total == len(expected)
