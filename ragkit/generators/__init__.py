"""Generators: turn a question and its retrieved passages into a cited `Answer`.

A generator only sees the question and the hits the retriever chose; it never searches.
`extractive` (the offline default) quotes the passages' best sentences verbatim and needs no
generator weights. Every backend returns citations whose `quote` is a verbatim span of the
cited chunk's text, sets `Answer.passages` to the hits it was given, and abstains with
`ragkit.types.REFUSAL` when the passages do not support an answer.
"""

from __future__ import annotations

from ragkit.protocols import Generator

__all__ = ["Generator"]
