"""The chain's own steps as plain functions; `ragkit.chain` glues them with LCEL.

    read_request     str | {"question", "k"?, "groups"?, "history"?}
                     -> {"question" (standalone when there is history), "k"?, "groups"?}
    (retrieve)       -> + {"documents": [Document, ...]}             (any BaseRetriever)
    format_passages  -> + {"passages": "<passage id=\"1\" ...>...</passage>..."}
    (prompt | llm)   -> {"documents": [...], "message": AIMessage}   (any chat model)
    parse_answer     -> {"answer", "abstained", "citations", "passages", "grounded",
                         "unverified"} (+ "standalone_question" when the input had a
                         "history"); grounded is False, with the reason in "unverified",
                         when the model's citations do not check out against the passages

`AnswerAssembler` is the parser's state machine: fed the whole input at once (invoke) or in
pieces (stream), it emits the same AddableDict pieces, so the pieces of a stream add up to
the invoke result: {"answer": "", "passages": [...]}, then {"answer": text piece}..., then
{"abstained", "citations", "grounded", "unverified"}.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.runnables.utils import AddableDict

from ragkit.access import check_groups
from ragkit.assistant import check_k, check_question
from ragkit.errors import UsageError
from ragkit.followup import standalone
from ragkit.generators.chat_model import METADATA_KEY
from ragkit.generators.grounding import answer_from_text
from ragkit.prompt import format_passages
from ragkit.retrieval.langchain import documents_to_hits
from ragkit.types import REFUSAL, Answer, Citation, Hit

REQUEST_KEYS = ("question", "groups", "k", "history")


def read_request(request: Any) -> dict[str, Any]:
    """The chain's input checked and normalised. Raises UsageError naming what is wrong."""
    if isinstance(request, str):
        return {"question": check_question(request)}
    if not isinstance(request, Mapping):
        raise UsageError(f"chain input must be a string or a dict, not {type(request).__name__}")
    unknown = set(request) - set(REQUEST_KEYS)
    if unknown or "question" not in request:
        raise UsageError(
            "chain input must be a question string or a dict with 'question' "
            f"(and optionally 'groups', 'k', 'history'); got keys {sorted(request)}"
        )
    state: dict[str, Any] = {"question": check_question(request["question"])}
    if request.get("history") is not None:
        # the follow-up is searched and answered as a standalone question, shown in the output
        state["question"] = standalone(state["question"], user_turns(request["history"]))
        state["standalone_question"] = state["question"]
    # Given explicitly, None is an error, not "the default": groups decide what may be read.
    if "k" in request:
        state["k"] = check_k(request["k"])
    if "groups" in request:
        state["groups"] = sorted(check_groups(request["groups"], what="the chain's 'groups' input"))
    return state


def user_turns(history: Any) -> list[str]:
    """The asker's earlier questions, oldest first, from a chat history: question strings,
    (role, content) pairs, {"role", "content"} dicts or LangChain messages; the assistant's
    turns are skipped (they are answers, not topics). Raises UsageError for anything else."""
    if isinstance(history, str | bytes) or not isinstance(history, Sequence):
        raise UsageError(f"'history' must be a list of earlier turns, not {type(history).__name__}")
    turns = []
    for item in history:
        role, content = "user", item
        if isinstance(item, BaseMessage):
            role, content = ("user" if item.type == "human" else item.type), item.text
        elif isinstance(item, Mapping):
            role, content = str(item.get("role", "user")), item.get("content")
        elif isinstance(item, tuple | list) and len(item) == 2:
            role, content = str(item[0]), item[1]
        if not isinstance(content, str):
            raise UsageError(
                "each 'history' turn must be a question string, a (role, content) pair, a "
                f"{{'role', 'content'}} dict or a LangChain message, not {item!r}"[:300]
            )
        if role in ("user", "human") and content.strip():
            turns.append(content)
    return turns


def keep_standalone_question(state: Mapping[str, Any]) -> str | None:
    return state.get("standalone_question")


def retrieval_options(state: Mapping[str, Any]) -> dict[str, Any]:
    """The keyword arguments a retriever call gets: only what the request set."""
    return {key: state[key] for key in ("k", "groups") if key in state}


def format_documents(state: Mapping[str, Any]) -> str:
    """The retrieved documents as the prompt's numbered, delimited passages."""
    return format_passages(documents_to_hits(state["documents"]))


def validated_citations(
    claimed: Sequence[Mapping[str, Any]], hits: Sequence[Hit]
) -> list[Citation]:
    """Structured citations kept only when the passage exists and the quote is verbatim in it."""
    citations = []
    for item in claimed:
        number, quote = item.get("passage"), item.get("quote")
        if not isinstance(number, int) or not isinstance(quote, str) or not quote.strip():
            continue
        if 1 <= number <= len(hits) and quote in hits[number - 1].chunk.text:
            chunk = hits[number - 1].chunk
            citation = Citation.of(chunk, quote)
            citations.append(citation)
    return citations


class AnswerAssembler:
    """Builds the answer dict from {"documents"}, {"standalone_question"} and {"message"}
    pieces arriving in any order; the first piece out is always the passages (with the
    standalone question when there is one), then the answer text, then the citations."""

    def __init__(self) -> None:
        self.hits: list[Hit] | None = None
        self.message: BaseMessage | None = None
        self._waiting: list[str] = []  # text that arrived before the passages
        self._standalone: str | None = None
        self._seen_standalone = False  # build_chain always sends the key (None: no history)
        self._started = False

    def feed(self, piece: Mapping[str, Any]) -> list[AddableDict]:
        if "standalone_question" in piece:
            self._seen_standalone = True
            self._standalone = piece["standalone_question"]
        if "documents" in piece:
            self.hits = documents_to_hits(piece["documents"])
        message = piece.get("message")
        if message is not None:
            self.message = message if self.message is None else self.message + message
            if message.text:
                self._waiting.append(message.text)
        return self._flush(ready=self._seen_standalone)

    def _flush(self, *, ready: bool) -> list[AddableDict]:
        out = []
        if not self._started and self.hits is not None and ready:
            first = AddableDict(answer="", passages=[hit.to_json() for hit in self.hits])
            if self._standalone is not None:
                first["standalone_question"] = self._standalone
            out.append(first)
            self._started = True
        if self._started and self.hits:  # no passages: the refusal, whatever the model says
            out.extend(AddableDict(answer=text) for text in self._waiting)
            self._waiting.clear()
        return out

    def finish(self) -> list[AddableDict]:
        if self.hits is None or self.message is None:
            raise ValueError("parse_answer needs both 'documents' and 'message' in its input")
        out = self._flush(ready=True)
        if not self.hits:
            return [
                *out,
                AddableDict(
                    answer=REFUSAL, abstained=True, citations=[], grounded=False, unverified=None
                ),
            ]
        text = self.message.text
        structured = self.message.response_metadata.get(METADATA_KEY)
        if structured is not None:
            abstained = bool(structured.get("abstained"))
            claimed = [] if abstained else structured.get("citations", [])
            citations = validated_citations(claimed, self.hits)
            unverified = None if abstained else structured.get("unverified")
        else:  # a chat model: [n] markers in free text
            answer = answer_from_text(text, self.hits, generator="chat")
            abstained, citations = answer.abstained, list(answer.citations)
            unverified = answer.metadata.get("unverified")
        if not abstained and not citations and unverified is None:
            unverified = "no citation quotes a given passage"
        # Answer.to_json numbers each citation by its passage ("n"), as the CLI and API do
        numbered = Answer(text, abstained, tuple(citations), tuple(self.hits)).to_json()
        grounded = not abstained and unverified is None
        return [
            *out,
            AddableDict(
                abstained=abstained,
                citations=numbered["citations"],
                grounded=grounded,
                unverified=unverified,
            ),
        ]


def parse_answer(pieces: Iterator[Mapping[str, Any]]) -> Iterator[AddableDict]:
    assembler = AnswerAssembler()
    for piece in pieces:
        yield from assembler.feed(piece)
    yield from assembler.finish()


async def aparse_answer(pieces: AsyncIterator[Mapping[str, Any]]) -> AsyncIterator[AddableDict]:
    assembler = AnswerAssembler()
    async for piece in pieces:
        for out in assembler.feed(piece):
            yield out
    for out in assembler.finish():
        yield out


def documents_of(state: Mapping[str, Any]) -> list[Document]:
    return list(state["documents"])
