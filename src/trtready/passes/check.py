"""FullCheckPass: the ONNX checker with full type and shape checking, as the last step of a pipeline.

A narrowed model that the checker rejects is trtready's bug, never the input's: it stops the run
with :class:`~trtready.errors.NarrowingError` and nothing is written. The check runs on a probe in
which external initializers are typed graph inputs, so it never looks for data files relative to
the working folder (onnx-ir's CheckerPass would).
"""

from __future__ import annotations

import onnx_ir as ir

from trtready.errors import NarrowingError
from trtready.load.onnx_file import full_check_failure


class FullCheckPass(ir.passes.InPlacePass):
    """Checks, changes nothing (``modified`` is always False)."""

    def call(self, model: ir.Model) -> ir.passes.PassResult:
        failure = full_check_failure(ir.serde.serialize_model(model))
        if failure is not None:
            raise NarrowingError(f"the narrowed model fails the ONNX checker ({failure}); nothing written")
        return ir.passes.PassResult(model, False)
