"""The `latentreel` command line: thin commands over library functions."""

from latentreel.cli.app import app, main

__all__ = ["app", "main"]
