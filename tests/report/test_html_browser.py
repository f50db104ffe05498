"""The HTML report in a real browser: Debian's headless Chromium driven by Selenium, offline.

One demo run and one zoo BERT convert per module, one browser for all tests. `make test` installs
chromium, chromium-driver and graphviz when missing (Makefile, `system-tools`); without them these tests
fail with that instruction rather than skip, so a green run always means the page was really rendered.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_cli

DEMOS = ("bn_cnn", "token_model", "float64_buffer", "hash_model")


@pytest.fixture(scope="module")
def browser() -> Any:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path or not shutil.which("dot"):
        pytest.fail("the HTML report tests need Debian's chromium, chromium-driver and graphviz: `make test` "
                    "installs them (apt-get install -y chromium chromium-driver graphviz)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium  # Debian's build: never one Selenium Manager would download
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1800"):
        opts.add_argument(arg)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    drv = webdriver.Chrome(service=Service(executable_path=driver_path), options=opts)
    yield drv
    drv.quit()


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "demo-out"
    r = run_cli("demo", "-o", str(out))
    assert r.code == 0, r.stderr
    return out


@pytest.fixture(scope="module")
def bert_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("html") / "bert"
    r = run_cli("convert", "tests.zoo.models:bert", "-o", str(out), "--baseline", "--quiet", cwd=ROOT,
                env={"PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(ROOT)])})
    assert r.code == 0, r.stderr
    return out


def _open(drv: Any, page: Path, shot: str | None = None) -> dict[str, Any]:
    """Load ``page``; assert no console error and no fetched resource; the report data it embeds."""
    drv.get_log("browser")  # drop what earlier pages logged
    drv.get(page.as_uri())
    errors = [e for e in drv.get_log("browser") if e["level"] == "SEVERE"]
    assert errors == []
    # offline: the page asks for nothing (no script, style, font or image from a file or a host)
    assert drv.execute_script("return performance.getEntriesByType('resource').length") == 0
    if shot:
        folder = Path(os.environ.get("TRTREADY_SCREENSHOTS", page.parent))
        folder.mkdir(parents=True, exist_ok=True)
        assert drv.save_screenshot(str(folder / shot))
    # parsed here, not by the page: JSON numbers past 2^53 (int64 intervals) lose digits in JavaScript
    return json.loads(drv.execute_script("return document.getElementById('trtready-report').textContent"))


def _visible_rows(drv: Any) -> list[str]:
    return drv.execute_script(
        "return Array.from(document.querySelectorAll('#findings-table tbody tr')).filter(r => !r.hidden)"
        ".map(r => r.cells[0].textContent)")


def _titles(drv: Any, view: str, css: str) -> list[str]:
    """The graph node ids (``<title>`` is the dot node's original label text: we read the tooltip) of
    nodes in ``view`` matching ``css``."""
    return drv.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(g => g.querySelector('a')"
        " ? g.querySelector('a').getAttribute('xlink:title') : g.textContent.trim())",
        f"#flow-{view} g.node{css}")


@pytest.mark.parametrize("name", DEMOS)
def test_demo_report_loads_offline_with_every_finding(browser: Any, demo_out: Path, name: str) -> None:
    page = demo_out / name / "report.html"
    data = _open(browser, page, shot=f"{name}.png")
    on_disk = json.loads((demo_out / name / "report.json").read_text())
    assert data == on_disk  # one source of truth: the page embeds exactly report.json's data
    assert _visible_rows(browser) == [f["id"] for f in on_disk["findings"]]
    assert browser.find_element("css selector", ".verdict").text == on_disk["verdict"]["line"]


def test_token_model_marks_its_int64_sources(browser: Any, demo_out: Path) -> None:
    _open(browser, demo_out / "token_model" / "report.html")
    sources = _titles(browser, "before", ".m-source")
    # where int64 enters the translated graph: the input, arange's three constants, ArgMax's indices
    assert sorted(t.split(" ")[0] for t in sources) == [
        "initializer:val_2", "initializer:val_4", "initializer:val_5", "input:input_ids", "node_argmax"]
    assert len(_titles(browser, "before", ".dt-int64")) == len(_titles(browser, "after", ".dt-int64"))  # all kept


def test_float64_buffer_after_view_shows_the_narrowing(browser: Any, demo_out: Path) -> None:
    data = _open(browser, demo_out / "float64_buffer" / "report.html")
    narrowed = {d["finding"] for d in data["decisions"] if d["action"] == "narrow"}
    drawn = {e["src"] for e in data["flow"]["edges"] if e["finding"] in narrowed}
    assert drawn, "the narrowed float64 values are in the picture"
    before = _titles(browser, "before", ".dt-float64")
    after_narrowed = _titles(browser, "after", ".m-narrowed")
    assert {t.split(" ")[0] for t in after_narrowed} == drawn
    assert all(" (float32)" in t for t in after_narrowed) and len(before) >= len(drawn)
    # the toggle: after is hidden until chosen, then before is
    assert not browser.find_element("id", "flow-after").is_displayed()
    browser.find_element("css selector", "input[name=view][value=after]").click()
    assert browser.find_element("id", "flow-after").is_displayed()
    assert not browser.find_element("id", "flow-before").is_displayed()


def test_bn_cnn_marks_the_spec_pinned_axes(browser: Any, demo_out: Path) -> None:
    """BatchNorm's int64 counters are narrowed in the state; what int64 is left in the graph is a
    ReduceMean's axes, which the ONNX spec pins to int64."""
    data = _open(browser, demo_out / "bn_cnn" / "report.html")
    pinned = [e["src"] for e in data["flow"]["edges"] if e["spec_int64"]]
    assert len(pinned) == 1
    assert [t.split(" ")[0] for t in _titles(browser, "before", ".m-spec")] == pinned
    assert "[spec int64]" in browser.find_element("id", "flow-before").text


def test_bert_report_filters_sorts_and_links(browser: Any, bert_out: Path) -> None:
    from selenium.webdriver.support.ui import Select

    data = _open(browser, bert_out / "report.html", shot="bert.png")
    findings = data["findings"]
    assert len(_visible_rows(browser)) == len(findings)
    Select(browser.find_element("id", "filter-layer")).select_by_visible_text("state")
    assert _visible_rows(browser) == [f["id"] for f in findings if f["layer"] == "state"]
    assert browser.find_element("id", "shown").text == str(len(_visible_rows(browser)))
    Select(browser.find_element("id", "filter-layer")).select_by_value("")
    browser.find_element("id", "filter-text").send_keys("arange")
    assert _visible_rows(browser) and all("arange" in browser.find_element("id", f"f-{i}").text
                                          for i in _visible_rows(browser))
    browser.find_element("id", "filter-text").clear()
    browser.execute_script("document.getElementById('filter-text').dispatchEvent(new Event('input'))")
    browser.find_element("css selector", "th[data-col='0']").click()
    assert _visible_rows(browser) == sorted((f["id"] for f in findings), key=_natural)
    # the decisions BERT's translation gets: one value removed by a rewrite, drawn as such
    removed = {d["finding"] for d in data["decisions"] if d["action"] == "remove"}
    marked = {t.split(" ")[0] for t in _titles(browser, "before", ".m-removed")}
    assert marked == {e["src"] for e in data["flow"]["edges"] if e["finding"] in removed}
    assert removed and marked
    # a row's provenance link highlights its node in the picture
    link = browser.find_element("css selector", "#f-onnx\\:input_ids a.goto")
    link.click()
    assert [t.split(" ")[0] for t in _titles(browser, "before", ".hl")] == ["input:input_ids"]


def _natural(s: str) -> list[Any]:
    import re

    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s)]


def test_audit_html_of_an_onnx_file_marks_the_unproved_index(browser: Any, demo_out: Path, tmp_path: Path) -> None:
    """Through the CLI with a model file, so in the jailed child: Graphviz's dot runs there too."""
    page = tmp_path / "audit.html"
    r = run_cli("audit", str(demo_out / "hash_model" / "model.onnx"), "--html", str(page), "--quiet")
    assert r.code == 0, r.stderr
    data = _open(browser, page)
    assert "jail" in data["environment"]["isolation"]
    unproved = [f["index"]["node"] for f in data["findings"] if f["kind"] == "index_unproved"]
    assert len(unproved) == 1
    assert [t.split(" ")[0] for t in _titles(browser, "before", ".m-index_unproved")] == unproved
