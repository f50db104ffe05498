"""The package version, a leaf: the manifest, the JSON report and the CLI read it without importing the
public verbs above them (``trtready/__init__.py`` re-exports it)."""

__version__ = "0.1.0"
