"""Narrowing: apply a plan to an ONNX model (passes) or to a module's state."""
