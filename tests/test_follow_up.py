"""Follow-up questions: rewritten offline into standalone ones (`ragkit.followup`), then
searched and answered as such in `ragkit chat`, the chain's `history` input and multi-message
`/v1/chat/completions`. Documents and conversations: tests/fixtures/chat-follow-up (the
English ones from ../shared/cases/17-chat-follow-up, plus a Portuguese policy)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from ragkit.followup import align, detect_language, standalone, tokens

FIXTURES = Path(__file__).parent / "fixtures" / "chat-follow-up"
CONVERSATIONS = json.loads((FIXTURES / "conversations.json").read_text(encoding="utf-8"))
GERMANY = "How many days of annual leave do employees in the Germany office get?"
UK = "How many days of annual leave do employees in the United Kingdom office get?"


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    from ingest.pipeline import IngestOptions, ingest

    index = tmp_path_factory.mktemp("follow-up-index")
    report = ingest([FIXTURES / "docs"], index, IngestOptions(model="hash:256", progress=False))
    assert report.ok
    return index


@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=lambda c: c["about"][:40])
def test_each_turn_is_rewritten_into_its_standalone_form(conversation):
    asked: list[str] = []
    for question, expected in conversation["turns"]:
        assert standalone(question, asked) == expected
        asked.append(question)  # raw turns: each earlier one is made standalone first


def test_alignment_needs_an_anchor_and_replaces_whole_names():
    before = tokens(UK.split(), "english", initial_is_name=False)
    # "France" faces the name "United Kingdom": the span is the name, and only the name
    start, end = align(before, tokens(["France"], "english", initial_is_name=True))
    assert [t.key for t in before[start:end]] in (["united"], ["kingdom"], ["united", "kingdom"])
    # function words alone ("in the") anchor nothing
    assert align(before, tokens(["in", "the", "evening"], "english", initial_is_name=True)) is None
    assert standalone("And in the evening?", [GERMANY]).endswith("get, in the evening?")


def test_language_is_the_stopword_list_the_words_hit_most():
    assert detect_language("Quantos dias de férias têm os funcionários?") == "portuguese"
    assert detect_language("¿Cuántos días de vacaciones tienen los empleados?") == "spanish"
    assert detect_language(GERMANY) == "english"
    assert detect_language("L5?") == "english"  # no evidence: the default


def test_no_history_or_long_turns_leave_the_question_as_asked():
    assert standalone("  And in the UK?  ", []) == "And in the UK?"
    assert standalone("And in the United Kingdom office?", ["x " * 3000]) == (
        "And in the United Kingdom office?"
    )


def test_chat_json_prints_one_object_per_turn_with_the_standalone_question(
    index, monkeypatch, capsys
):
    from ragkit.cli import main

    turns = [
        GERMANY,
        "And in the United Kingdom office?",
        "Quantos dias de férias têm os funcionários do escritório de Lisboa?",
        "E no escritório do Porto?",
        "/history",
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(turns) + "\n"))
    assert main(["chat", "--index", str(index), "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 5  # four turns and the history; no banner, no prompt
    first, uk, lisbon, porto, history = lines
    assert first["standalone_question"] == first["question"] == GERMANY
    assert "30 days" in first["answer"]
    assert uk["question"] == "And in the United Kingdom office?"
    assert uk["standalone_question"] == UK
    assert not uk["abstained"] and "25 days" in uk["answer"] and "30 days" not in uk["answer"]
    assert set(uk) == {"question", "standalone_question", "answer", "abstained", "citations",
                       "passages"}  # fmt: skip
    assert "22 dias" in lisbon["answer"]
    assert porto["standalone_question"].endswith("no escritório do Porto?")
    assert "24 dias" in porto["answer"] and "22 dias" not in porto["answer"]
    assert [turn["question"] for turn in history["history"]] == turns[:4]


def test_chat_shows_how_it_read_a_follow_up(index, monkeypatch, capsys):
    from ragkit.cli import main

    monkeypatch.setattr("sys.stdin", io.StringIO(f"{GERMANY}\nAnd in the United Kingdom office?\n"))
    assert main(["chat", "--index", str(index)]) == 0
    out = capsys.readouterr().out
    assert f"(read as: {UK})" in out and out.count("(read as:") == 1
    assert "25 days" in out


def test_chain_history_input_answers_the_standalone_question(index):
    from ragkit.chain import load_chain

    chain = load_chain(index)
    history = [("user", GERMANY), ("assistant", "30 days [1].")]
    result = chain.invoke({"question": "And in the United Kingdom office?", "history": history})
    assert result["standalone_question"] == UK
    direct = chain.invoke(UK)
    assert {k: v for k, v in result.items() if k != "standalone_question"} == direct
    assert "25 days" in result["answer"]

    pieces = list(
        chain.stream({"question": "And in the United Kingdom office?", "history": [GERMANY]})
    )
    assert "passages" in pieces[0] and pieces[0]["standalone_question"] == UK
    total = pieces[0]
    for piece in pieces[1:]:
        total = total + piece
    assert total == result
    assert "standalone_question" not in chain.invoke(UK)  # no history, the output as before


@pytest.mark.parametrize(
    "history, message",
    [("How many days?", "must be a list"), ([{"role": "user", "content": 3}], "each 'history'")],
)
def test_bad_history_is_a_clear_error(index, history, message):
    from ragkit.chain import load_chain
    from ragkit.errors import UsageError

    with pytest.raises(UsageError, match=message):
        load_chain(index).invoke({"question": "And in the UK?", "history": history})


def test_chat_completions_read_earlier_user_messages(index):
    from fastapi.testclient import TestClient

    from ragkit.assistant import Assistant
    from ragkit.serve.app import create_app
    from ragkit.serve.limits import ServeLimits

    client = TestClient(create_app(Assistant.from_index(index), index, no_auth=True))
    messages = [
        {"role": "system", "content": "You answer HR questions."},
        {"role": "user", "content": GERMANY},
        {"role": "assistant", "content": "Employees in the Germany office receive 30 days [1]."},
        {"role": "user", "content": "And in the United Kingdom office?"},
    ]
    body = client.post("/v1/chat/completions", json={"messages": messages}).json()
    assert body["standalone_question"] == UK
    assert "25 days" in body["choices"][0]["message"]["content"]

    stream = client.post("/v1/chat/completions", json={"messages": messages, "stream": True})
    events = [json.loads(line[6:]) for line in stream.text.splitlines() if line[6:8] == '{"']
    assert events[-1]["standalone_question"] == UK and events[-1]["citations"]
    content = "".join(e["choices"][0]["delta"].get("content", "") for e in events)
    assert "25 days" in content

    alone = client.post("/v1/chat/completions", json={"messages": messages[-1:]}).json()
    assert "standalone_question" not in alone  # one message: nothing to read it against

    small = TestClient(
        create_app(
            Assistant.from_index(index), index, no_auth=True,
            limits=ServeLimits(max_question_chars=60),
        )
    )  # fmt: skip
    short = small.post("/v1/chat/completions", json={"messages": messages}).json()
    assert short["standalone_question"] == "And in the United Kingdom office?"  # too long


def test_ask_endpoint_reads_the_history_the_web_page_sends(index):
    from fastapi.testclient import TestClient

    from ragkit.assistant import Assistant
    from ragkit.serve.app import create_app

    client = TestClient(create_app(Assistant.from_index(index), index, no_auth=True))
    follow_up = {"question": "And in the United Kingdom office?", "history": [GERMANY]}
    body = client.post("/v1/ask", json=follow_up).json()
    assert body["standalone_question"] == UK and "25 days" in body["answer"]
    stream = client.post("/v1/ask", json={**follow_up, "stream": True})
    events = [
        json.loads(line[6:]) for line in stream.text.splitlines() if line.startswith("data: {")
    ]
    assert events[-1]["type"] == "answer" and events[-1]["standalone_question"] == UK
    plain = client.post("/v1/ask", json={"question": GERMANY}).json()
    assert "standalone_question" not in plain
    bad = client.post("/v1/ask", json={"question": "And in the UK?", "history": [" "]})
    assert bad.status_code == 400  # an empty earlier question is refused, as a question is


@pytest.mark.slow
def test_case_17_follow_ups_are_answered_as_their_standalone_forms(tmp_path):
    """The real embedding model: each follow-up gets the answer its standalone form gets."""
    from ingest.pipeline import IngestOptions, ingest
    from ragkit.assistant import Assistant
    from ragkit.conversation import Conversation

    index = tmp_path / "index"
    assert ingest([FIXTURES / "docs"], index, IngestOptions(progress=False)).ok
    assistant = Assistant.from_index(index)
    pairs = [
        (GERMANY, "And in the United Kingdom office?", UK),
        (
            "How long do I have to submit expense claims?",
            "Is there an exception to that?",
            "Is there an exception to the deadline for submitting expense claims?",
        ),
        (
            "Com quanta antecedência devo marcar as férias?",
            "Há alguma exceção a isso?",
            "Há alguma exceção ao prazo de marcação das férias?",
        ),
    ]
    for first, follow_up, by_hand in pairs:
        conversation = Conversation(assistant)
        conversation.ask(first)
        turn = conversation.ask(follow_up)
        assert turn.standalone != follow_up
        assert turn.answer.text == assistant.ask(by_hand).text, follow_up
    assert "25 days" in Conversation(assistant).ask(UK).answer.text


@pytest.mark.slow
def test_a_new_aspect_after_and_is_answered_with_its_own_fact(tmp_path):
    """The real embedding model: "And until when ...?" after a Germany entitlement question
    gets the carry-over rule, not the entitlement (the topic no longer carries the constraint
    "in the Germany office"); the same in Portuguese. Either sentence of the carry-over rule
    answers "until when" ("into the first quarter of the following year", "by 31 March")."""
    from ingest.pipeline import IngestOptions, ingest
    from ragkit.assistant import Assistant
    from ragkit.conversation import Conversation

    index = tmp_path / "index"
    assert ingest([FIXTURES / "docs"], index, IngestOptions(progress=False)).ok
    assistant = Assistant.from_index(index)
    for first, follow_up, facts, entitlement in [
        (
            GERMANY,
            "And until when can I carry unused days over?",
            ("31 March", "first quarter of the following year"),
            "30 days",
        ),
        (
            "Quantos dias de férias têm os funcionários do escritório de Lisboa?",
            "E com quanta antecedência devo marcá-las?",
            ("30 dias de antecedência",),
            "22 dias",
        ),
    ]:
        conversation = Conversation(assistant)
        conversation.ask(first)
        text = conversation.ask(follow_up).answer.text
        assert any(fact in text for fact in facts) and entitlement not in text, (follow_up, text)
