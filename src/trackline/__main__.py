"""`python -m trackline` runs the CLI."""

from trackline.cli.main import run

run()
