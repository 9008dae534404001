"""The chain's own steps as plain functions; `ragkit.chain` glues them with LCEL.

    read_request     str | {"question", "k"?, "groups"?}  -> {"question", "k"?, "groups"?}
    (retrieve)       -> + {"documents": [Document, ...]}             (any BaseRetriever)
    format_passages  -> + {"passages": "<passage id=\"1\" ...>...</passage>..."}
    (prompt | llm)   -> {"documents": [...], "message": AIMessage}   (any chat model)
    parse_answer     -> {"answer", "abstained", "citations", "passages"}

`AnswerAssembler` is the parser's state machine: fed the whole input at once (invoke) or in
pieces (stream), it emits the same AddableDict pieces, so the pieces of a stream add up to
the invoke result: {"answer": "", "passages": [...]}, then {"answer": text piece}..., then
{"abstained", "citations"}.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.documents import Document
from langchain_core.messages import BaseMessage
from langchain_core.runnables.utils import AddableDict

from ragkit.assistant import check_k, check_question
from ragkit.errors import UsageError
from ragkit.generators.chat_model import METADATA_KEY
from ragkit.generators.grounding import answer_from_text
from ragkit.prompt import format_passages
from ragkit.retrieval.langchain import documents_to_hits
from ragkit.types import REFUSAL, Answer, Citation, Hit

REQUEST_KEYS = ("question", "groups", "k")


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
            f"(and optionally 'groups', 'k'); got keys {sorted(request)}"
        )
    state: dict[str, Any] = {"question": check_question(request["question"])}
    if request.get("k") is not None:
        state["k"] = check_k(request["k"])
    if request.get("groups") is not None:
        groups = request["groups"]
        if isinstance(groups, str) or not all(isinstance(g, str) for g in groups):
            raise UsageError(f"'groups' must be a list of group names, not {groups!r}")
        state["groups"] = sorted(set(groups))
    return state


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
            citation = Citation(chunk.source, chunk.page, chunk.section, quote, chunk.chunk_id)
            citations.append(citation)
    return citations


class AnswerAssembler:
    """Builds the answer dict from {"documents"} and {"message"} pieces, in any order."""

    def __init__(self) -> None:
        self.hits: list[Hit] | None = None
        self.message: BaseMessage | None = None
        self._waiting: list[str] = []  # text that arrived before the passages

    def feed(self, piece: Mapping[str, Any]) -> list[AddableDict]:
        out = []
        if "documents" in piece:
            self.hits = documents_to_hits(piece["documents"])
            out.append(AddableDict(answer="", passages=[hit.to_json() for hit in self.hits]))
        message = piece.get("message")
        if message is not None:
            self.message = message if self.message is None else self.message + message
            text = message.text
            if text:
                self._waiting.append(text)
        if self.hits:  # with no passages the answer is the refusal, whatever the model says
            out.extend(AddableDict(answer=text) for text in self._waiting)
            self._waiting.clear()
        return out

    def finish(self) -> list[AddableDict]:
        if self.hits is None or self.message is None:
            raise ValueError("parse_answer needs both 'documents' and 'message' in its input")
        if not self.hits:
            return [AddableDict(answer=REFUSAL, abstained=True, citations=[])]
        text = self.message.text
        structured = self.message.response_metadata.get(METADATA_KEY)
        if structured is not None:
            abstained = bool(structured.get("abstained"))
            claimed = [] if abstained else structured.get("citations", [])
            citations = validated_citations(claimed, self.hits)
        else:  # a chat model: [n] markers in free text
            answer = answer_from_text(text, self.hits, generator="chat")
            abstained, citations = answer.abstained, list(answer.citations)
        # Answer.to_json numbers each citation by its passage ("n"), as the CLI and API do
        numbered = Answer(text, abstained, tuple(citations), tuple(self.hits)).to_json()
        return [AddableDict(abstained=abstained, citations=numbered["citations"])]


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
