"""The HTML report without a browser: the page carries report.json's data intact, and stands without `dot`."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest

import trtready
from trtready.report.html import render_html
from trtready.report.json_report import audit_report_json, schema


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return audit_report_json(trtready.audit("trtready.demo:token_model"))


def _embedded(page: str) -> Any:
    m = re.search(r'<script type="application/json" id="trtready-report">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


def test_data_that_looks_like_markup_stays_data(data: dict[str, Any]) -> None:
    """A module path or tensor name is the user's text: it cannot end the data block or add a script."""
    evil = copy.deepcopy(data)
    evil["findings"][0]["where"] = "</script><script>alert(1)</script>"
    evil["model"]["source"] = "<img src=x onerror=alert(1)>"
    page = render_html(evil)
    assert _embedded(page) == evil
    assert page.count("<script") == 2  # the data block and the page's own script, nothing injected
    assert "<img" not in page


def test_without_dot_the_report_stands_and_says_why(data: dict[str, Any], tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no `dot` to run
    page = render_html(data)
    assert 'id="flow-missing"' in page and "Graphviz&#x27;s dot is not installed" in page
    assert "<svg" not in page
    assert _embedded(page) == data
    assert all(f'id="f-{f["id"]}"' in page for f in data["findings"])


def test_flow_is_in_the_schema_and_a_malformed_one_is_rejected(data: dict[str, Any]) -> None:
    v = jsonschema.Draft202012Validator(schema())
    v.validate(data)
    assert data["flow"]["layer"] == "fx" and data["flow"]["edges"]  # a spec audit: the torch.export graph
    bad = copy.deepcopy(data)
    bad["flow"]["edges"][0]["slot"] = -1
    assert not v.is_valid(bad)
    bad = copy.deepcopy(data)
    bad["flow"]["nodes"][0]["kind"] = "weight"
    assert not v.is_valid(bad)
