"""Optional adapters to other compilers (imported only when asked for)."""
