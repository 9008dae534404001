"""Table rows: when a row answers, the answer is the row that matches, under its header.

The selector embeds only a few candidate units per question (`max_candidates`), chosen by
cheap features in which a row's position weighs: in a twenty-row table of dates, the first
rows are the candidates, and "When's my self-assessment due?" got the header and the first
rows instead of "| October 17, 2025 | Self-assessment submittal due date |". So when the
best unit is a row, every row of its table is scored again against the question, and the
best-matching ones answer (under the header, as every row is shown). A whole table answers
only a question that names it (`ragkit.reader.lists.section_asked`).

A row's score here is half lexical, half dense, as the heuristic reader's unit score was
(`ragkit.generators.extractive`: W_LEXICAL, W_DENSE, tuned on SQuAD 2.0):
- lexical: the IDF-weighted share of the question's content terms the row holds, IDF over
  the table's rows (a term every row holds, such as the year of a calendar, tells none apart);
- dense: the cosine of the question with the row's own text, without the header or the
  section's headings, which every row of the table shares and which blur the difference
  (handbook train split: "Self-assessment submittal due date" 0.63 alone, under its
  headings 0.55, below two other rows).

Embedding is the reader's expensive step, so only MAX_EMBEDDED_ROWS rows are embedded: the
best unit and the rows with the largest lexical scores. A row that matches by meaning alone
in a table of more than MAX_EMBEDDED_ROWS rows can be missed (a known limit).

One table can be cut across chunks ("Mid year dates" rows 1-6 in one chunk, rows 7-8 in
the next): rows under the same header in another top passage of the same document and the
same section count as the same table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ragkit.reader.features import holds, numbers, ranges, tokens
from ragkit.text.analyse import analyser_for, lucene_idf, words
from ragkit.text.segment import Unit
from ragkit.types import Hit

MAX_ROWS = 3  # rows of one table in an answer, at most (more matching: '+N more rows')
ROW_RATIO = 0.9  # a row joins the best one when it scores at least this share of it
MAX_SCORED_ROWS = 40  # rows of one table read per answer, nearest the best row
# rows embedded per answer: the best one and those with the largest lexical scores. Embedding
# is the reader's expensive step (one row costs about as much as the question: 8 rows double
# the selector's own embedding of question, 3 candidates and passages)
MAX_EMBEDDED_ROWS = 8
W_LEXICAL, W_DENSE = 0.5, 0.5


def table_rows(best: Unit, passages: Sequence[Sequence[Unit]], hits: Sequence[Hit]) -> list[Unit]:
    """The rows of `best`'s table among `passages` (units of the top passages), in document
    order, without repeats: rows under the same header in `best`'s passage, and in any other
    passage of the same document and heading path (a table cut across chunks)."""
    assert best.kind == "row"
    rows: dict[str, tuple[int, int, Unit]] = {}
    for units in passages:
        for unit in units:
            if not same_table(unit, best, hits):
                continue
            other = hits[unit.hit].chunk
            body = " ".join(words(other.text[unit.start : unit.end]))
            if unit == best:
                rows[body] = (other.start + unit.start, 0, unit)
            else:
                rows.setdefault(body, (other.start + unit.start, 1, unit))
    ordered = [unit for _, _, unit in sorted(rows.values(), key=lambda r: r[:2])]
    at = ordered.index(best) if best in ordered else 0
    first = max(0, min(at - MAX_SCORED_ROWS // 2, len(ordered) - MAX_SCORED_ROWS))
    return ordered[first : first + MAX_SCORED_ROWS]


def lexical_row_scores(question: str, bodies: Sequence[str], language: str | None) -> np.ndarray:
    """(n_rows,) the IDF-weighted share of the question's content terms each row body holds
    (IDF over these rows; a number is held by a range around it, or written otherwise)."""
    analyser = analyser_for(language)
    asked = list(dict.fromkeys(analyser.content_terms(question)))
    held = [set(analyser.terms(body)) for body in bodies]
    for body, terms in zip(bodies, held, strict=True):
        # a number of the question held in a range or written otherwise ("4500" in "2,000 to
        # 8,000 USD"): the row of the asker's case (`features.holds`)
        found, spans = numbers(tokens(body)), ranges(body)
        terms.update(t for t in asked if any(c.isdigit() for c in t) and holds(t, found, spans))
    idf = {t: float(lucene_idf(len(held), sum(t in h for h in held))) for t in asked}
    total = sum(idf.values()) or 1.0
    return np.array([sum(idf[t] for t in asked if t in h) / total for h in held])


def best_rows(
    question: str,
    best: Unit,
    passages: Sequence[Sequence[Unit]],
    hits: Sequence[Hit],
    embed: Callable[[list[str]], np.ndarray],
) -> tuple[list[Unit], int]:
    """The rows of `best`'s table (`table_rows`) that answer the question best, in table
    order, and how many more rows match as well but are left out (never a silent cut: the
    answer says "+N more rows"). Of `best` and the MAX_EMBEDDED_ROWS - 1 other rows with the
    largest lexical scores (`lexical_row_scores`), the row with the best W_LEXICAL x lexical
    + W_DENSE x cosine matches, and so do the rows within ROW_RATIO of it and the rows of
    the table that hold the question's terms as fully as it does (a lexical share as large,
    above 0, where not every row has it: every "December" row for "Which holidays are in
    December?"); the MAX_ROWS that score best are kept. `embed` maps texts to unit-length
    vectors, (n, dim)."""
    rows = table_rows(best, passages, hits)
    if len(rows) < 2:
        return [best], 0
    bodies = [hits[u.hit].chunk.text[u.start : u.end] for u in rows]
    all_lexical = lexical_row_scores(question, bodies, hits[best.hit].chunk.language)
    lexical_order = [int(i) for i in np.argsort(-all_lexical, kind="stable") if rows[i] != best]
    read = sorted([rows.index(best), *lexical_order[: MAX_EMBEDDED_ROWS - 1]])
    vectors = embed([question, *(bodies[i] for i in read)])  # (1 + n_read, dim)
    scores = W_LEXICAL * all_lexical[read] + W_DENSE * (vectors[1:] @ vectors[0])
    order = [read[int(i)] for i in np.argsort(-scores, kind="stable")]
    score_of = dict(zip(read, scores.tolist(), strict=True))
    top = score_of[order[0]]
    share = float(all_lexical[order[0]])
    matching = {i for i in read if top > 0 and score_of[i] >= ROW_RATIO * top}
    tied = {i for i in range(len(rows)) if all_lexical[i] >= share}
    if share > 0 and len(tied) < len(rows):
        # rows holding the question's terms as fully as the best one does, when those terms
        # tell rows apart (a term every row holds, "probation" in a table of notice periods
        # by probation, ties them all and tells nothing)
        matching |= tied
    matching.add(order[0])
    # the best-scored first; rows not embedded (lexical ties only) after them, in table order
    ranked = [i for i in order if i in matching] + sorted(matching - set(read))
    keep = ranked[:MAX_ROWS]
    return [rows[i] for i in sorted(keep)], len(ranked) - len(keep)


def same_table(unit: Unit, of: Unit, hits: Sequence[Hit]) -> bool:
    """Whether `unit` is a row of the table `of` is a row of (`table_rows`' rule)."""
    if unit.kind != "row" or of.kind != "row" or unit.header != of.header:
        return False
    if unit.hit == of.hit:
        return True
    # header-less rows of two chunks are no evidence of one table
    a, b = hits[unit.hit].chunk, hits[of.hit].chunk
    return bool(of.header) and (a.source, a.headings) == (b.source, b.headings)
