"""The model graph run node after node in a fixed order, without dask's scheduler.

Rasa runs its model graph (the NLU pipeline for each message, the policies for each
prediction: two or more per turn) through `DaskGraphRunner.run`, which on every call
derives the minimal sub-graph of the targets, builds a dask graph of it and has dask's
synchronous scheduler order and run it: ~9% of a Rasa server's CPU under load, around the
components' own work. The graph is fixed once the model is loaded, so the order of each
set of targets is worked out once; the nodes are then called in that order with the same
arguments dask would pass (each parent's `(name, output)` pair, an input as
`(input name, value)`, a name nothing provides as the bare string) and the result is the
same `{target: output}` mapping.
"""

from __future__ import annotations

from typing import Any

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

from deploy.rasa_patches.patching import Patch

_original_run = DaskGraphRunner.run

# A node to call and the names whose results it takes, in the order of its parameters.
Step = tuple[str, tuple[str, ...]]


def _plan(runner: DaskGraphRunner, targets: tuple[str, ...]) -> list[Step]:
    """The nodes the targets need, each after everything it needs (depth first)."""
    schema = runner._graph_schema.minimal_graph_schema(list(targets))
    steps: list[Step] = []
    placed: set[str] = set()

    def place(name: str, path: tuple[str, ...]) -> None:
        if name in placed or name not in schema.nodes:
            return  # done already, or an input placeholder
        if name in path:
            raise GraphRunError(f"The graph has a cycle through '{name}'.")
        needs = tuple(schema.nodes[name].needs.values())
        for parent in needs:
            place(parent, (*path, name))
        placed.add(name)
        steps.append((name, needs))

    for target in targets:
        place(target, ())
    return steps


def run(
    self: DaskGraphRunner,
    inputs: dict[str, Any] | None = None,
    targets: list[str] | None = None,
) -> dict[str, Any]:
    """`DaskGraphRunner.run` (same arguments, result and errors) without dask."""
    run_targets = tuple(targets if targets else self._graph_schema.target_names)
    plans: dict[tuple[str, ...], list[Step]] = self.__dict__.setdefault("_plans", {})
    steps = plans.get(run_targets)
    if steps is None:
        steps = plans[run_targets] = _plan(self, run_targets)
    results: dict[str, Any] = {}
    for name, value in (inputs or {}).items():
        if isinstance(value, str) and (value in results or any(s[0] == value for s in steps)):
            raise GraphRunError(
                f"Input value '{value}' clashes with a node name. Make sure that none of "
                f"the input names passed to the `run` method are the same as node names "
                f"in the graph schema."
            )
        results[name] = (name, value)
    nodes = self._instantiated_nodes
    try:
        for name, needs in steps:
            results[name] = nodes[name](*(results.get(parent, parent) for parent in needs))
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e
    return dict(results[target] for target in run_targets)


PATCHES = (Patch(DaskGraphRunner, "run", run),)
