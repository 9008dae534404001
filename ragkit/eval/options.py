"""What an evaluation run is asked to do: its conditions, settings and options.

A condition names what answers a question: a base (`retrieval`, `grounded`, `ungrounded`,
`oracle`; see `BASES`) and modifiers that change who answers it (`+adapter`). They are parsed
from the CLI's `--compare` string here, apart from the loop that runs them, so a typo such as
`grouned` is refused with the allowed names before any model loads, and so the report can
describe each condition without importing the runner.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ragkit.errors import UsageError

BASES = {
    "retrieval": "retrieval alone, no answer",
    "grounded": "retrieval as the chain does it, then the generator",
    "ungrounded": "the generator with no passages (its own knowledge)",
    "oracle": "the generator given the gold passages (upper bound)",
}
MODIFIERS = {"adapter": "answered by a second assistant whose generator loads --adapter"}


@dataclass(frozen=True)
class Condition:
    base: str
    modifiers: tuple[str, ...] = ()  # sorted

    @property
    def name(self) -> str:
        return "+".join((self.base, *self.modifiers))

    @property
    def variant(self) -> str:
        """Key of the assistant that answers this condition ("" is the plain one)."""
        return "+".join(self.modifiers)


def parse_conditions(spec: str) -> tuple[Condition, ...]:
    """'grounded,grounded+adapter,ungrounded' -> conditions; modifiers compose with any base."""
    conditions: list[Condition] = []
    for name in (part.strip() for part in spec.split(",")):
        if not name:
            continue
        base, *mods = (piece.strip() for piece in name.split("+"))
        if base not in BASES:
            raise UsageError(f"unknown condition '{name}': use {', '.join(BASES)}, e.g. grounded")
        for mod in mods:
            if mod not in MODIFIERS:
                allowed = ", ".join("+" + x for x in MODIFIERS)
                raise UsageError(f"unknown modifier '+{mod}' in '{name}': use {allowed}")
        condition = Condition(base, tuple(sorted(set(mods))))
        if base == "retrieval" and condition.modifiers:
            raise UsageError(
                f"'{name}': retrieval does not use the generator, so +adapter changes nothing"
            )
        if condition not in conditions:
            conditions.append(condition)
    if not conditions:
        raise UsageError("--compare is empty: use e.g. grounded,ungrounded,oracle")
    return tuple(conditions)


@dataclass(frozen=True)
class RunSettings:
    k: int = 5  # passages given to the generator
    groups: tuple[str, ...] = ()  # access groups of the simulated asker
    depth: int = 50  # chunks retrieved for the ranking metrics (MRR@10, nDCG@10, gold rank)

    def __post_init__(self) -> None:
        if self.k < 1 or self.depth < self.k:
            raise UsageError(
                f"bad settings: k={self.k}, depth={self.depth} (needs depth >= k >= 1)"
            )


@dataclass(frozen=True)
class EvalOptions:
    conditions: str = "grounded"  # --compare
    llm: str = "extractive"
    k: int = 5
    groups: tuple[str, ...] = ()
    adapter: Path | None = None  # used by +adapter conditions
    system_prompt: Path | None = None  # replaces the default system prompt (LLM generators)
    judge: str | None = None  # PROVIDER:MODEL
    format: str = "auto"
    limit: int | None = None  # the first N questions only
    depth: int = 50
    seed: int = 0
    resamples: int = 5000
    progress: bool = True
