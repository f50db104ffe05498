"""The ``trtready`` command line: one module per verb, shared option groups in ``options``."""
