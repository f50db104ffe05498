"""Export: the single ONNX translation of an ExportedProgram, names and dynamic bounds."""
