"""`ragkit remove SOURCE... --index DIR`: the command table entry (lives in `ingest.cli`)."""

from ingest.cli import add_remove_parser as add_parser

__all__ = ["add_parser"]
