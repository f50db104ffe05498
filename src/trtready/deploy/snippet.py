"""A Python snippet that runs the engine with every binding allocated as the manifest says.

Client code that binds an INT32 buffer to an INT64 binding, or reads an argmax output as float,
gets garbage without an error. The snippet's tables are written from the manifest — name, dtype,
the profile's opt shape for each input — and its ``allocate`` makes torch tensors of exactly those
types. Running it needs a GPU the engine was built for (and the library it was built with);
constructing and allocating are testable anywhere.
"""

from __future__ import annotations

from trtready.deploy.bindings import Binding, EngineContract
from trtready.errors import BadInputError

SNIPPET_FILE = "run_engine.py"

# TensorRT DataType name → torch dtype attribute (the allocator of the snippet).
TORCH_DTYPE = {
    "FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "INT8": "int8", "INT32": "int32",
    "INT64": "int64", "BOOL": "bool", "UINT8": "uint8",
}

_BODY = '''
import importlib
import sys

import torch


def allocate(shapes, device="cuda"):
    """One tensor per binding of ``shapes`` (name -> shape), of the dtype the engine binds."""
    table = {**INPUTS, **OUTPUTS}
    return {name: torch.empty(tuple(shape), dtype=getattr(torch, table[name][0]), device=device)
            for name, shape in shapes.items()}


def run(plan, feeds=None):
    """Run the engine once; inputs default to zeros of the profile's opt shapes."""
    if LIBRARY not in ("tensorrt", "tensorrt_rtx"):
        raise SystemExit(f"not a TensorRT runtime: {LIBRARY!r}")
    trt = importlib.import_module(LIBRARY)
    logger = trt.Logger(trt.Logger.WARNING)
    with open(plan, "rb") as fh:
        engine = trt.Runtime(logger).deserialize_cuda_engine(fh.read())
    context = engine.create_execution_context()
    shapes = {name: (tuple(feeds[name].shape) if feeds and name in feeds else opt)
              for name, (_, opt) in INPUTS.items()}
    buffers = allocate(shapes)
    for name, tensor in buffers.items():
        if feeds and name in feeds:
            tensor.copy_(feeds[name])
        else:
            tensor.zero_()
        context.set_input_shape(name, tuple(tensor.shape))
    buffers.update(allocate({name: tuple(context.get_tensor_shape(name)) for name in OUTPUTS}))
    for name, tensor in buffers.items():
        context.set_tensor_address(name, tensor.data_ptr())
    stream = torch.cuda.current_stream()
    if not context.execute_async_v3(stream.cuda_stream):
        raise RuntimeError("the engine did not run")
    stream.synchronize()
    return {name: buffers[name] for name in OUTPUTS}


if __name__ == "__main__":
    outputs = run(sys.argv[1] if len(sys.argv) > 1 else PLAN)
    for name, tensor in outputs.items():
        print(name, tensor.dtype, tuple(tensor.shape))
'''


def _torch_dtype(b: Binding) -> str:
    if b.dtype not in TORCH_DTYPE:
        raise BadInputError(f"{b.kind} {b.name}: TensorRT type {b.dtype} has no torch dtype for the snippet")
    return TORCH_DTYPE[b.dtype]


RUNTIMES = ("tensorrt", "tensorrt_rtx")  # the only modules the snippet may import to run the engine


def runtime_snippet(contract: EngineContract, plan: str = "1/model.plan") -> str:
    """The snippet's source: tables of every binding, then the code that allocates and runs them."""
    if contract.library not in RUNTIMES:
        raise BadInputError(f"{contract.manifest}: library {contract.library!r} is not a TensorRT runtime "
                            f"({' or '.join(RUNTIMES)})")
    def opt(b: Binding) -> tuple[int, ...]:
        return b.opt if b.opt is not None else b.shape

    inputs = "".join(f"    {b.name!r}: ({_torch_dtype(b)!r}, {opt(b)!r}),\n" for b in contract.inputs)
    outputs = "".join(f"    {b.name!r}: ({_torch_dtype(b)!r}, {b.shape!r}),\n" for b in contract.outputs)
    # Every string from the manifest enters as a repr() literal, never into the docstring or code: a
    # crafted binding or file name cannot become code in a file the user runs.
    head = (
        '"""Run the engine with every binding as its manifest records it (written by trtready).\n\n'
        "Runs only where LIBRARY at LIBRARY_VERSION and a GPU the engine was built for are present:\n"
        "`python run_engine.py [PLAN]`. Inputs default to zeros of the profile's opt shape; dtypes are the\n"
        "engine's bindings (-1: sized by the engine at run time).\n"
        '"""\n\n'
        f"ENGINE = {contract.engine.name!r}\n"
        f"MANIFEST = {contract.manifest.name!r}\n"
        f"LIBRARY = {contract.library!r}\n"
        f"LIBRARY_VERSION = {contract.library_version!r}\n"
        f"PLAN = {plan!r}\n"
        "# name: (torch dtype, shape the snippet allocates: the profile's opt shape for inputs)\n"
        f"INPUTS = {{\n{inputs}}}\n"
        "# name: (torch dtype, shape with -1 where the engine decides at run time)\n"
        f"OUTPUTS = {{\n{outputs}}}\n"
    )
    return head + _BODY
