"""trtready.lazy: the heavy libraries it declares are imported on first use, not when a module names them."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> list[str]:
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_naming_a_lazy_library_defers_its_import() -> None:
    # A fresh interpreter: the test process itself has numpy and onnx_ir loaded already.
    out = _run("""
        import sys
        from trtready.lazy import ir, loaded, np
        print(loaded('numpy'))
        print('onnx_ir.passes' in sys.modules)
        print(np.int64(3) + 4)
        print(type(sys.modules['numpy']).__name__, sys.modules['numpy'] is np, loaded('numpy'))
        print('onnx_ir.passes' in sys.modules)
    """)
    assert out == ["False", "False", "7", "module", "True", "True", "False"]


def test_an_imported_library_is_returned_as_it_is() -> None:
    out = _run("""
        import numpy
        from trtready.lazy import lazy
        from trtready.lazy import loaded
        print(lazy('numpy') is numpy, type(lazy('numpy')).__name__, loaded('numpy'))
    """)
    assert out == ["True", "module", "True"]


def test_a_missing_library_fails_when_declared() -> None:
    out = _run("""
        from trtready.lazy import lazy
        try:
            lazy('trtready_no_such_library')
        except ModuleNotFoundError as e:
            print(e.name)
    """)
    assert out == ["trtready_no_such_library"]


def test_modules_that_declare_them_import_cheaply() -> None:
    # These modules read numpy and onnx_ir only inside their functions, through trtready.lazy.
    out = _run("""
        import trtready.intervals.onnx, trtready.outputs, trtready.plan.rewrites, trtready.rewrite_matchers
        from trtready.lazy import loaded
        print(loaded('numpy'), loaded('onnx'), loaded('onnx_ir'))
    """)
    assert out == ["False", "False", "False"]
