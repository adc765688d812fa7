"""Rasa's prediction graph, run node after node in an order worked out once.

Rasa runs its graph (the NLU pipeline for a parse, the policies for a prediction) with `dask.get`,
which on every call builds the graph the targets need, orders it and schedules each node through
its thread-pool machinery, though it runs them one at a time: in process, 1.1-1.9 of a parse's
7-8.6 ms and 0.4 of a prediction's 1.6 ms. The graph never changes while a model is loaded, so here
the nodes each set of targets needs are put in order once; each run then calls them one after the
other with the outputs of the nodes they need, as dask would. Only the loaded model's graph runs
this way (`rasa.core.processor`); training keeps Rasa's runner.
"""
from __future__ import annotations

import graphlib
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.exceptions import GraphRunError
from rasa.engine.graph import GraphNode
from rasa.engine.runner.dask import DaskGraphRunner

Step = Tuple[Text, GraphNode, Tuple[Text, ...]]  # a node's name, the node, the names of what it needs


class SequentialGraphRunner(DaskGraphRunner):
    """Rasa's `DaskGraphRunner` with the same nodes, inputs and outputs, without dask."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._plans: Dict[Tuple[Text, ...], List[Step]] = {}

    def run(self, inputs: Optional[Dict[Text, Any]] = None,
            targets: Optional[List[Text]] = None) -> Dict[Text, Any]:
        run_targets = tuple(targets if targets else self._graph_schema.target_names)
        outputs: Dict[Text, Tuple[Text, Any]] = {name: (name, value) for name, value in (inputs or {}).items()}
        try:
            for name, node, needs in self._plan(run_targets):
                # What is neither a node nor an input goes as its name, as dask passes it; the node says it is missing.
                outputs[name] = node(*(outputs.get(need, need) for need in needs))
        except RuntimeError as error:  # as Rasa's runner reports it
            raise GraphRunError("Error running runner.") from error
        return dict(outputs[target] for target in run_targets)

    def _plan(self, targets: Tuple[Text, ...]) -> List[Step]:
        """The nodes the targets need, each after every node it needs."""
        plan = self._plans.get(targets)
        if plan is None:
            schema = self._graph_schema.minimal_graph_schema(list(targets))
            after = {name: [need for need in node.needs.values() if need in schema.nodes]
                     for name, node in schema.nodes.items()}
            plan = [(name, self._instantiated_nodes[name], tuple(schema.nodes[name].needs.values()))
                    for name in graphlib.TopologicalSorter(after).static_order()]
            self._plans[targets] = plan
        return plan
