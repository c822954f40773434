"""Contracts as data: YAML definitions, their loader and the validation kernel."""
