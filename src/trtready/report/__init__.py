"""Reports: JSON (versioned, with a schema) and the terminal view. Reads results, decides nothing."""
