"""The web page at `/`: served locally (no CDN), and used for real in headless Chromium.

The browser test needs the Debian packages `chromium` and `chromium-driver`
(`apt-get install -y chromium chromium-driver`) and the `selenium` package; it is skipped,
saying so, when /usr/bin/chromium is absent. Selenium is pointed at /usr/bin/chromedriver, so
it never tries to download a browser.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ingest.pipeline import IngestOptions, ingest
from ragkit.assistant import Assistant
from ragkit.serve import create_app, running_server

KEY = "web-test-key-4f3e2d1c0b9a"
KEYS = {KEY: frozenset()}
ASSETS = ("index.html", "app.js", "style.css")
PDFJS = ("vendor/pdfjs/pdf.min.mjs", "vendor/pdfjs/pdf.worker.min.mjs", "vendor/pdfjs/LICENSE")


def write_expenses_pdf(path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    pdf = canvas.Canvas(str(path), pagesize=A4)
    for lines in (
        ["Expenses policy", "Claims must be submitted within 30 days of spending."],
        ["Taxis", "Taxi fares are refunded only for journeys after 22:00, with a receipt."],
    ):
        for offset, line in enumerate(lines):
            pdf.drawString(72, 780 - 24 * offset, line)
        pdf.showPage()
    pdf.save()


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web")
    corpus = root / "corpus"
    (corpus / "money").mkdir(parents=True)
    write_expenses_pdf(corpus / "money" / "expenses.pdf")
    (corpus / "it").mkdir()
    # Markup inside a document is text: the page must show it, never run it.
    (corpus / "it" / "browsers.txt").write_text(
        "BROWSERS\n\nThe supported browser is Firefox "
        "<img src=\"x\" onerror=\"document.title='pwned'\"><script>document.title='pwned'</script>"
        " on every company laptop.\n",
        encoding="utf-8",
    )
    report = ingest([corpus], root / "index", IngestOptions(model="hash:256", progress=False))
    assert report.ok, report.to_json()
    return root / "index"


@pytest.fixture(scope="module")
def app(index_dir: Path):
    return create_app(Assistant.from_index(index_dir), index_dir, keys=KEYS)


# --- the page and its assets ----------------------------------------------------------------


def test_assets_ship_in_the_package() -> None:
    web = resources.files("ragkit.serve").joinpath("web")
    for name in (*ASSETS, *PDFJS):
        assert web.joinpath(name).is_file(), name


def test_page_and_assets_are_served_locally(app) -> None:
    client = TestClient(app)
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in page.headers["content-security-policy"]
    for asset, kind in (("app.js", "javascript"), ("style.css", "text/css")):
        response = client.get(f"/static/{asset}")
        assert response.status_code == 200 and kind in response.headers["content-type"]
    # Every asset is relative to the page: nothing comes from another host.
    references = re.findall(r'(?:src|href)="([^"]*)"', page.text)
    assert references and all(r.startswith("static/") or r == "data:," for r in references)
    web = resources.files("ragkit.serve").joinpath("web")
    for name in ASSETS:
        text = web.joinpath(name).read_text(encoding="utf-8")
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}/", text, re.I), name
        assert "@import" not in text and "innerHTML" not in text, name


# --- the page in headless Chromium ----------------------------------------------------------


def test_ask_in_the_browser_and_open_a_citation(app, browser, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    with running_server(app) as url:
        browser.get(url + "/")
        # The server needs a key: the page asks for it.
        key_input = wait.until(ec.visibility_of_element_located((By.ID, "api-key")))
        key_input.send_keys(KEY)
        browser.find_element(By.ID, "save-key").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "key-state"), "key set"))
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#sources summary"), "(2)"))

        browser.find_element(By.ID, "question").send_keys("Are taxi fares refunded?")
        browser.find_element(By.ID, "ask").click()
        citation = wait.until(
            ec.element_to_be_clickable((By.CSS_SELECTOR, "#citations button.citation"))
        )
        answer = browser.find_element(By.ID, "answer").text
        assert "Taxi fares are refunded only for journeys after 22:00" in answer
        # the documents' own words are shown as a quote, not as the assistant speaking
        assert "quoted" in browser.find_element(By.ID, "answer").get_attribute("class")
        assert "money/expenses.pdf" in citation.text and "p. 2" in citation.text

        citation.click()
        wait.until(ec.visibility_of_element_located((By.ID, "quote-panel")))
        assert "22:00, with a receipt" in browser.find_element(By.ID, "quote-text").text
        assert browser.find_element(By.ID, "quote-source").text == "money/expenses.pdf"
        assert browser.find_element(By.ID, "quote-page").text == "2"

        # The cited PDF opens beside the answer, at the cited page, the quote highlighted.
        view = wait.until(ec.visibility_of_element_located((By.ID, "doc-view")))
        wait.until(lambda _: view.get_attribute("data-state") in ("ready", "error"))
        assert view.get_attribute("data-state") == "ready", browser.find_element(
            By.ID, "doc-note"
        ).text
        assert "page 2" in browser.find_element(By.ID, "doc-where").text
        canvas = view.find_element(By.CSS_SELECTOR, ".pdf-page canvas")
        assert canvas.size["width"] > 300
        marked = view.find_elements(By.CSS_SELECTOR, ".textLayer span.highlight")
        marked_text = " ".join(span.get_attribute("textContent") for span in marked)
        assert "journeys after 22:00, with a receipt" in marked_text
        assert "Claims must be submitted" not in marked_text  # page 1's text is not shown
        # the highlight sits on the printed words: inside the page, over the canvas
        box = marked[0].rect
        assert (
            box["width"] > 0
            and canvas.rect["y"] <= box["y"] <= canvas.rect["y"] + canvas.rect["height"]
        )
        browser.save_screenshot(str(tmp_path / "answer.png"))
        assert (tmp_path / "answer.png").stat().st_size > 10_000

        # A passage carrying markup is shown as text and never runs.
        question = browser.find_element(By.ID, "question")
        question.clear()
        question.send_keys("Which browser is supported on company laptops?")
        browser.find_element(By.ID, "ask").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "answer"), "supported browser"))
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#citations button.citation")))
        assert "<script>" in browser.find_element(By.ID, "answer").text
        assert not browser.find_elements(By.CSS_SELECTOR, "#answer img, #answer script")
        # A text document opens as text with the quote marked; its markup stays text.
        browser.find_element(By.CSS_SELECTOR, "#citations button.citation").click()
        view = browser.find_element(By.ID, "doc-view")
        wait.until(ec.text_to_be_present_in_element((By.ID, "doc-title"), "it/browsers.txt"))
        wait.until(lambda _: view.get_attribute("data-state") == "ready")
        mark = view.find_element(By.ID, "doc-highlight")
        assert "supported browser is Firefox" in mark.text
        assert not browser.find_elements(By.CSS_SELECTOR, "#doc-view img, #doc-view script")
        assert browser.title != "pwned"
        assert browser.execute_script("return document.title") != "pwned"


def test_browser_without_a_key_is_told_what_to_do(app, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    wait = WebDriverWait(browser, 20)
    with running_server(app) as url:
        browser.get(url + "/")
        browser.execute_script("sessionStorage.clear()")
        browser.refresh()
        wait.until(ec.element_to_be_clickable((By.ID, "question"))).send_keys("taxi?")
        browser.find_element(By.ID, "ask").click()
        wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "paste your key above"))
        assert browser.find_element(By.ID, "key-box").is_displayed()


def test_without_auth_the_page_shows_no_key_box(index_dir: Path, browser) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    open_app = create_app(Assistant.from_index(index_dir), index_dir, no_auth=True)
    wait = WebDriverWait(browser, 20)
    with running_server(open_app) as url:
        browser.get(url + "/")
        wait.until(ec.text_to_be_present_in_element((By.CSS_SELECTOR, "#sources summary"), "(2)"))
        assert not browser.find_element(By.ID, "key-box").is_displayed()


def test_a_conversation_on_the_page(browser, tmp_path_factory: pytest.TempPathFactory) -> None:
    """A follow-up is answered as its standalone form; the turns show; a new one forgets."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    docs = Path(__file__).parent / "fixtures" / "chat-follow-up" / "docs"
    root = tmp_path_factory.mktemp("web-conversation")
    report = ingest([docs], root / "index", IngestOptions(model="hash:256", progress=False))
    assert report.ok
    talk = create_app(Assistant.from_index(root / "index"), root / "index", no_auth=True)
    wait = WebDriverWait(browser, 30)

    def ask(question: str) -> str:
        box = browser.find_element(By.ID, "question")
        box.clear()
        box.send_keys(question)
        browser.find_element(By.ID, "ask").click()
        wait.until(lambda _: browser.find_element(By.ID, "ask").is_enabled())
        wait.until(ec.element_to_be_clickable((By.CSS_SELECTOR, "#citations button.citation")))
        return browser.find_element(By.ID, "answer").text

    with running_server(talk) as url:
        browser.get(url + "/")
        germany = ask("How many days of annual leave do employees in the Germany office get?")
        assert "30" in germany
        uk = ask("And in the United Kingdom office?")
        assert "25" in uk and "United Kingdom" in uk
        searched = browser.find_element(By.ID, "searched-as").text
        assert searched == (
            "Searched as: How many days of annual leave do employees in the United Kingdom "
            "office get?"
        )
        turns = browser.find_elements(By.CSS_SELECTOR, "#turns li")
        assert len(turns) == 1 and "Germany office" in turns[0].text

        browser.find_element(By.ID, "new-conversation").click()
        assert not browser.find_elements(By.CSS_SELECTOR, "#turns li")
        box = browser.find_element(By.ID, "question")
        box.send_keys("And in the United Kingdom office?")
        browser.find_element(By.ID, "ask").click()
        wait.until(lambda _: browser.find_element(By.ID, "ask").is_enabled())
        assert not browser.find_element(By.ID, "searched-as").is_displayed()  # asked as is
