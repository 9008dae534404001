"""The project's error hierarchy.

Library code raises these; only the CLI (and the HTTP server) turns them into exit codes or
status codes. Every message names the offending value and says what to do next, in one line.
"""

from __future__ import annotations


class RagkitError(Exception):
    """Base class: a problem the user can fix, reported as one clear line."""

    exit_code = 1


class UsageError(RagkitError):
    """A bad argument or option value."""

    exit_code = 2


class ConfigError(RagkitError):
    """A setting, model name or file that cannot be used."""

    exit_code = 2


class LoadError(RagkitError):
    """A single input file that cannot be read; ingestion records it and goes on."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class NothingToIndex(LoadError):
    """A file that holds nothing to index by design (a redirect stub, a page of front matter
    only): ingestion records it as skipped, with the reason, not as a failure."""


class IndexStoreError(RagkitError):
    """A missing, corrupt or incompatible index directory."""


class MissingDependencyError(RagkitError):
    """An optional package that a chosen feature needs is not installed."""

    def __init__(self, package: str, feature: str) -> None:
        super().__init__(f"{feature} needs the '{package}' package: pip install {package}")
        self.package = package
