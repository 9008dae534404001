"""The assistant as a LangChain chain made of visible, replaceable steps.

    chain = ragkit.load_chain(".index")
    chain.invoke("How many days of annual leave do I get?")
    # {"answer": ..., "abstained": False, "citations": [...], "passages": [...]}

`build_chain(retriever=..., prompt=..., llm=...)` composes, in LCEL:

    read_request                        str | {"question", "groups"?, "k"?} -> checked state
    | assign(documents = retrieve)      a LangChain BaseRetriever (RagkitRetriever by default)
    | assign(passages = format_passages)  numbered, delimited passages (ragkit.prompt)
    | {documents, message = prompt | llm}  a ChatPromptTemplate over {passages} and {question};
                                        any chat model, or a ragkit Generator as one
    | parse_answer                      the answer dict; citations checked against the passages

Every step is a named run in a LangChain trace (callbacks, LangSmith): "read_request",
"retrieve" (with the retriever's own run inside), "format_passages", the prompt, the model
("extractive" for the default reader), "parse_answer". Replace any of them through
`build_chain`'s arguments, or compose your own from `ragkit.chain_steps`.

Input is a question string, or a dict with "question" and optionally "groups", "k" and
"history" (the conversation so far: question strings, (role, content) pairs, {"role",
"content"} dicts or LangChain messages, oldest first). With a history, a follow-up ("And in
the UK office?") is rewritten offline into a standalone question (`ragkit.followup`), which is
searched and answered and comes back as "standalone_question".
Output is the JSON shape of an answer (see `ragkit.types`). Streaming yields dict pieces that
add up to that output (LangChain's AddableDict): first {"answer": "", "passages": [...]}, then
{"answer": "<text piece>"} as it is generated, last {"abstained": ..., "citations": [...],
"grounded": ..., "unverified": ...}. "grounded" is False (and "unverified" says why) when the
model's [n] citations do not check out against the passages (`grounding.check_citations`).

The "groups" input key decides what the asker may see: pass it from your own authentication,
never from unchecked end-user input. It reaches the retriever as a call argument; a
LangChain retriever whose `_get_relevant_documents` takes no `groups` ignores it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ragkit.access import check_groups
from ragkit.assistant import Assistant

if TYPE_CHECKING:  # pragma: no cover
    from langchain_core.documents import Document
    from langchain_core.runnables import Runnable, RunnableConfig

    from ragkit.protocols import Generator, Retriever


def build_chain(
    retriever: Any,
    prompt: Any = None,
    llm: Any = None,
    *,
    k: int = 5,
    groups: Sequence[str] = (),
    name: str = "ragkit",
) -> Runnable:
    """The chain over `retriever` -> `prompt` -> `llm`; see the module docstring.

    - `retriever`: a LangChain `BaseRetriever`, or a ragkit `Retriever` (wrapped in
      `RagkitRetriever` with default `k` and `groups`; a request's own "k"/"groups" win).
    - `prompt`: a prompt template over {passages} and {question}; default
      `ragkit.prompt.chat_prompt()` (the system prompt saying passages are data).
    - `llm`: any LangChain chat model or Runnable taking the prompt, or a ragkit `Generator`
      (wrapped in `GeneratorChatModel`); default the offline extractive reader, sharing the
      retriever's embedder when it has one.
    """
    from operator import itemgetter

    from langchain_core.language_models import BaseLanguageModel
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables import (
        RunnableGenerator,
        RunnableLambda,
        RunnableParallel,
        RunnablePassthrough,
    )

    from ragkit import chain_steps
    from ragkit.generators.chat_model import GeneratorChatModel
    from ragkit.prompt import chat_prompt
    from ragkit.retrieval.langchain import RagkitRetriever

    if not isinstance(retriever, BaseRetriever):
        retriever = RagkitRetriever(retriever=retriever, k=k, groups=check_groups(groups))
    if prompt is None:
        prompt = chat_prompt()
    if llm is None:
        from ragkit.generators.extractive import ExtractiveGenerator

        inner = getattr(retriever, "retriever", None)
        llm = ExtractiveGenerator(embedder=getattr(inner, "embedder", None))
    if not isinstance(llm, BaseLanguageModel) and hasattr(llm, "stream_answer"):
        llm = GeneratorChatModel(generator=llm)

    def retrieve(state: dict[str, Any], config: RunnableConfig) -> list[Document]:
        options = chain_steps.retrieval_options(state)
        documents: list[Document] = retriever.invoke(state["question"], config, **options)
        return documents

    return (
        RunnableLambda(chain_steps.read_request, name="read_request")
        | RunnablePassthrough.assign(documents=RunnableLambda(retrieve, name="retrieve"))
        | RunnablePassthrough.assign(
            passages=RunnableLambda(chain_steps.format_documents, name="format_passages")
        )
        | RunnableParallel(
            documents=RunnableLambda(itemgetter("documents"), name="keep_documents"),
            standalone_question=RunnableLambda(
                chain_steps.keep_standalone_question, name="keep_question"
            ),
            message=(prompt | llm).with_config(run_name="generate"),
        )
        | RunnableGenerator(
            chain_steps.parse_answer, chain_steps.aparse_answer, name="parse_answer"
        )
    ).with_config(run_name=name)


def load_chain(
    index_dir: Path | str,
    llm: str = "extractive",
    *,
    k: int = 5,
    groups: Sequence[str] = (),
    adapter: Path | str | None = None,
    system_prompt: Path | str | None = None,
) -> Runnable:
    """The chain over the index at `index_dir` with the defaults; `llm` takes the CLI's `--llm`
    values (extractive, hf:MODEL, PROVIDER:MODEL). Errors as `Assistant.from_index`."""
    assistant = Assistant.from_index(
        index_dir, llm=llm, k=k, groups=groups, adapter=adapter, system_prompt=system_prompt
    )
    return as_runnable(assistant)


def as_runnable(assistant: Assistant) -> Runnable:
    """`build_chain` over an Assistant's retriever and generator (a chat model given as a
    `ChatModelGenerator` runs as itself, under its own system prompt)."""
    from ragkit.generators.chat import ChatModelGenerator
    from ragkit.prompt import chat_prompt

    generator: Generator = assistant.generator
    retriever: Retriever = assistant.retriever
    if isinstance(generator, ChatModelGenerator):
        return build_chain(
            retriever,
            chat_prompt(generator.system_prompt),
            generator.model,
            k=assistant.k,
            groups=sorted(assistant.groups),
        )
    system = getattr(generator, "system_prompt", None)
    return build_chain(
        retriever,
        chat_prompt(system if isinstance(system, str) else None),
        generator,
        k=assistant.k,
        groups=sorted(assistant.groups),
    )
