"""Listening analytics for friend groups, straight from the warehouse, computed in DuckDB SQL."""
