"""Any ragkit `Generator` (the extractive reader, a local transformers model) as a LangChain
chat model, so the chain's "llm" step is a Runnable whatever answers.

It reads its input the way a chat model does, from the prompt: the `<passage>` blocks that
`ragkit.prompt.format_passages` writes (in any message) and the question (the last human
message's "Question:" line, else that message without its passages). It then answers with
the generator's own method: the extractive reader quotes units of those passages; the HF
generator renders the same prompt fitted to its context window. A ragkit generator does not
read other instructions in the prompt: a swapped system prompt changes what a chat model
says, not what the extractive reader quotes.

The reply is an `AIMessage` whose content is the answer text, with the structured result in
`response_metadata["ragkit"]`: {"generator", "abstained", "unverified", "citations":
[{"passage": n, "quote": str}]} (n is the 1-based passage number; "unverified" is None or why
the model's own [n] markers do not check out, see `grounding.check_citations`). The chain's
parser checks every quote against the retrieved passage it names before trusting it.
Streaming yields the generator's text pieces, then an empty chunk carrying that metadata.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, model_validator

from ragkit.prompt import parse_passages
from ragkit.protocols import Generator
from ragkit.types import Answer, Hit

METADATA_KEY = "ragkit"
_QUESTION = re.compile(r"^Question:[ \t]*", re.MULTILINE)
_BLOCKS = re.compile(r"<passage id=.*?</passage>", re.DOTALL)


class GeneratorChatModel(BaseChatModel):
    """`GeneratorChatModel(generator=g).invoke(prompt)` -> AIMessage(answer text,
    response_metadata={"ragkit": {...}})."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    generator: Generator

    @model_validator(mode="after")
    def _named_after_the_generator(self) -> GeneratorChatModel:
        # The run shows in a trace under the generator's name ("extractive", "hf:...").
        if self.name is None:
            self.name = self.generator.name
        return self

    @property
    def _llm_type(self) -> str:
        return f"ragkit-{self.generator.name}"

    def warm_up(self) -> None:
        warm_up = getattr(self.generator, "warm_up", None)
        if warm_up is not None:
            warm_up()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        question, hits = read_prompt(messages)
        answer = self.generator.generate(question, hits)
        message = AIMessage(content=answer.text, response_metadata=self._metadata(answer, hits))
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        question, hits = read_prompt(messages)
        for item in self.generator.stream_answer(question, hits):
            if isinstance(item, Answer):
                last = AIMessageChunk(content="", response_metadata=self._metadata(item, hits))
                yield ChatGenerationChunk(message=last)
                continue
            chunk = ChatGenerationChunk(message=AIMessageChunk(content=item))
            if run_manager is not None:
                run_manager.on_llm_new_token(item, chunk=chunk)
            yield chunk

    def _metadata(self, answer: Answer, hits: Sequence[Hit]) -> dict[str, Any]:
        number_of = {hit.chunk.chunk_id: n for n, hit in enumerate(hits, start=1)}
        citations = [
            {"passage": number_of[c.chunk_id], "quote": c.quote}
            for c in answer.citations
            if c.chunk_id in number_of
        ]
        result = {
            "generator": self.generator.name,
            "abstained": answer.abstained,
            "unverified": answer.metadata.get("unverified"),
        }
        return {METADATA_KEY: {**result, "citations": citations}}


def read_prompt(messages: Sequence[BaseMessage]) -> tuple[str, list[Hit]]:
    """(question, passages as hits) from a rendered prompt; see the module docstring."""
    texts = [message.text for message in messages]
    hits = parse_passages("\n\n".join(texts))
    human = [m.text for m in messages if isinstance(m, HumanMessage)]
    last = human[-1] if human else (texts[-1] if texts else "")
    labels = list(_QUESTION.finditer(last))  # the last one: a passage may hold such a line
    question = last[labels[-1].end() :] if labels else _BLOCKS.sub("", last)
    return question.strip(), hits
