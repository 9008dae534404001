"""Follow-up questions rewritten into standalone ones, offline, by structure.

    previous: "How many days of annual leave do employees in the Germany office get?"
    follow-up: "And in the United Kingdom office?"
    -> "How many days of annual leave do employees in the United Kingdom office get?"

    previous: "How long do I have to submit expense claims?"
    follow-up: "Is there an exception to that?"
    -> "Is there an exception to that (submit expense claims)?"

    previous: "How do I request annual leave?"
    follow-up: "And how far ahead must I ask?"
    -> "How far ahead must I ask (request annual leave)?"

Rules, tried in order; a question that none applies to is already standalone:

0. **Add the topic to a question.** A follow-up that opens with a connective ("and", "e", ...)
   followed by a question word ("how", "which", "com quanta", ...) is a question of its own
   that lacks its topic: it keeps its form (so the reader still knows what kind of answer is
   asked for) and gets the previous question's *topic* in parentheses: its leading phrase,
   without the head of question and function words and up to its first auxiliary ("How long
   is partner leave?" -> "partner leave"; "How many days of annual leave do employees in the
   Germany office get?" -> "days of annual leave"). Appending the whole previous question
   made the reader answer *its* kind ("How long ...") rather than the follow-up's, and its
   constraint ("in the Germany office") pulled a new aspect back to the old fact. A long
   clause after a connective that aligns with nothing ("And if I have to work on one?") is
   read the same way.
1. **Replace a slot.** A follow-up that opens with a connective ("and", "e", "y", "und",
   "what about", ...) or is a bare name or number ("Portugal?", "L5?") is a fragment. It is
   aligned with a span of the previous question (semi-global alignment: the whole fragment
   against any span): a shared content word or a name/number standing where a name/number
   stood anchors it, and that span is replaced by the fragment ("in the Germany office" by
   "in the United Kingdom office"; "do escritório da Alemanha" by "no escritório do Reino
   Unido"). A name cut in two by the span is replaced whole ("United Kingdom" by "France").
   A fragment that opens its own phrase on a shared content word ("And during probation?")
   replaces the whole phrase that word closes, within its clause (", once I've passed
   probation"). With no anchor, a fragment "function word + content words" ("And for
   lunch?") replaces the content words after the same function word in the previous question
   ("the limit for dinner when ..." -> "the limit for lunch when ..."); names are never
   swapped this way.
2. **Resolve a reference.** A short question (at most two content words besides the pronoun
   and question words; three with a demonstrative such as "that", which is rarely expletive
   where "it" often is: "Is it possible ...?") holding an anaphoric pronoun ("that", "it",
   "isso", "eso", ...) gets the previous question's topic written after the pronoun, in
   parentheses, so retrieval and the reader see what "that" is while the question keeps its
   own form ("Is there ..."). A pronoun that is an object or a preposition's complement
   ("How much notice do I need to give for it?", "Can my manager refuse it?", Portuguese
   "pedi-la", "o pedido dela") is never expletive: a one-clause question of up to three
   content words holding one is rewritten so too. A subject is told by its place (after the
   auxiliary or question word that opens the question, "Is it possible ...?", or before an
   auxiliary), a demonstrative counts as an object only at the end of its clause ("apply for
   that?", not "that rule" or "a form that I need").
3. **Add a constraint.** A short connective fragment with no anchor in the previous question
   ("And for contractors?") is appended to it: "How many ... get, for contractors?". A
   question of function words only ("Until when?") gets the previous question's topic in
   parentheses, as in rule 2.

Words are told apart by structure, with a language's function words taken from the Snowball
stopword lists that BM25 uses (the conversation's language is the list its words hit most):
a content word is any other word; a name is a capitalised content word not opening the
previous question; a code is any word holding a digit ("L4", "2025"). A name stands in for a
name and a code for a code, never one for the other. Only the connectives and the pronouns are
small per-language tables (English, Portuguese, Spanish, German, French), with the question
words that open a question; everything else is the alignment. A follow-up is read against the
previous *standalone* question, so a chain of follow-ups ("And in the UK?", "And France?")
keeps its subject; a follow-up that was given the topic in parentheses passes that topic on
("How do I claim travel expenses?", "How long do I have to submit it?", "Which receipts must
I attach to them?": "them" is still about claiming travel expenses).
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from ragkit.text.analyse import stopwords

LANGUAGES = ("english", "portuguese", "spanish", "german", "french")
CONNECTIVES = {
    "english": ("and", "but", "also", "or", "what about", "how about", "and what about"),
    "portuguese": ("e", "mas", "também", "ou", "e quanto a", "e quanto ao", "e quanto à"),
    "spanish": ("y", "pero", "también", "o", "qué hay de", "y qué hay de", "y en cuanto a"),
    "german": ("und", "aber", "auch", "oder", "was ist mit", "und was ist mit"),
    "french": ("et", "mais", "aussi", "ou", "et pour", "qu'en est-il de"),
}
ANAPHORS = {
    "english": ("that", "this", "it", "those", "these", "they", "them"),
    "portuguese": (
        "isso", "isto", "aquilo", "disso", "nisso", "ele", "ela", "eles", "elas",
        "dele", "dela", "deles", "delas", "nele", "nela", "neles", "nelas",
    ),
    "spanish": ("eso", "esto", "ello", "aquello", "él", "ella", "ellos", "ellas"),
    "german": ("das", "dies", "es", "dafür", "dazu", "davon"),
    "french": ("cela", "ça", "ceci", "il", "elle", "ils", "elles"),
}  # fmt: skip
# Words that open a question ("how", "which", "can", "quantos"), with English's "how" measure
# words ("how long/many/far"): a fragment opening with one is a question of its own that lacks
# its topic ("And how far ahead must I ask?"), and they are the head cut off a question to
# leave its topic ("How long is partner leave?" -> "partner leave").
QUESTION_WORDS = {
    "english": (
        "how", "what", "which", "when", "where", "who", "whom", "whose", "why", "can", "could",
        "do", "does", "did", "is", "are", "was", "were", "will", "would", "should", "must",
        "may", "might", "have", "has", "am", "shall",
        "long", "many", "much", "far", "often", "early", "soon", "late", "ahead",
    ),
    "portuguese": (
        "como", "qual", "quais", "quando", "onde", "quem", "porque", "quanto", "quanta",
        "quantos", "quantas", "que", "posso", "pode", "podem", "devo", "deve", "há", "é",
        "existe", "existem",
    ),
    "spanish": (
        "cómo", "cuál", "cuáles", "cuándo", "dónde", "quién", "quiénes", "por", "cuánto",
        "cuánta", "cuántos", "cuántas", "qué", "puedo", "puede", "pueden", "debo", "hay", "es",
    ),
    "german": (
        "wie", "was", "welche", "welcher", "welches", "wann", "wo", "wer", "warum", "kann",
        "muss", "darf", "gibt", "ist", "sind", "viel", "viele", "lange",
    ),
    "french": (
        "comment", "quel", "quelle", "quels", "quelles", "quand", "où", "qui", "pourquoi",
        "combien", "que", "est-ce", "puis-je", "peut-on", "faut-il", "y",
    ),
}  # fmt: skip
# Auxiliaries and modals: where a question's leading noun phrase ends ("How many days of annual
# leave | do employees in the Germany office get?"), so its topic is that phrase, not the
# constraint that follows (which made the reader answer a new aspect with the old fact).
AUXILIARIES = {
    "english": (
        "do", "does", "did", "is", "are", "was", "were", "can", "could", "will", "would",
        "should", "must", "may", "might", "have", "has", "am", "shall",
    ),
    "portuguese": (
        "tem", "têm", "é", "são", "está", "estão", "pode", "podem", "devo", "deve", "há",
        "posso", "podemos", "tenho", "temos", "devemos", "preciso", "precisamos",
    ),
    "spanish": (
        "tiene", "tienen", "es", "son", "está", "están", "puede", "pueden", "debo", "debe", "hay",
        "puedo", "podemos", "tengo", "tenemos", "debemos",
    ),
    "german": ("ist", "sind", "hat", "haben", "kann", "können", "muss", "müssen", "darf", "gibt"),
    "french": ("est", "sont", "a", "ont", "peut", "peuvent", "doit", "doivent"),
}  # fmt: skip
MIN_TOPIC_CONTENT = 2  # a leading phrase of fewer content words is no topic: keep the rest
QUESTION_OPENING = 3  # a question word among the fragment's first words makes it a question
# Demonstratives are rarely expletive ("Is it possible ...?" is not a reference; "How many days
# is that allowed?" is), so a question holding one may carry one more content word.
DEMONSTRATIVES = {
    "english": ("that", "this", "those", "these"),
    "portuguese": ("isso", "isto", "aquilo", "disso", "nisso"),
    "spanish": ("eso", "esto", "aquello"),
    "german": ("dies", "dafür", "dazu", "davon"),
    "french": ("cela", "ça", "ceci"),
}
MAX_REFERENCE_CONTENT = 2  # content words (besides the pronoun) of a question rule 2 rewrites
# ... and of one whose pronoun is an object or a preposition's complement ("How much notice do
# I need to give for it?", "Posso dividi-la em blocos?"): never expletive, so it refers back
# unless the question names its own antecedent, which a one-clause question of three content
# words rarely has room for ("Can I carry over annual leave if I can't use it?" has four; "I
# got a gift from a client, can I keep it?" two clauses: both stand as asked)
MAX_OBJECT_REFERENCE_CONTENT = 3
# Object pronouns written onto their verb after a hyphen (Portuguese "usá-los", "pedi-la",
# "dividi-lo"); a hyphenated word ending so is one.
CLITICS = {"portuguese": ("lo", "la", "los", "las", "o", "a", "os", "as")}
MAX_CONSTRAINT_TOKENS = 4  # words of a fragment rule 3 appends
MAX_CHARS = 4000  # a rewrite longer than a question may be is dropped (the question stands)
MAX_TURNS = 8  # earlier questions read: a topic older than that has been replaced
_PUNCTUATION = string.punctuation + "¿¡«»“”‘’…—–"

# Alignment scores (per token pair). A content match is strong evidence that the span is the
# slot; a name or number facing a name or number is the slot's new value; function words
# are cheap either way, so "in the" / "do" / "da" line up without deciding anything.
MATCH_CONTENT, MATCH_FUNCTION = 3.0, 1.0
SWAP_NAME, SWAP_FUNCTION, SWAP_OTHER = 1.5, 0.25, -1.0
SKIP_PREVIOUS = {"name": -0.5, "code": -0.5, "content": -1.0, "function": -0.25}
SKIP_FRAGMENT = {"name": 0.0, "code": 0.0, "content": -0.5, "function": 0.0}


@dataclass(frozen=True)
class Token:
    text: str  # as written, punctuation attached
    key: str  # lower-cased, punctuation stripped
    kind: str  # "name", "code" (holds a digit), "content" or "function"


def standalone(question: str, history: Sequence[str]) -> str:
    """`question` rewritten to stand alone given the earlier questions of the conversation
    (oldest first; each earlier one is itself made standalone first). Returns `question`
    unchanged (stripped) when it needs no rewrite or there is no history."""
    question = question.strip()
    previous = subject = ""
    for earlier in history[-MAX_TURNS:]:
        if earlier.strip() and len(earlier) <= MAX_CHARS:  # a pasted document is no topic
            earlier = earlier.strip()
            made = rewrite(earlier, previous, subject) if previous else earlier
            # a follow-up given the topic keeps the conversation on it: "How long do I have
            # to submit it (claim travel expenses)?" is still about claiming travel expenses,
            # for the next "Which receipts must I attach to them?"
            subject = _carried_topic(made) if made != earlier else ""
            previous = made
    return rewrite(question, previous, subject) if previous else question


def rewrite(question: str, previous: str, subject: str = "") -> str:
    """One step: `question` read against the standalone `previous` question; `subject`: the
    topic `previous` carries when it is itself a follow-up given one (else its `topic`)."""
    language = detect_language(f"{previous} {question}")
    about = subject or topic(previous, language)
    raw = question.split()
    keys = [_key(t) for t in raw]
    lead = _connective_length(keys, language)
    fragment = tokens(raw[lead:], language, initial_is_name=True)
    before = tokens(previous.split(), language, initial_is_name=False)
    if not fragment or not before:
        return question
    result = None
    names = [t for t in fragment if t.kind != "function"]
    bare_name = lead == 0 and len(raw) <= 2 and names and all(t.kind != "content" for t in names)
    opener = raw[lead : lead + QUESTION_OPENING]
    if lead and len(fragment) > 1 and any(_is_question_word(w, language) for w in opener):
        # a question of its own after the connective, lacking the topic ("And how far ahead
        # must I ask?", "E com quanta antecedência?", "And after that what do I need?"): it
        # keeps its form and gets the previous question's topic
        asked = " ".join(raw[lead:])
        result = _with_topic(asked[:1].upper() + asked[1:], about)
    elif lead or bare_name:
        result = _replace_slot(before, fragment, question)
        if result is None and lead:
            result = _swap_after_function_word(before, fragment, question)
    if result is None:
        result = _resolve_reference(question, about, language)
    if result is None and all(t.kind == "function" for t in fragment):
        # no content word at all ("Until when?", "Por quê?"): it can only mean the last topic
        result = _with_topic(question, about)
    if result is None and lead and len(fragment) <= MAX_CONSTRAINT_TOKENS:
        added = " ".join(t.text for t in fragment).rstrip(_PUNCTUATION)
        result = f"{previous.rstrip(_PUNCTUATION + ' ')}, {added}{_ending(question)}"
    if result is None and lead:
        # a clause of its own after the connective, too long to be a constraint and anchored
        # nowhere ("And if I have to work on one?"): as a question of its own, with the topic
        asked = " ".join(raw[lead:])
        result = _with_topic(asked[:1].upper() + asked[1:], about)
    if result is None or len(result) > MAX_CHARS:
        return question
    return result


def topic(question: str, language: str) -> str:
    """The question's leading phrase: without its head (question words and function words
    before the first content word), cut at the first auxiliary after at least
    MIN_TOPIC_CONTENT content words, and without trailing function words: "How long is
    partner leave?" -> "partner leave"; "Can I carry over unused leave?" -> "carry over
    unused leave"; "How many days of annual leave do employees in the Germany office get?"
    -> "days of annual leave". A question of head words only is returned whole (bare)."""
    raw = question.split()
    heads = set(QUESTION_WORDS.get(language, ())) | _stopwords(language)
    start = 0
    while start < len(raw) and _is_function(raw[start], heads):
        start += 1
    end = len(raw)
    auxiliaries = set(AUXILIARIES.get(language, ()))
    content = 0
    for at in range(start, len(raw)):
        if _key(raw[at]) in auxiliaries and content >= MIN_TOPIC_CONTENT:
            end = at  # the leading noun phrase ends at its verb
            break
        content += not _is_function(raw[at], _stopwords(language))
    while end > start and _is_function(raw[end - 1], _stopwords(language)):
        end -= 1
    return _bare(" ".join(raw[start:end])) or _bare(question)


def _carried_topic(rewritten: str) -> str:
    """The topic a rewrite wrote into a question in parentheses (`_resolve_reference`,
    `_with_topic`: the last parenthesis); "" when it wrote none (a slot replaced)."""
    found = re.findall(r"\(([^()]+)\)", rewritten)
    return found[-1].strip() if found else ""


def detect_language(text: str) -> str:
    """The language in LANGUAGES whose stopwords the text's words hit most (ties: English)."""
    keys = [_key(t) for t in text.split()]
    hits = {lang: sum(k in _stopwords(lang) for k in keys) for lang in LANGUAGES}
    return max(LANGUAGES, key=lambda lang: (hits[lang], lang == "english"))


def tokens(raw: Sequence[str], language: str, *, initial_is_name: bool) -> list[Token]:
    out = []
    for position, text in enumerate(raw):
        key = _key(text)
        if not key:
            continue
        stripped = text.lstrip(_PUNCTUATION)
        if any(c.isdigit() for c in key):
            kind = "code"
        elif _is_function(text, _stopwords(language)):
            kind = "function"
        elif stripped[:1].isupper() and (position > 0 or initial_is_name):
            kind = "name"
        else:
            kind = "content"
        out.append(Token(text, key, kind))
    return out


# --- rule 1: replace a slot ---------------------------------------------------------------


def _replace_slot(before: list[Token], fragment: list[Token], question: str) -> str | None:
    span = align(before, fragment)
    if span is None:
        return None
    start, end = span
    if (
        fragment[0].kind == "function"
        and before[start].kind == "content"
        and before[start].key in {t.key for t in fragment}
    ):
        # the fragment opens its own phrase ("during probation") on a shared content word:
        # the phrase that word closes goes with it ("once I've passed probation"): back over
        # content words, then over the function words that open the phrase, within the clause
        for kind in ("content", "function"):
            while start > 0 and before[start - 1].kind == kind:
                if before[start - 1].text[-1] in _PUNCTUATION:
                    break
                start -= 1
    while start > 0 and before[start].kind == "name" == before[start - 1].kind:
        start -= 1  # a name is replaced whole: "United Kingdom", not "United"
    while end < len(before) and before[end - 1].kind == "name" == before[end].kind:
        end += 1
    new = [t.text for t in fragment]
    new[-1] = new[-1].rstrip(_PUNCTUATION) or new[-1]
    words = [t.text for t in before[:start]] + new + [t.text for t in before[end:]]
    if end == len(before):  # the span took the previous question's ending with it
        words[-1] = words[-1].rstrip(_PUNCTUATION) + _ending(question)
    text = " ".join(words)
    return text[:1].upper() + text[1:] if start == 0 else text


def _swap_after_function_word(
    before: list[Token], fragment: list[Token], question: str
) -> str | None:
    """ "And for lunch?" after "What's the limit for dinner when ...?": no word anchors the
    slot, but the fragment's opening function word ("for") stands in the previous question
    before a run of content words ("dinner"); that run is the slot. Names and codes are never
    swapped this way ("in the Germany office" keeps its name: a name stands in for a name)."""
    lead = 0
    while lead < len(fragment) and fragment[lead].kind == "function":
        lead += 1
    rest = fragment[lead:]
    if not lead or not rest or any(t.kind != "content" for t in rest):
        return None
    opener = fragment[lead - 1].key
    for at in range(len(before) - 1):  # the first: later ones qualify it ("for work")
        if before[at].key != opener or before[at].text[-1] in _PUNCTUATION:
            continue
        end = at + 1
        while end < len(before) and before[end].kind == "content":
            end += 1
            if before[end - 1].text[-1] in _PUNCTUATION:
                break
        if end == at + 1:
            continue
        swapped = before[: at + 1] + rest + before[end:]
        words = [t.text for t in swapped]
        words[at + len(rest)] = words[at + len(rest)].rstrip(_PUNCTUATION)
        if end < len(before):
            return " ".join(words)
        return " ".join(words) + _ending(question)
    return None


def align(before: Sequence[Token], fragment: Sequence[Token]) -> tuple[int, int] | None:
    """The span [start, end) of `before` that the whole `fragment` aligns with best, or None
    when no content word matches and no name faces a name (nothing anchors the slot).

    Semi-global alignment (Needleman-Wunsch over the fragment, free ends on `before`):
    O(len(before) * len(fragment)) with the scores above; ties go to the longer span.
    """
    n, m = len(before), len(fragment)
    # best[i][j]: (score, evidence, span start) aligning fragment[:j] to a span ending at i
    best: list[list[tuple[float, int, int]]] = [[(0.0, 0, i)] * (m + 1) for i in range(n + 1)]
    for i in range(n + 1):
        for j in range(1, m + 1):
            f = fragment[j - 1]
            options = [_add(best[i][j - 1], SKIP_FRAGMENT[f.kind], 0)]
            if i > 0:
                p = before[i - 1]
                pair, evidence = _pair(p, f)
                options.append(_add(best[i - 1][j - 1], pair, evidence))
                options.append(_add(best[i - 1][j], SKIP_PREVIOUS[p.kind], 0))
            best[i][j] = max(options, key=lambda o: (o[0], -o[2]))
        if i > 0:
            best[i][0] = (0.0, 0, i)
    end = max(range(n + 1), key=lambda i: (best[i][m][0], i - best[i][m][2]))
    score, evidence, start = best[end][m]
    if not evidence or score <= 0 or start == end:
        return None
    return start, end


def _pair(p: Token, f: Token) -> tuple[float, int]:
    if p.key == f.key:
        return (MATCH_FUNCTION, 0) if p.kind == "function" else (MATCH_CONTENT, 1)
    if p.kind == f.kind and p.kind in ("name", "code"):
        return SWAP_NAME, 1
    if p.kind == f.kind == "function":
        return SWAP_FUNCTION, 0
    return SWAP_OTHER, 0


def _add(cell: tuple[float, int, int], score: float, evidence: int) -> tuple[float, int, int]:
    return cell[0] + score, cell[1] + evidence, cell[2]


# --- rule 2: resolve a reference ----------------------------------------------------------


def _resolve_reference(question: str, context: str, language: str) -> str | None:
    raw = question.split()
    keys = [_key(t) for t in raw]
    anaphors = set(ANAPHORS.get(language, ()))
    found = [i for i, k in enumerate(keys) if k in anaphors or _clitic(k, language)]
    heads = set(QUESTION_WORDS.get(language, ())) | anaphors
    content = [
        k
        for k in keys
        if k and not _is_function(k, _stopwords(language) | heads) and not _clitic(k, language)
    ]
    demonstrative = any(keys[i] in DEMONSTRATIVES.get(language, ()) for i in found)
    limit = MAX_REFERENCE_CONTENT + demonstrative
    if any(_is_object(raw, i, language) for i in found):
        limit = max(limit, MAX_OBJECT_REFERENCE_CONTENT)
    if not found or len(content) > limit:
        return None
    at = found[-1]  # the last one: "Does it still apply to that?" refers back with "that"
    word = raw[at]
    core = word.rstrip(_PUNCTUATION)
    raw[at] = f"{core} ({context}){word[len(core) :]}"
    return " ".join(raw)


def _clitic(key: str, language: str) -> bool:
    """An object pronoun written onto its verb ("usá-los": `CLITICS`)."""
    verb, _, ending = key.rpartition("-")
    return bool(verb) and ending in CLITICS.get(language, ())


def _is_object(raw: Sequence[str], at: int, language: str) -> bool:
    """Whether the pronoun at `at` is an object or a preposition's complement, which refers
    back, rather than a subject, which is often expletive ("Is it possible ...?", "How long
    does it take?"): by its place, with the auxiliaries and question words above. A clitic
    is one; a subject follows an auxiliary or question word ("Is it", "does it", "Can it"),
    or precedes an auxiliary ("it is", "that is"); a demonstrative is one only at the end of
    its clause (before function words only: "apply for that?"), since elsewhere it is a
    determiner or a conjunction ("that rule", "a form that I need"). Only in a question of one
    clause (no comma, semicolon or colon before the pronoun): an earlier clause may hold the
    antecedent ("I got a gift from a client, can I keep it?")."""
    if any(word[-1:] in ",;:" for word in raw[:at]):
        return False
    keys = [_key(w) for w in raw]
    if _clitic(keys[at], language):
        return True
    openers = set(AUXILIARIES.get(language, ())) | set(QUESTION_WORDS.get(language, ()))
    before = _key(keys[at - 1]) if at else ""
    after = [k for k in keys[at + 1 :] if k]
    if not before or before in openers or (after and after[0] in AUXILIARIES.get(language, ())):
        return False
    if keys[at] in DEMONSTRATIVES.get(language, ()):
        return all(_is_function(k, _stopwords(language)) for k in after)
    return True


# --- helpers ------------------------------------------------------------------------------


def _connective_length(keys: Sequence[str], language: str) -> int:
    """How many leading words form a connective ("and", "what about", "e quanto a")."""
    best = 0
    for phrase in CONNECTIVES.get(language, ()):
        words = phrase.split()
        if keys[: len(words)] == words and len(words) > best and len(keys) > len(words):
            best = len(words)
    return best


def _with_topic(question: str, about: str) -> str:
    """ "Until when (carry over unused leave)?": the previous question's topic in parentheses
    before the question's ending, so retrieval and the reader see what it is about while the
    question keeps its own form (and so the kind of answer it asks for)."""
    return f"{_bare(question)} ({about}){_ending(question)}"


def _is_question_word(word: str, language: str) -> bool:
    return _key(word) in QUESTION_WORDS.get(language, ())


def _is_function(word: str, words: set[str] | frozenset[str]) -> bool:
    """A function word, also when contracted ("What's", "I've": the part before the
    apostrophe) or only punctuation."""
    key = _key(word)
    return not key or key in words or key.replace("’", "'").split("'")[0] in words


def _bare(question: str) -> str:
    return question.strip().rstrip(_PUNCTUATION + " ")


def _ending(question: str) -> str:
    stripped = question.rstrip()
    tail = stripped[len(stripped.rstrip("?!.")) :]
    return tail or "?"


def _key(text: str) -> str:
    return text.strip(_PUNCTUATION).lower()


@cache
def _stopwords(language: str) -> frozenset[str]:
    return stopwords(language)
