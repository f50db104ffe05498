"""The HTML report in a real browser: Debian's headless Chromium driven by Selenium, offline.

One demo run and one zoo BERT convert per module, one browser for all tests. What the page shows is
checked against report.json (the findings, the decisions, the flow) and, for the "after" picture,
against the narrowed model.onnx that was written — never against numbers copied into the test.
`make test` installs chromium, chromium-driver and graphviz when missing (Makefile, `system-tools`);
without chromium these tests skip, saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_cli

DEMOS = ("bn_cnn", "token_model", "float64_buffer", "hash_model")
REPORTS = (*DEMOS, "bert")
_WIDE = {"int64", "float64"}


@pytest.fixture(scope="module")
def browser() -> Any:
    chromium, driver_path = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver_path:
        pytest.skip("Debian's chromium and chromium-driver are not installed: `make test` installs them "
                    "(apt-get install chromium chromium-driver)")
    if not shutil.which("dot"):  # the product needs it to draw; a report without the picture is not a pass
        pytest.fail("Graphviz's dot is not installed: `make test` installs it (apt-get install graphviz)")
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


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: ``TRTREADY_SCREENSHOTS`` when set, else a temporary folder."""
    folder = Path(os.environ["TRTREADY_SCREENSHOTS"]) if os.environ.get("TRTREADY_SCREENSHOTS") \
        else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _folder(request: pytest.FixtureRequest, name: str) -> Path:
    if name == "bert":
        return Path(request.getfixturevalue("bert_out"))
    return Path(request.getfixturevalue("demo_out")) / name


def _open(drv: Any, page: Path) -> dict[str, Any]:
    """Load ``page``; assert no console error and no fetched resource; the report data it embeds."""
    drv.get_log("browser")  # drop what earlier pages logged
    drv.get(page.as_uri())
    errors = [e for e in drv.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    # offline: the page asks for nothing (no script, style, font or image from a file or a host)
    assert drv.execute_script("return performance.getEntriesByType('resource').length") == 0
    # parsed here, not by the page: JSON numbers past 2^53 (int64 intervals) lose digits in JavaScript
    return json.loads(drv.execute_script("return document.getElementById('trtready-report').textContent"))


def _visible_rows(drv: Any) -> list[str]:
    return drv.execute_script(
        "return Array.from(document.querySelectorAll('#findings-table tbody tr')).filter(r => !r.hidden)"
        ".map(r => r.cells[0].textContent)")


def _classes(drv: Any, view: str) -> dict[str, set[str]]:
    """SVG id → its classes, for every node and edge group of one view's picture."""
    got = drv.execute_script(
        "return Array.from(document.querySelectorAll('#flow-' + arguments[0] + ' g.node, #flow-' + arguments[0]"
        " + ' g.edge')).map(g => [g.id, g.getAttribute('class')])", view)
    return {i: set(c.split()) for i, c in got}


def _node_ids(flow: dict[str, Any], classes: dict[str, set[str]], view: str, mark: str) -> set[str]:
    """The flow's node ids whose drawing in ``view`` carries ``mark``."""
    return {n["id"] for i, n in enumerate(flow["nodes"]) if mark in classes[f"{view}_n{i}"]}


def _model_dtypes(path: Path) -> tuple[dict[str, str], set[str], dict[str, str]]:
    """The written ONNX model: value name → numpy dtype name, node names, inserted Cast → what it reads."""
    import onnx_ir as ir

    g = ir.load(path).graph
    values = list(g.inputs) + list(g.initializers.values()) + [o for n in g for o in n.outputs]
    dtypes = {v.name: v.dtype.numpy().name for v in values if v.name and v.dtype is not None}
    casts = {n.name: n.inputs[0].name for n in g if n.op_type == "Cast" and n.name and n.name.startswith("trtready_cast_")
             and n.inputs[0] is not None and n.inputs[0].name}
    return dtypes, {n.name for n in g if n.name}, casts


@pytest.mark.parametrize("name", REPORTS)
def test_report_loads_offline_with_every_finding(browser: Any, request: pytest.FixtureRequest, shots: Path,
                                                 name: str) -> None:
    folder = _folder(request, name)
    data = _open(browser, folder / "report.html")
    assert browser.save_screenshot(str(shots / f"{name}.png"))
    on_disk = json.loads((folder / "report.json").read_text())
    assert data == on_disk  # one source of truth: the page embeds exactly report.json's data
    assert browser.find_element("css selector", ".verdict").text == on_disk["verdict"]["line"]
    target = on_disk["target"]["name"]
    decided = {d["finding"]: d["action"] for d in on_disk["decisions"]}
    cells = browser.execute_script(
        "return Array.from(document.querySelectorAll('#findings-table tbody tr'))"
        ".map(r => [r.cells[0].textContent, r.cells[3].textContent, r.cells[6].textContent, r.cells[7].textContent])")
    assert cells == [[f["id"], f["dtype"], f["predictions"][target]["outcome"], decided.get(f["id"], "")]
                     for f in on_disk["findings"]]
    assert browser.find_element("id", "shown").text == str(len(on_disk["findings"]))


@pytest.mark.parametrize("name", REPORTS)
def test_filters_show_exactly_the_matching_findings(browser: Any, request: pytest.FixtureRequest, name: str) -> None:
    from selenium.webdriver.support.ui import Select

    data = _open(browser, _folder(request, name) / "report.html")
    target = data["target"]["name"]
    value = {"outcome": lambda f: f["predictions"][target]["outcome"], "layer": lambda f: f["layer"],
             "dtype": lambda f: f["dtype"]}
    for key, of in value.items():
        select = Select(browser.find_element("id", f"filter-{key}"))
        options = [o.get_attribute("value") or o.text for o in select.options][1:]  # the first is "all"
        assert sorted(options) == sorted({of(f) for f in data["findings"]})
        for option in options:
            select.select_by_visible_text(option)
            want = [f["id"] for f in data["findings"] if of(f) == option]
            assert _visible_rows(browser) == want
            assert browser.find_element("id", "shown").text == str(len(want))
        select.select_by_value("")
        assert _visible_rows(browser) == [f["id"] for f in data["findings"]]


@pytest.mark.parametrize("name", REPORTS)
def test_before_picture_marks_what_the_report_says(browser: Any, request: pytest.FixtureRequest, name: str) -> None:
    """Every edge of ``flow`` drawn in its dtype, spec-pinned slots and removed/refused values marked;
    the int64 sources and unproved indices marked on their nodes."""
    data = _open(browser, _folder(request, name) / "report.html")
    flow = data["flow"]
    assert flow["edges"], "every demo and BERT has 64-bit values in its graph"
    classes = _classes(browser, "before")
    decided = {d["finding"]: d["action"] for d in data["decisions"]}
    outcome = {f["id"]: f["predictions"][data["target"]["name"]]["outcome"] for f in data["findings"]}
    for j, e in enumerate(flow["edges"]):
        c = classes[f"before_e{j}"]
        assert ("m-clamp" in c) == (outcome.get(e["finding"] or "") == "clamp"), e
        assert f"dt-{e['dtype']}" in c, e
        assert ("m-spec" in c) == e["spec_int64"], e
        assert ("m-removed" in c) == (decided.get(e["finding"] or "") == "remove"), e
        assert ("m-refused" in c) == (decided.get(e["finding"] or "") == "refuse"), e
    # a source: a 64-bit value leaves it and none enters it
    wide_in = {e["dst"] for e in flow["edges"] if e["dtype"] in _WIDE}
    sources = {e["src"] for e in flow["edges"] if e["dtype"] in _WIDE} - wide_in
    assert sources and _node_ids(flow, classes, "before", "m-source") == sources
    unproved = {f["index"]["node"] for f in data["findings"] if f.get("index") and f["layer"] == flow["layer"]}
    assert _node_ids(flow, classes, "before", "m-index_unproved") == unproved
    assert not any("m-cast" in c for c in classes.values())  # nothing is inserted before narrowing


@pytest.mark.parametrize("name", REPORTS)
def test_after_picture_is_the_written_model(browser: Any, request: pytest.FixtureRequest, shots: Path,
                                            name: str) -> None:
    """The "after" view, drawn from the decisions, against the narrowed model.onnx fix wrote: each drawn
    value in the dtype it has there, each inserted Cast where the file has one, each node drawn as
    removed gone from it and each node drawn plainly still in it."""
    folder = _folder(request, name)
    data = _open(browser, folder / "report.html")
    flow = data["flow"]
    dtypes, node_names, casts = _model_dtypes(folder / "model.onnx")
    assert not browser.find_element("id", "flow-after").is_displayed()
    browser.find_element("css selector", "input[name=view][value=after]").click()
    assert browser.find_element("id", "flow-after").is_displayed()
    assert not browser.find_element("id", "flow-before").is_displayed()
    browser.execute_script("document.getElementById('flow').scrollIntoView()")
    assert browser.save_screenshot(str(shots / f"{name}-after.png"))  # README's picture is bert-after.png
    classes = _classes(browser, "after")
    compared = 0
    for j, e in enumerate(flow["edges"]):
        c = classes[f"after_e{j}"]
        if e["tensor"] in dtypes and "m-cast" not in c:
            assert f"dt-{dtypes[e['tensor']]}" in c, e
            assert "m-removed" not in c or e["dst"] not in node_names, e
            compared += 1
    assert compared >= len(flow["edges"]) // 2  # most of the picture is checked value by value
    drawn_casts = {e["tensor"] for j, e in enumerate(flow["edges"]) if "m-cast" in classes[f"after_e{j}"]}
    flow_tensors = {e["tensor"] for e in flow["edges"]}
    assert drawn_casts == {v for v in casts.values() if v in flow_tensors}
    assert sum("m-cast" in c and i.startswith("after_c") for i, c in classes.items()) == len(drawn_casts)
    ops = [n for n in flow["nodes"] if n["kind"] == "op"]
    removed = _node_ids(flow, classes, "after", "m-removed")
    rewritten = _node_ids(flow, classes, "after", "m-rewritten")
    assert not removed & node_names
    assert {n["id"] for n in ops if n["id"] not in removed | rewritten} <= node_names
    browser.find_element("css selector", "input[name=view][value=before]").click()
    assert browser.find_element("id", "flow-before").is_displayed()
    assert not browser.find_element("id", "flow-after").is_displayed()


def test_bert_after_view_shows_the_cast_and_the_removed_index_grid(browser: Any, bert_out: Path) -> None:
    """BERT is where the marks meet: narrowed shape math reading a kept Shape value through an inserted
    Cast, and the GatherND index grid a rewrite removed."""
    data = _open(browser, bert_out / "report.html")
    dtypes, node_names, casts = _model_dtypes(bert_out / "model.onnx")
    assert casts, "BERT's narrowing inserts a Cast"
    classes = _classes(browser, "after")
    flow = data["flow"]
    narrowed = {d["finding"] for d in data["decisions"] if d["action"] == "narrow"}
    assert {e["tensor"] for j, e in enumerate(flow["edges"]) if "m-narrowed" in classes[f"after_e{j}"]
            and e["finding"] in narrowed} == {e["tensor"] for e in flow["edges"] if e["finding"] in narrowed}
    gone = _node_ids(flow, classes, "after", "m-removed")
    assert gone and not gone & node_names
    # the decisions the ONNX picture cannot show: on the state and the PyTorch graph, before the translation
    outside = sum(1 for d in data["decisions"] if d["finding"].split(":")[0] in ("state", "fx"))
    assert outside and browser.find_element("id", "flow-elsewhere").get_attribute("textContent").startswith(f"{outside} ")


def test_bert_report_sorts_and_links(browser: Any, bert_out: Path) -> None:
    data = _open(browser, bert_out / "report.html")
    findings = data["findings"]
    browser.find_element("id", "filter-text").send_keys("arange")
    assert _visible_rows(browser) and all("arange" in browser.find_element("id", f"f-{i}").text
                                          for i in _visible_rows(browser))
    browser.find_element("id", "filter-text").clear()
    browser.execute_script("document.getElementById('filter-text').dispatchEvent(new Event('input'))")
    browser.find_element("css selector", "th[data-col='0']").click()
    assert _visible_rows(browser) == sorted((f["id"] for f in findings), key=_natural)
    browser.find_element("css selector", "th[data-col='0']").click()
    assert _visible_rows(browser) == sorted((f["id"] for f in findings), key=_natural, reverse=True)
    # a row's provenance link highlights its node in the picture
    link = browser.find_element("css selector", "#f-onnx\\:input_ids a.goto")
    link.click()
    flow = data["flow"]
    assert _node_ids(flow, _classes(browser, "before"), "before", "hl") == {"input:input_ids"}


def _natural(s: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", s)]


def test_audit_html_of_an_onnx_file_marks_clamps_and_the_unproved_index(browser: Any, demo_out: Path,
                                                                        tmp_path: Path, shots: Path) -> None:
    """Through the CLI with a model file, so in the jailed child: Graphviz's dot runs there too. On trt8
    the hash model's values past int32 would be clamped: the picture marks where."""
    page = tmp_path / "audit.html"
    r = run_cli("audit", str(demo_out / "hash_model" / "model.onnx"), "--target", "trt8", "--html", str(page), "--quiet")
    assert r.code == 1, r.stderr  # not ready for trt8
    data = _open(browser, page)
    assert browser.save_screenshot(str(shots / "hash_model-trt8.png"))
    assert "jail" in data["environment"]["isolation"]
    assert browser.find_elements("id", "flow-audit") and not browser.find_elements("id", "flow-after")  # no decisions
    flow, classes = data["flow"], _classes(browser, "before")
    unproved = {f["index"]["node"] for f in data["findings"] if f["kind"] == "index_unproved"}
    assert len(unproved) == 1
    assert _node_ids(flow, classes, "before", "m-index_unproved") == unproved
    clamped = {f["id"] for f in data["findings"] if f["predictions"]["trt8"]["outcome"] == "clamp"}
    assert clamped and _node_ids(flow, classes, "before", "m-clamp") == {
        e["src"] for e in flow["edges"] if e["finding"] in clamped}
    assert browser.find_element("id", "flow-before").text.count("(clamped on trt8)") == len(
        _node_ids(flow, classes, "before", "m-clamp"))
