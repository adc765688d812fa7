"""The loaded model's graph runs node after node, with the same inputs and outputs as under Rasa's dask runner."""
from __future__ import annotations

from typing import Any, Dict, List

import pytest
from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import ExecutionContext, GraphComponent, GraphSchema, SchemaNode
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.engine.storage.local_model_storage import LocalModelStorage

from bot.graph_runner import SequentialGraphRunner

RUNNERS = [DaskGraphRunner, SequentialGraphRunner]


class Part(GraphComponent):
    """Writes down that it ran, and what it got from the nodes it needs."""

    ran: List[str] = []

    def __init__(self, name: str) -> None:
        self.name = name

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage, resource, execution_context) -> "Part":
        return cls(config["name"])

    def run(self, **needed: Any) -> str:
        Part.ran.append(self.name)
        return f"{self.name}({','.join(f'{k}={v}' for k, v in sorted(needed.items()))})"


def node(name: str, is_target: bool = False, **needs: str) -> SchemaNode:
    return SchemaNode(needs=needs, uses=Part, constructor_name="create", fn="run", config={"name": name},
                      eager=True, is_target=is_target)


# Declared out of order: "whole" needs "left" and "right", which both need "tokens", which needs the input.
SCHEMA = GraphSchema({
    "whole": node("whole", is_target=True, first="left", second="right"),
    "right": node("right", tokens="tokens"),
    "unneeded": node("unneeded", tokens="tokens"),
    "left": node("left", tokens="tokens", start="start"),
    "tokens": node("tokens", text="__text__"),
    "start": node("start"),
})


def runner(runner_class: type, tmp_path) -> DaskGraphRunner:
    return runner_class(SCHEMA, LocalModelStorage(tmp_path), ExecutionContext(SCHEMA, "test"))


@pytest.mark.parametrize("runner_class", RUNNERS)
def test_each_node_runs_once_after_what_it_needs_and_only_the_targets_come_back(runner_class, tmp_path):
    Part.ran = []
    graph = runner(runner_class, tmp_path)
    for text in ("hi", "hola"):  # the second run follows the order worked out for the first
        assert graph.run(inputs={"__text__": text}, targets=["whole"]) == {
            "whole": f"whole(first=left(start=start(),tokens=tokens(text={text})),second=right(tokens=tokens(text={text})))"}
    for ran in (Part.ran[:5], Part.ran[5:]):
        assert sorted(ran) == ["left", "right", "start", "tokens", "whole"]  # not "unneeded"
        assert ran.index("tokens") < min(ran.index("left"), ran.index("right")) and ran[-1] == "whole"


@pytest.mark.parametrize("runner_class", RUNNERS)
def test_other_targets_run_their_own_nodes(runner_class, tmp_path):
    Part.ran = []
    graph = runner(runner_class, tmp_path)
    graph.run(inputs={"__text__": "hi"}, targets=["whole"])
    assert graph.run(inputs={"__text__": "hi"}, targets=["unneeded", "start"]) == {
        "unneeded": "unneeded(tokens=tokens(text=hi))", "start": "start()"}
    assert sorted(Part.ran[5:]) == ["start", "tokens", "unneeded"]


@pytest.mark.parametrize("runner_class", RUNNERS)
def test_a_missing_input_is_named(runner_class, tmp_path):
    with pytest.raises(GraphRunError, match="Expected input '__text__' to provide parameter 'text'"):
        runner(runner_class, tmp_path).run(targets=["whole"])
