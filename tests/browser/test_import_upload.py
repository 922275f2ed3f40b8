"""Importing a file from the browser: upload, watch the job finish without a reload, find the data.

These tests run their own server (the shared one runs no jobs) with the worker thread on, so the
import really runs in-process on SQLite, as `sift serve` does by default.
"""

import json
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app import worker
from tests.browser.conftest import (
    LiveServer,
    PageLog,
    screenshot,
    serve,
)

pytestmark = pytest.mark.browser

DATASET = "support-drafts"
GOOD = [
    {"instruction": "How do I reset my Quokkapay password?", "output": "Open Settings."},
    {"instruction": "Can I get a refund after 30 days?", "output": "Within 60 days, yes."},
    {"instruction": "Where is my parcel?", "output": "Use the tracking link in the email."},
    {"instruction": "Do you ship to Iceland?", "output": "Yes, within five working days."},
    {"instruction": "How do I close my account?", "output": "Write to support; it takes a day."},
    {"instruction": "Is there a student discount?", "output": "Yes: 20% with a student email."},
]


def _jsonl_with_two_bad_lines(path: Path) -> Path:
    """Eight lines: line 3 is not JSON, line 6 has no instruction; the other six are good."""
    lines = [json.dumps(record) for record in GOOD]
    lines.insert(2, '{"instruction": "broken line", ')
    lines.insert(5, json.dumps({"question": "not alpaca", "answer": "?"}))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A running Sift with the demo data whose worker thread runs import jobs."""
    with serve(tmp_path_factory.mktemp("browser-imports"), "i", run_worker=True) as server:
        yield server


@pytest.fixture
def job_gate(monkeypatch: pytest.MonkeyPatch) -> Iterator[threading.Event]:
    """Jobs wait for this event before they start, so the test sees a job still waiting."""
    gate = threading.Event()
    run: Callable[..., None] = worker._run

    def gated_run(*args: object) -> None:
        gate.wait(timeout=30)
        run(*args)

    monkeypatch.setattr(worker, "_run", gated_run)
    yield gate
    gate.set()


def test_upload_watch_the_job_finish_and_find_the_examples(
    page: Page, tmp_path: Path, job_gate: threading.Event
) -> None:
    page.goto(f"/datasets/{DATASET}")
    page.get_by_role("link", name="Import").click()
    expect(page).to_have_url(re.compile(rf"/datasets/{DATASET}/imports$"))
    expect(page.locator("h1")).to_have_text("Import into Support replies (drafts)")

    upload = _jsonl_with_two_bad_lines(tmp_path / "support-faq.jsonl")
    page.locator("#import-file").set_input_files(upload)
    expect(page.locator("#import-format option")).to_have_count(6)
    screenshot(page, "06-import-upload")
    page.get_by_role("button", name="Upload and import").click()

    expect(page).to_have_url(re.compile(rf"/datasets/{DATASET}/imports/\d+$"))
    job = page.locator("#job")
    expect(job).to_have_attribute("data-status", "queued")
    expect(job).to_have_attribute("hx-trigger", "every 1s")
    # A marker on window survives htmx swaps but not a page load.
    page.evaluate("window.__noReload = true")
    job_gate.set()

    expect(job).to_have_attribute("data-status", "succeeded", timeout=30_000)
    assert page.evaluate("window.__noReload") is True
    expect(job).not_to_have_attribute("hx-trigger", re.compile(".*"))
    counts = {
        name: page.locator(f'.job-count[data-count="{name}"] dd').inner_text()
        for name in ("received", "created", "duplicates", "rejected")
    }
    assert counts == {"received": "8", "created": "6", "duplicates": "0", "rejected": "2"}
    expect(page.locator(".problem-row .col-number")).to_have_text(["3", "6"])
    expect(page.locator(".problem-row").nth(1)).to_contain_text("instruction: missing")
    expect(page.locator(".progress-text strong")).to_have_text("100%")
    # How fast it went, from the job's own row: records a second over the run.
    expect(page.locator(".job-rate")).to_have_text(re.compile(r"^[1-9][\d,]* a second$"))
    expect(page.locator(".fact-format")).to_have_text("alpaca")
    screenshot(page, "07-import-finished")

    page.get_by_role("link", name="Support replies (drafts)").click()
    page.locator("#q").fill("Quokkapay")
    expect(page.locator(".result-count strong")).to_have_text("1")
    expect(page.locator(".example-row .prompt-link")).to_have_text(
        "How do I reset my Quokkapay password?"
    )


def test_a_bad_field_mapping_is_shown_under_it_and_the_file_stays_chosen(
    page: Page, page_log: PageLog, tmp_path: Path
) -> None:
    """The error sat at the top of the card, and the file input came back empty: the file had
    to be found and picked again."""
    upload = tmp_path / "faq.csv"
    upload.write_text("question,answer\nHow do I pay?,By card.\n", encoding="utf-8")
    page.goto(f"/datasets/{DATASET}/imports")
    page.locator("#import-file").set_input_files(upload)
    page.locator("#import-columns").fill("question->instruction")
    page.get_by_role("button", name="Upload and import").click()

    error = page.locator("#columns-error")
    expect(error).to_have_text(re.compile(r"^Expected SOURCE=FIELD, got 'question->instruction'"))
    expect(page.locator("#import-columns")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#import-columns")).to_be_focused()
    assert page.locator("#import-file").evaluate("input => input.files[0].name") == "faq.csv"
    page.evaluate("window.scrollTo(0, 0)")  # the sticky header belongs at the top
    screenshot(page, "06b-import-mapping-error")
    # Chromium logs every 4xx response; this 422 is the refusal the test asked for.
    refusals = [m for m in page_log.console if "status of 422" in m]
    assert len(refusals) == 1, page_log.console
    page_log.console.remove(refusals[0])

    page.locator("#import-columns").fill("question=instruction\nanswer=output")
    page.get_by_role("button", name="Upload and import").click()
    expect(page).to_have_url(re.compile(rf"/datasets/{DATASET}/imports/\d+$"))
    expect(page.locator("#job")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    expect(page.locator('.job-count[data-count="created"] dd')).to_have_text("1")

    # On a phone the list of imports fits its box: what each did shows without scrolling.
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"/datasets/{DATASET}/imports")
    table = page.locator("#imports .table-wrap")
    expect(page.locator("#imports .import-row").first).to_be_visible()
    assert table.evaluate("box => box.scrollWidth <= box.clientWidth"), "the table overflows"
    expect(page.locator("#imports .import-row .badge").first).to_have_text(
        re.compile("Succeeded|Nothing stored")
    )
    screenshot(page, "07b-imports-list-390")


def test_a_mapped_key_that_no_record_has_is_shown_to_check(page: Page, tmp_path: Path) -> None:
    """A typo in a JSON file's field mapping imported the records with the field left in
    metadata, and the page said only "Succeeded"."""
    upload = tmp_path / "prompts.jsonl"
    upload.write_text(
        json.dumps({"system_prompt": "Be brief.", "q": "Who are you?", "a": "Sift."}) + "\n",
        encoding="utf-8",
    )
    page.goto(f"/datasets/{DATASET}/imports")
    page.locator("#import-file").set_input_files(upload)
    page.locator("#import-columns").fill("q=instruction\na=output\nsystem_promt=system")
    page.get_by_role("button", name="Upload and import").click()
    expect(page.locator("#job")).to_have_attribute("data-status", "succeeded", timeout=30_000)
    warning = page.locator(".job-warning")
    expect(warning).to_have_text(
        "Check: columns: no record has the key 'system_promt' (mapped to 'system'), so nothing"
        " was mapped from it; is it spelled as in the file?"
    )
    screenshot(page, "07c-import-mapping-warning")
