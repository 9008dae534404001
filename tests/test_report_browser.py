"""The evaluation report as a reader sees it, in headless Chromium: the result comes first, the
charts are grouped by direction, and the per-question table filters offline."""

from __future__ import annotations

import json
from pathlib import Path

from test_eval_runner import DATASET, FakeAssistant

from ragkit.eval.options import EvalOptions
from ragkit.eval.runner import evaluate


def test_the_report_leads_with_its_result_and_filters_questions(browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    dataset_path = tmp_path / "eval.jsonl"
    dataset_path.write_text("\n".join(json.dumps(r) for r in DATASET) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    options = EvalOptions(progress=False, resamples=300, conditions="grounded,ungrounded")
    evaluate(dataset_path, out, options, assistants={"": FakeAssistant()}, warn=lambda _: None)
    browser.get((out / "report.html").as_uri())

    result = browser.find_element(By.CSS_SELECTOR, ".result .lead")
    first_chart = browser.find_element(By.TAG_NAME, "svg")
    assert result.text.startswith("Retrieval helped:")
    assert result.location["y"] < first_chart.location["y"] < 900  # above the fold, first

    count = browser.find_element(By.ID, "q-count")
    assert count.text == "4 of 4 shown"
    browser.find_element(By.ID, "q-split").click()  # grounded right, ungrounded wrong: q1-q3
    assert count.text == "3 of 4 shown"
    browser.find_element(By.ID, "q-filter").send_keys("laptop")
    rows = browser.find_elements(By.CSS_SELECTOR, "#per-question tr[data-split]")
    shown = [r for r in rows if r.is_displayed()]
    assert len(shown) == int(count.text.split()[0]) and all(
        "laptop" in r.text.lower() for r in shown
    )
    browser.save_screenshot(str(tmp_path / "report.png"))
    assert (tmp_path / "report.png").stat().st_size > 10_000
