"""Where checked rows go, each behind the one `Sink` protocol (`base`): rejected rows to their
Parquet file, kept rows to the curated lake, valid rows to the warehouse table, and rows set
aside as possible repeats until the run settles them."""
