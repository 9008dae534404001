"""The LangChain Runnable: invoke, stream, batch, composition, access groups, bad input."""

from __future__ import annotations

import pytest
from conftest import HIT_JSON_KEYS

from ragkit.chain import load_chain
from ragkit.errors import RagkitError, UsageError


@pytest.fixture(scope="module")
def chain(tiny_index):
    return load_chain(tiny_index)


def test_invoke_answers_with_a_verifiable_citation(chain):
    result = chain.invoke("How many days of annual leave do employees get?")
    assert set(result) == {
        "answer",
        "abstained",
        "citations",
        "passages",
        "grounded",
        "unverified",
    }
    assert result["grounded"] is True and result["unverified"] is None
    assert not result["abstained"] and "25 days" in result["answer"]
    citation = result["citations"][0]
    assert citation["source"] == "leave.md"
    passage_texts = [p["text"] for p in result["passages"] if p["source"] == citation["source"]]
    assert any(citation["quote"] in text for text in passage_texts)
    assert set(result["passages"][0]) == HIT_JSON_KEYS


def test_stream_pieces_add_up_to_the_invoke_result(chain):
    question = "How many days of annual leave do employees get?"
    pieces = list(chain.stream(question))
    assert "passages" in pieces[0] and "citations" in pieces[-1]
    assert [p for p in pieces if p.get("answer")]  # the text arrives before the citations
    total = pieces[0]
    for piece in pieces[1:]:
        total = total + piece
    assert total == chain.invoke(question)


def test_batch_and_composition(chain):
    from langchain_core.runnables import RunnableLambda

    answers = chain.batch(["meal allowance per day?", "carry over unused leave?"])
    assert "40 EUR" in answers[0]["answer"] and "5 unused days" in answers[1]["answer"]
    just_text = chain | RunnableLambda(lambda result: result["answer"])
    assert "40 EUR" in just_text.invoke("meal allowance per day?")


def test_restricted_text_reaches_only_its_group(chain):
    question = {"question": "What does band L4 pay?"}
    public = chain.invoke(question)
    assert "68,000" not in str(public)
    assert all(p["source"] != "salary.md" for p in public["passages"])
    manager = chain.invoke({**question, "groups": ["managers"]})
    assert "68,000" in manager["answer"]


def test_unrelated_question_is_refused(chain):
    result = chain.invoke("What is the policy on bringing pets to the office?")
    assert result["abstained"] and result["citations"] == []


@pytest.mark.parametrize(
    "bad, message",
    [
        ("", "question is empty"),
        ("x" * 100_000, "the limit is"),
        ({"q": "hi"}, "'question'"),
        (42, "string or a dict"),
    ],
)
def test_bad_input_is_a_clear_error(chain, bad, message):
    with pytest.raises(UsageError, match=message):
        chain.invoke(bad)


def test_unknown_llm_and_misplaced_adapter_are_refused(tiny_index, tmp_path):
    with pytest.raises(RagkitError, match="unknown --llm 'gpt'"):
        load_chain(tiny_index, llm="gpt")
    with pytest.raises(RagkitError, match="--adapter needs --llm hf:"):
        load_chain(tiny_index, adapter=tmp_path)


def test_a_langchain_chat_model_answers_through_the_same_chain(tiny_index):
    from langchain_core.language_models import GenericFakeChatModel
    from langchain_core.messages import AIMessage

    from ragkit.assistant import Assistant
    from ragkit.chain import as_runnable
    from ragkit.generators.chat import ChatModelGenerator

    model = GenericFakeChatModel(messages=iter([AIMessage("Employees get 25 days of leave [1].")]))
    assistant = Assistant.from_index(tiny_index)
    assistant.generator = ChatModelGenerator(model, name="fake")
    result = as_runnable(assistant).invoke("How many leave days?")
    assert result["answer"] == "Employees get 25 days of leave [1]."
    first = result["passages"][0]
    assert result["citations"][0]["source"] == first["source"]
    assert result["citations"][0]["quote"] in first["text"]


def test_missing_provider_package_names_what_to_install():
    from ragkit.generators.chat import init_chat

    with pytest.raises(RagkitError, match="pip install langchain-"):
        init_chat("anthropic:claude-sonnet")


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (AttributeError("module has no attribute 'ChatOllama'"), "pip install langchain-ollama"),
        (RuntimeError("Missing credentials. Please pass an `api_key`"), "--llm ollama:x: Missing"),
    ],
)
def test_chat_model_construction_failures_are_one_line(monkeypatch, raised, expected):
    import langchain.chat_models

    from ragkit.generators.chat import init_chat

    def fail(*args, **kwargs):
        raise raised

    monkeypatch.setattr(langchain.chat_models, "init_chat_model", fail)
    with pytest.raises(RagkitError, match=expected) as info:
        init_chat("ollama:x")
    assert "\n" not in str(info.value)
