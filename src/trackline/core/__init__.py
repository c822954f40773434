"""Low-level helpers the rest builds on: DuckDB plumbing, hashing, prefetching, HTTP, logging
context and progress. Nothing here knows about contracts, datasets or engines."""
