"""The `trackline` command line: thin wrappers that parse and call the library."""
