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
same section count as the same table. Other tables are read with it (`related_table`): one
under the same header in another passage (each office's holiday table), and one whose
header names the asked names its header names ("Expense | Dublin (EUR) | Manchester (GBP)"
beside "Allowance | Dublin (EUR) | Manchester (GBP)": the asked thing is in the rows). A
question whose words are all in the header (or the title and headings), none in the rows,
asks for the whole table (`header_asked`).

Stage 1 of the selector ranks a table's rows low (a row is short; its place in a long
table counts against it), so a table the question is about can be cut before the rows are
ever read: `table_candidates` adds the best row of up to MAX_TABLE_CANDIDATES such tables
to the embedded candidates ("Manchester | 140 GBP", fifth in stage 1 over a hotel section
of four sentences, for "What is the hotel limit per night in Manchester?").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

import numpy as np

from ragkit.reader.brackets import bracket_rows
from ragkit.reader.candidates import passages_text
from ragkit.reader.coverage import mentioned
from ragkit.reader.features import Candidate, holds, number_value, numbers, ranges, tokens
from ragkit.reader.lists import SHOWN_ITEMS
from ragkit.reader.names import asked_names
from ragkit.text.analyse import analyser_for, lucene_idf, words
from ragkit.text.segment import Unit
from ragkit.types import Chunk, Hit

MAX_ROWS = 3  # rows of one table in an answer, at most (more matching: '+N more rows')
ROW_RATIO = 0.9  # a row joins the best one when it scores at least this share of it
MAX_SCORED_ROWS = 40  # rows of one table read per answer, nearest the best row
MAX_TABLES = 3  # tables whose rows are scored together (the best row's and related ones)
# rows embedded per answer: the best one and those with the largest lexical scores. Embedding
# is the reader's expensive step (one row costs about as much as the question: 8 rows double
# the selector's own embedding of question, 3 candidates and passages)
MAX_EMBEDDED_ROWS = 8
MAX_OTHER_EMBEDDED_ROWS = 3  # ... and rows of the related tables (`related_table`)
W_LEXICAL, W_DENSE = 0.5, 0.5


def _table_key(unit: Unit, hits: Sequence[Hit]) -> tuple[str, ...]:
    """What tells one table from another: its header and, for a headed table, its document
    and heading path (a table cut across chunks is one table), else its passage."""
    chunk = hits[unit.hit].chunk
    if unit.header:
        return (unit.header, chunk.source, *chunk.headings)
    return ("", str(unit.hit))


def _header_names(unit: Unit, names: Sequence[str]) -> set[str]:
    return set(mentioned(names, [unit.header.splitlines()[0]])) if unit.header else set()


def _context_names(unit: Unit, hits: Sequence[Hit], names: Sequence[str]) -> set[str]:
    """The asked `names` that the title and heading path of `unit`'s chunk mention."""
    return set(mentioned(names, [hits[unit.hit].chunk.context])) if names else set()


def related_table(unit: Unit, best: Unit, hits: Sequence[Hit], names: Sequence[str]) -> bool:
    """Whether `unit` is a row of a table answered together with `best`'s: the same table
    (`same_table`), a table under the same header in another top passage (one holiday table
    per office) unless the question asks a name that `best`'s title or headings mention and
    the other's do not ("...in May in the Lisbon office?" over "Lisbon office" and "Leeds
    office": Leeds's May rows do not answer), or one whose header names the asked names
    `best`'s header names (columns "Dublin (EUR) | Manchester (GBP)" of two tables: the
    asked thing is in the rows)."""
    if unit.kind != "row" or best.kind != "row" or not unit.header:
        return same_table(unit, best, hits)
    if same_table(unit, best, hits):
        return True
    if unit.header == best.header:
        return _context_names(best, hits, names) <= _context_names(unit, hits, names)
    shared = _header_names(best, names)
    return bool(shared) and shared <= _header_names(unit, names)


def table_rows(
    best: Unit,
    passages: Sequence[Sequence[Unit]],
    hits: Sequence[Hit],
    names: Sequence[str] = (),
) -> list[Unit]:
    """The rows of `best`'s table among `passages` (units of the top passages), and of the
    related tables of other passages (`related_table`, MAX_TABLES in all), without repeats:
    `best`'s table first (MAX_SCORED_ROWS rows around `best`), then each other table in the
    order of the passages, rows in document order. A table is its rows under the same header
    in one passage, or in any passage of the same document and heading path (a table cut
    across chunks)."""
    assert best.kind == "row"
    tables: dict[tuple[str, ...], dict[str, tuple[int, int, Unit]]] = {}
    best_key = _table_key(best, hits)
    tables[best_key] = {}
    for units in passages:
        for unit in units:
            if not related_table(unit, best, hits, names):
                continue
            key = best_key if same_table(unit, best, hits) else _table_key(unit, hits)
            if key not in tables and len(tables) >= MAX_TABLES:
                continue
            rows = tables.setdefault(key, {})
            other = hits[unit.hit].chunk
            body = " ".join(words(other.text[unit.start : unit.end]))
            if unit == best:
                rows[body] = (other.start + unit.start, 0, unit)
            else:
                rows.setdefault(body, (other.start + unit.start, 1, unit))
    found: list[Unit] = []
    for key, rows in tables.items():
        ordered = [unit for _, _, unit in sorted(rows.values(), key=lambda r: r[:2])]
        at = ordered.index(best) if best in ordered else 0
        first = max(0, min(at - MAX_SCORED_ROWS // 2, len(ordered) - MAX_SCORED_ROWS))
        found.extend(ordered[first : first + MAX_SCORED_ROWS] if key == best_key else ordered)
    return [u for n, u in enumerate(found) if u not in found[:n]]


def lexical_row_scores(
    question: str,
    bodies: Sequence[str],
    language: str | None,
    ignore: frozenset[str] = frozenset(),
    bracketed: Mapping[int, set[float]] | None = None,
) -> np.ndarray:
    """(n_rows,) the IDF-weighted share of the question's content terms (but `ignore`) each
    row body holds (IDF over these rows; a number is held by a range around it, or written
    otherwise, or by the row's bracket: `bracketed`, {row: the values its bracket holds},
    `ragkit.reader.brackets.bracket_rows`)."""
    analyser = analyser_for(language)
    asked = [t for t in dict.fromkeys(analyser.content_terms(question)) if t not in ignore]
    held = [set(analyser.terms(body)) for body in bodies]
    for body, terms in zip(bodies, held, strict=True):
        # a number of the question held in a range or written otherwise ("4500" in "2,000 to
        # 8,000 USD"): the row of the asker's case (`features.holds`)
        found, spans = numbers(tokens(body)), ranges(body)
        terms.update(t for t in asked if any(c.isdigit() for c in t) and holds(t, found, spans))
    for i, values in (bracketed or {}).items():
        held[i].update(t for t in asked if number_value(t) in values)
    idf = {t: float(lucene_idf(len(held), sum(t in h for h in held))) for t in asked}
    total = sum(idf.values()) or 1.0
    return np.array([sum(idf[t] for t in asked if t in h) / total for h in held])


def header_terms(question: str, best: Unit, hits: Sequence[Hit]) -> frozenset[str]:
    """The question's content terms that `best`'s table header (its columns) holds."""
    if not best.header:
        return frozenset()
    analyser = analyser_for(hits[best.hit].chunk.language)
    asked = set(analyser.content_terms(question))
    return frozenset(asked & set(analyser.terms(best.header.splitlines()[0])))


def continued(chunk: Chunk) -> bool:
    """Whether the chunk continues a table from an earlier chunk: the chunker repeats the
    header above the rows it carries on (`ingest.chunking`), so the text is longer than the
    document span it stands for. Such a table's first rows are not in this chunk."""
    return len(chunk.text) > chunk.end - chunk.start


def header_asked(question: str, best: Unit, hits: Sequence[Hit]) -> bool:
    """Whether every content term of the question is in `best`'s table header (its columns)
    or its chunk's title and headings, one at least in the header: the question asks for
    the table ("What are the notice periods by years employed?" over "| Years employed |
    Notice period |"), when its rows hold no other word of it either (`best_rows`). A word
    of the question that neither the header nor the rows hold counts against: "What is the
    maximum salary for a senior engineer?" over "| Band | Minimum salary | Maximum salary |"
    asks for something the table may not hold, so it gets rows, never the whole table (a
    near miss that the refusal support must weigh on a row, not a table's worth of
    evidence). Never for a row of a chunk that `continued` a table: its first rows are
    elsewhere, and a whole table that is not whole would mislead."""
    if not best.header or continued(hits[best.hit].chunk):
        return False
    chunk = hits[best.hit].chunk
    analyser = analyser_for(chunk.language)
    asked = set(analyser.content_terms(question))
    named = set(analyser.terms(best.header.splitlines()[0] + " " + chunk.context))
    return bool(header_terms(question, best, hits)) and asked <= named


class Rows(NamedTuple):
    """The rows that answer (`best_rows`), those left out, whether they are the whole
    table the question's words name (`header_asked`): such an answer stands alone, and the
    rows of a bracket scale whose bracket does not hold the asker's number (`bracket_rows`):
    they answer another case, so a row of them never stays in the answer."""

    rows: list[Unit]
    left_out: list[Unit]
    whole: bool = False
    outside: tuple[Unit, ...] = ()


def best_rows(
    question: str,
    best: Unit,
    passages: Sequence[Sequence[Unit]],
    hits: Sequence[Hit],
    embed: Callable[[list[str]], np.ndarray],
    names: Sequence[str] = (),
) -> Rows:
    """The rows of `best`'s table and its related tables (`table_rows`) that answer the
    question best, each table's in table order (`best`'s table first), and the rows that
    match as well but are left out (never a silent cut: the answer says "+N more rows").

    - Of `best` and the MAX_EMBEDDED_ROWS - 1 other rows of its table with the largest
      lexical scores (`lexical_row_scores`, IDF over the rows of all these tables), the row
      with the best W_LEXICAL x lexical + W_DENSE x cosine matches, and so do the rows within
      ROW_RATIO of it and the rows that hold the question's terms as fully as it does (a
      lexical share as large, above 0, where not every row of its table has it: every
      "December" row for "Which holidays are in December?").
    - A related table (MAX_OTHER_EMBEDDED_ROWS of their rows embedded, those with the
      largest lexical scores) joins when its best row scores within ROW_RATIO of that row
      and holds the question's terms as fully (above 0); its rows match by the same rules
      against its best row: each office's "December" rows. A table related by the asked
      names in its header leads instead when its best row scores best ("Daily meal cap"
      under "Expense | Dublin | Manchester" for "What is the meal allowance for Dublin and
      Manchester?", not the allowance rows of another table under the two cities).
    - When every word of the question is in the header (`header_asked`) and no row (of `best`'s
      table or a related one) holds another of them (rows may repeat the header's: "1 to 4
      years" under "Years employed"), every row of the table matches: the whole table
      answers.

    At most MAX_ROWS rows of each table and SHOWN_ITEMS in all are kept, the best-scored
    first. `embed` maps texts to unit-length vectors, (n, dim)."""
    rows = table_rows(best, passages, hits, names)
    if len(rows) < 2:
        return Rows([best], [])
    bodies = [hits[u.hit].chunk.text[u.start : u.end] for u in rows]
    language = hits[best.hit].chunk.language
    # the row whose bracket holds the asker's number ("after 20 years" in "8 years or more")
    bracketed: dict[int, set[float]] = {}
    for table in _tables(rows, best, hits):
        order = sorted(table)
        found = bracket_rows(question, [bodies[i] for i in order], rows[order[0]].header)
        bracketed.update({order[n]: values for n, values in found.items()})
    all_lexical = lexical_row_scores(question, bodies, language, bracketed=bracketed)
    own_table = [i for i, u in enumerate(rows) if same_table(u, best, hits)]
    in_header = header_terms(question, best, hits)
    opening = rows[own_table[0]]  # the table's first row in view: its beginning?
    # the share of the question's terms beyond the header's: a row repeating a header word
    # ("Early May bank holiday" under "Date | Holiday") holds no more of the question than
    # one that leaves it to the header ("1 May | Labour Day")
    beyond = lexical_row_scores(question, bodies, language, in_header, bracketed)
    if header_asked(question, opening, hits) and not beyond.any():
        shown, rest = own_table[:SHOWN_ITEMS], own_table[SHOWN_ITEMS:]
        return Rows([rows[i] for i in shown], [rows[i] for i in rest], True)
    own = set(own_table)
    lexical_order = [int(i) for i in np.argsort(-all_lexical, kind="stable")]
    own_order = [i for i in lexical_order if i in own and rows[i] != best]
    # another table's rows join only with a word of the question (never by meaning alone)
    other_order = [i for i in lexical_order if i not in own and all_lexical[i] > 0]
    read = sorted(
        [
            rows.index(best),
            *own_order[: MAX_EMBEDDED_ROWS - 1],
            *other_order[:MAX_OTHER_EMBEDDED_ROWS],
        ]
    )
    vectors = embed([question, *(bodies[i] for i in read)])  # (1 + n_read, dim)
    cosines = vectors[1:] @ vectors[0]  # (n_read,)
    scores = W_LEXICAL * all_lexical[read] + W_DENSE * cosines
    # a related table's row is compared with the best one by the terms beyond the header
    # too: the header's words tell neither table's rows apart
    beyond_scores = W_LEXICAL * beyond[read] + W_DENSE * cosines
    beyond_of = dict(zip(read, beyond_scores.tolist(), strict=True))
    order = [read[int(i)] for i in np.argsort(-scores, kind="stable")]
    score_of = dict(zip(read, scores.tolist(), strict=True))
    # the best row sets the bar, for its table and the related ones: the best of `best`'s
    # table and of the tables related by the asked names in their headers (they differ in
    # what their rows hold: the row that holds the asked thing leads), never of a table
    # under the same header in another passage (parallel rows, told apart by the headings
    # the selector read: `best`'s table leads)
    first = next(i for i in order if i in own or rows[i].header != best.header)
    top, share = beyond_of[first], float(beyond[first])
    matching: set[int] = set()
    outside: set[int] = set()
    for table in _tables(rows, best, hits):
        lead = next((i for i in order if i in table), None)
        if lead is None:
            continue
        if lead != first and not (
            beyond_of[lead] >= ROW_RATIO * top
            and all_lexical[lead] > 0
            and float(beyond[lead]) >= share
        ):
            continue  # a related table joins with a row as close and as full as the best
        bar, full = score_of[lead], float(all_lexical[lead])
        matching |= {i for i in read if i in table and bar > 0 and score_of[i] >= ROW_RATIO * bar}
        tied = {i for i in table if all_lexical[i] >= full}
        if full > 0 and len(tied) < len(table):
            # rows holding the question's terms as fully as the table's best one does, when
            # those terms tell rows apart (a term every row holds, "probation" in a table of
            # notice periods by probation, ties them all and tells nothing)
            matching |= tied
        matching.add(lead)
        held = table & bracketed.keys()
        if held:  # the brackets of one scale exclude each other: the asker's case is in these
            matching = (matching - table) | held
            outside |= table - held
    # the best-scored first; rows not embedded (lexical ties only) after them, in table order
    ranked = [i for i in order if i in matching] + sorted(matching - set(read))
    keep: list[int] = []
    per_table: dict[tuple[str, ...], int] = {}
    for i in ranked:
        key = _key(rows, i, best, hits)
        if per_table.get(key, 0) < MAX_ROWS and len(keep) < SHOWN_ITEMS:
            per_table[key] = per_table.get(key, 0) + 1
            keep.append(i)
    # `best`'s table first, then the others in the order of their best row; rows of a table
    # in table order
    first_of: dict[tuple[str, ...], int] = {_key(rows, first, best, hits): -1}
    for n, i in enumerate(keep):
        first_of.setdefault(_key(rows, i, best, hits), n)
    keep.sort(key=lambda i: (first_of[_key(rows, i, best, hits)], i))
    return Rows(
        [rows[i] for i in keep],
        [rows[i] for i in ranked if i not in keep],
        outside=tuple(rows[i] for i in sorted(outside)),
    )


def _tables(rows: Sequence[Unit], best: Unit, hits: Sequence[Hit]) -> list[set[int]]:
    """The indices of `rows` table by table (`_key`)."""
    tables: dict[tuple[str, ...], set[int]] = {}
    for i in range(len(rows)):
        tables.setdefault(_key(rows, i, best, hits), set()).add(i)
    return list(tables.values())


def _key(rows: Sequence[Unit], i: int, best: Unit, hits: Sequence[Hit]) -> tuple[str, ...]:
    """The table of `rows[i]`: `best`'s for a row of its table (cut across chunks or not)."""
    return _table_key(best if same_table(rows[i], best, hits) else rows[i], hits)


def same_table(unit: Unit, of: Unit, hits: Sequence[Hit]) -> bool:
    """Whether `unit` is a row of the table `of` is a row of (`table_rows`' rule)."""
    if unit.kind != "row" or of.kind != "row" or unit.header != of.header:
        return False
    if unit.hit == of.hit:
        return True
    # header-less rows of two chunks are no evidence of one table
    a, b = hits[unit.hit].chunk, hits[of.hit].chunk
    return bool(of.header) and (a.source, a.headings) == (b.source, b.headings)


MAX_TABLE_CANDIDATES = 2  # rows added to the selector's embedded candidates, at most


def table_candidates(
    question: str,
    units: Sequence[Unit],
    candidates: Sequence[Candidate],
    first: np.ndarray,
    keep: Sequence[int],
    hits: Sequence[Hit],
    names: Sequence[str] | None = None,
) -> list[int]:
    """Indices of rows to score with the selector's kept candidates (`keep`, cut by the
    stage-1 scores `first`) although stage 1 cut them: of each table no kept unit belongs
    to, the best row by stage 1 whose own cells name an asked name
    (`ragkit.reader.names.asked_names`: "Manchester | 140 GBP" for "...per night in
    Manchester?"), else whose header holds a word of the question ("| Situation | Notice
    period |" for "What are the notice periods...?"); MAX_TABLE_CANDIDATES at most, the
    rows naming asked names first. A table's rows weigh little in stage 1 (a row is short
    and its place in a long table counts against it), so without this a table the
    question is about is never read. `names`: the question's asked names when the caller
    has them, else read here."""
    rows = [int(i) for i in np.argsort(-first, kind="stable") if units[i].kind == "row"]
    if not rows:
        return []
    if names is None:
        names = asked_names(question, passages_text(hits))
    kept_tables = {_table_key(units[i], hits) for i in keep if units[i].kind == "row"}
    named: dict[tuple[str, ...], int] = {}
    headed: dict[tuple[str, ...], int] = {}
    for i in rows:
        key = _table_key(units[i], hits)
        if key in kept_tables:
            continue
        own = hits[units[i].hit].chunk.text[units[i].start : units[i].end]
        if names and key not in named and mentioned(names, [own]):
            named[key] = i
        if (
            key not in headed
            and header_terms(question, units[i], hits)
            and not continued(hits[units[i].hit].chunk)
        ):
            headed[key] = i
    chosen = list(named.values()) + [i for k, i in headed.items() if k not in named]
    return chosen[:MAX_TABLE_CANDIDATES]


def figure_row(
    question: str, best: Unit, passages: Sequence[Sequence[Unit]], hits: Sequence[Hit]
) -> Unit | None:
    """The table row that gives the figure a best sentence without one only points to
    ("Mileage for your own car is paid at the rates above" -> "| Mileage, own car | 0.43
    EUR per km |"): a row of a top passage of the same document that holds a number, whose
    own cells hold two of the question's content terms or more, all of them terms the best
    unit holds too (it names the sentence's subject, in the question's words), and that no
    other row of its table matches as fully. None when `best` holds a number itself, or no
    row (or more than one) fits."""
    chunk = hits[best.hit].chunk
    said = chunk.text[best.start : best.end]
    if best.kind == "row" or any(c.isdigit() for c in said):
        return None
    analyser = analyser_for(chunk.language)
    asked = set(analyser.content_terms(question))
    covered = asked & set(analyser.terms(said))
    found: list[Unit] = []
    for units in passages:
        rows = [u for u in units if u.kind == "row" and hits[u.hit].chunk.source == chunk.source]
        if not rows:
            continue
        text = hits[rows[0].hit].chunk.text
        held = [asked & set(analyser.terms(text[u.start : u.end])) for u in rows]
        for row, terms in zip(rows, held, strict=True):
            if (
                len(terms) >= 2
                and terms <= covered
                and any(c.isdigit() for c in text[row.start : row.end])
                and sum(terms <= other for other in held) == 1
            ):
                found.append(row)
    return found[0] if len(found) == 1 else None
