"""Real public datasets (../shared/data): every file imports, and search finds on SQLite and
Postgres exactly the examples whose text contains the word."""

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from app import dbschema, repositories
from app.db import make_engine, make_sessionmaker
from app.models import Dataset, Example
from app.services import datasets
from app.services.examples import example_texts
from app.services.imports import ImportOptions, import_file
from app.services.ingest import IngestReport, Limits
from tests.conftest import BACKENDS, SHARED_DATA, fresh_database_url
from tests.search_reference import contains

pytestmark = pytest.mark.shared_data
FILES = sorted(SHARED_DATA.glob("*.json")) if SHARED_DATA.is_dir() else []
if not FILES:
    pytest.skip(f"{SHARED_DATA} not found: real-data tests skipped", allow_module_level=True)

WORDS = ["python", "data", "function", "water", "the", "identity", "json"]
CJK_WORDS = ["数据", "中国", "学习", "人工智能", "你好", "健康", "机器学习"]
QUERIES = WORDS + CJK_WORDS + ["python 数据", "data 学习"]


Store = tuple[sessionmaker[Session], dict[str, IngestReport]]


def _slug(path: Path) -> str:
    return path.stem.split("__")[1].replace("_", "-")[:60]


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Store]]:
    """Every shared file imported into a fresh database of each backend."""
    built: dict[str, Store] = {}
    engines = []
    for backend in BACKENDS:
        url = fresh_database_url(backend, "sift_test_shared", tmp_path_factory.mktemp(backend))
        dbschema.upgrade(url)
        engine = make_engine(url)
        engines.append(engine)
        make_session = make_sessionmaker(engine)
        reports: dict[str, IngestReport] = {}
        for path in FILES:
            with make_session() as session:
                dataset_id = datasets.create_dataset(session, None, _slug(path)).id
                session.commit()
            reports[path.name], _ = import_file(
                make_session, dataset_id, path, ImportOptions(workers=0), Limits()
            )
        built[backend] = (make_session, reports)
    yield built
    for engine in engines:
        engine.dispose()


def test_every_shared_file_imports_without_rejects(stores: dict[str, Store]) -> None:
    for backend, (_, reports) in stores.items():
        for name, report in reports.items():
            assert report.rejected == 0, (backend, name, report.errors[:3])
            assert report.created + report.duplicates == report.received, (backend, name)
            assert report.created > 0


def expected(session: Session, query: str) -> set[tuple[str, str]]:
    rows = session.execute(select(Dataset.slug, Example).join(Dataset)).all()
    found = set()
    for slug, example in rows:
        texts = example_texts(example)
        if all(any(contains(t, w) for t in texts) for w in query.split()):
            found.add((slug, example.content_hash))
    return found


def searched(session: Session, query: str) -> set[tuple[str, str]]:
    found = set()
    for dataset in repositories.list_datasets(session):
        filters = repositories.ExampleFilters(q=query)
        after = None
        while True:
            page = repositories.page_examples(session, dataset.id, filters, after, 200)
            found |= {(dataset.slug, e.content_hash) for e in page.items}
            if page.next is None:
                break
            after = repositories.decode_cursor(page.next)
    return found


def test_search_finds_exactly_the_examples_containing_the_word(
    stores: dict[str, Store],
) -> None:
    results: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for backend, (make_session, _) in stores.items():
        with make_session() as session:
            results[backend] = {}
            for query in QUERIES:
                got = searched(session, query)
                assert got == expected(session, query), (backend, query)
                results[backend][query] = got
    first = next(iter(results.values()))
    assert first["数据"] and first["python"], "the shared data holds both words"
    for backend, per_query in results.items():
        assert per_query == first, f"{backend} differs from {next(iter(results))}"
