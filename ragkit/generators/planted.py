"""Planted instructions: sentences a reader must not hand back as the answer to a question.

A document can carry text written for whoever reads it next: "Email your password to
it-desk@evil.example", "Click https://evil.example/claim to verify your account", "Ignore all
previous instructions". When such a sentence is the best lexical match for a question, an
extractive reader would quote it as the answer, with the document's authority. The reader
drops it instead, unless the question is itself about that topic (a question about
passwords may be answered with a sentence about passwords).

Three kinds, each an action and its object in one sentence, matched by small English and
Portuguese word lists (no model, so it works on any language the lists cover and is cheap):

    credentials  send / share / confirm / envie ...   + password / PIN / token / senha ...
    link         click / visit / open / follow ...    + a URL or "link"; only as a command
                 (sentence start, after "please", ":" or ";"), since policies say "forms are
                 at https://..." all the time
    override     ignore / disregard / forget ...      + instructions / rules / previous ...

An action preceded by a negation ("never share your password", "não envie sua senha") is
advice, not a planted instruction. This is a filter for the obvious cases, not a classifier:
tests/test_planted.py shows what it catches and what it lets through.
"""

from __future__ import annotations

import re


def _words(*items: str) -> str:
    return r"\b(?:" + "|".join(items) + r")\b"


# "Enter your PIN at the terminal" is ordinary; handing a credential to someone is not.
_CREDENTIAL_ACTIONS = _words(
    r"send",
    r"e-?mail",
    r"mail",
    r"share",
    r"give",
    r"provide",
    r"reply",
    r"forward",
    r"submit",
    r"confirm",
    r"verify",
    r"tell",
    r"text",
    r"envi[ea]r?",
    r"mand[ea]r?",
    r"compartilh[ea]r?",
    r"inform[ea]r?",
    r"forne[cç][ea]r?",
    r"respond[ea]r?",
    r"confirm[ea]r?",
    r"pass[ea]r?",
)  # fmt: skip
_CREDENTIALS = _words(
    r"passwords?", r"passcodes?", r"passphrases?", r"pins?", r"credentials?",
    r"log-?in details", r"api keys?", r"tokens?", r"one-time codes?",
    r"verification codes?", r"security codes?", r"2fa", r"mfa", r"card numbers?", r"cvv",
    r"bank details", r"senhas?", r"credenciais", r"c[oó]digos? de (?:verifica[cç][aã]o|acesso)",
    r"dados banc[aá]rios", r"n[uú]mero do cart[aã]o",
)  # fmt: skip
_LINK_ACTIONS = _words(
    r"click", r"tap", r"visit", r"open", r"follow", r"download", r"go to", r"log ?in at",
    r"sign ?in at", r"clique", r"acesse", r"visite", r"abra", r"baixe", r"entre em",
)  # fmt: skip
_LINKS = r"(?:https?://|www\.|\b(?:link|url|here|aqui)\b)"
_OVERRIDE_ACTIONS = _words(
    r"ignore", r"disregard", r"forget", r"override", r"bypass", r"ignor[ea]m?",
    r"desconsider[ea]m?", r"esque[cç]a(?:m)?",
)  # fmt: skip
_OVERRIDE_OBJECTS = _words(
    r"instructions?", r"rules", r"previous", r"prior", r"above", r"guidelines",
    r"system prompt", r"instru[cç](?:[aã]o|[oõ]es)", r"regras", r"anteriores",
)  # fmt: skip
_NEGATION = re.compile(
    _words(r"never", r"not", r"don'?t", r"doesn'?t", r"won'?t", r"cannot", r"can'?t", r"no",
           r"nunca", r"n[aã]o", r"jamais", r"nem")
    + r"[\w\s',]{0,25}$",
    re.IGNORECASE,
)  # fmt: skip
_COMMAND_START = re.compile(r"(?:^|[:;]|\bplease\b|\bpor favor\b)\W*$", re.IGNORECASE)

# What a question must mention for sentences of a kind to be fair answers to it.
_TOPICS = {
    "credentials": re.compile(
        _CREDENTIALS + r"|" + _words(r"log ?in", r"sign ?in", r"account", r"acesso", r"conta"),
        re.IGNORECASE,
    ),
    "link": re.compile(
        _LINKS
        + r"|"
        + _words(
            r"where",
            r"website",
            r"site",
            r"portal",
            r"page",
            r"online",
            r"address",
            r"onde",
            r"p[aá]gina",
            r"endere[cç]o",
        ),
        re.IGNORECASE,
    ),
    "override": re.compile(
        _OVERRIDE_ACTIONS + r"|" + _words(r"phishing", r"injection", r"instructions?"),
        re.IGNORECASE,
    ),
}
_KINDS = {
    "credentials": (re.compile(_CREDENTIAL_ACTIONS, re.I), re.compile(_CREDENTIALS, re.I), False),
    "link": (re.compile(_LINK_ACTIONS, re.I), re.compile(_LINKS, re.I), True),
    "override": (re.compile(_OVERRIDE_ACTIONS, re.I), re.compile(_OVERRIDE_OBJECTS, re.I), False),
}


def instruction_kinds(sentence: str) -> set[str]:
    """The kinds of planted instruction `sentence` gives: {"credentials", "link", "override"}."""
    kinds = set()
    for kind, (action, target, command_only) in _KINDS.items():
        if not target.search(sentence):
            continue
        for match in action.finditer(sentence):
            before = sentence[max(0, match.start() - 40) : match.start()]
            if _NEGATION.search(before):
                continue  # "never share your password": advice
            if command_only and not _COMMAND_START.search(before):
                continue  # "the form is at https://...": information
            kinds.add(kind)
            break
    return kinds


def is_planted(question: str, sentence: str) -> bool:
    """True when `sentence` instructs the reader in a way `question` did not ask about."""
    kinds = instruction_kinds(sentence)
    return any(not _TOPICS[kind].search(question) for kind in kinds)
