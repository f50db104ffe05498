"""Verification: run reference and candidate on the same generated inputs and compare.

Integers and bools compare exactly; floats with stated tolerances (docs/design.md).
"""
