"""Where configs, offsets and statuses are kept: files and memory in standalone mode."""
