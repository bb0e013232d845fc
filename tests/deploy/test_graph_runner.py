"""The model graph run without dask gives Rasa's own results on the trained model: the
same understanding of customer messages and the same next-action predictions."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from deploy.rasa_patches import graph_runner

pytestmark = pytest.mark.slow

TEXTS = [
    "我的订单到哪了",
    "帮我查一下快递 SF1234567890",
    "我要退货",
    "积分还有多少",
    "转人工",
    "where is my order",
    "how many points do I have",
    "I want to cancel order 10086",
    "谢谢",
    "1",
]


@pytest.fixture(scope="module")
def agent(trained_model: Path) -> Agent:
    return Agent.load(str(trained_model))


async def _understand(agent: Agent, run) -> list[dict]:
    DaskGraphRunner.run = run
    try:
        return [await agent.processor.parse_message(UserMessage(t)) for t in TEXTS]
    finally:
        DaskGraphRunner.run = graph_runner._original_run


def _predict(agent: Agent, run, parsed: dict, language: str) -> tuple:
    tracker = DialogueStateTracker.from_events(
        "graph-runner-test",
        [
            ActionExecuted("action_session_start"),
            SessionStarted(),
            ActionExecuted("action_listen"),
            UserUttered(parsed["text"], parsed["intent"], parsed["entities"], parsed),
            SlotSet("language", language),
        ],
        agent.domain.slots,
    )
    DaskGraphRunner.run = run
    try:
        prediction = agent.processor._predict_next_with_tracker(tracker)
    finally:
        DaskGraphRunner.run = graph_runner._original_run
    return prediction.policy_name, prediction.max_confidence_index, prediction.probabilities


def test_messages_are_understood_as_with_dask(agent: Agent) -> None:
    ours = asyncio.run(_understand(agent, graph_runner.run))
    theirs = asyncio.run(_understand(agent, graph_runner._original_run))
    assert ours == theirs
    assert {p["intent"]["name"] for p in ours} != {None}  # the model really ran


def test_next_actions_are_predicted_as_with_dask(agent: Agent) -> None:
    parsed = asyncio.run(_understand(agent, graph_runner._original_run))
    for one in parsed:
        language = "zh" if any("\u4e00" <= c <= "\u9fff" for c in one["text"]) else "en"
        ours = _predict(agent, graph_runner.run, one, language)
        assert ours == _predict(agent, graph_runner._original_run, one, language)
        assert ours[0]  # a policy decided


def test_an_input_named_like_a_node_is_refused_as_by_dask(agent: Agent) -> None:
    runner = agent.processor.graph_runner
    node = next(iter(runner._graph_schema.nodes))
    targets = [node]
    for run in (graph_runner.run, graph_runner._original_run):
        with pytest.raises(GraphRunError, match="clashes with a node name"):
            run(runner, {"__message__": node}, targets)
