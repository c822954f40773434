"""Engines run contracts over inputs: `local` (DuckDB, one machine); Beam comes later."""
