"""The pipeline spec: a graph of step nodes from one source, stored as JSON and hashed."""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from typing import Any

from core.errors import SpecError
from core.pipeline._steps import BaseStep
from core.pipeline._steps import get_step
from core.specs import spec_hash

__all__ = ["SOURCE", "Node", "NodeProblem", "PipelineSpec", "diff_specs", "to_mermaid"]

SOURCE = "source"


@dataclass(frozen=True)
class Node:
    id: str
    step: BaseStep

    def __post_init__(self) -> None:
        if not self.id or not str(self.id).replace("_", "").replace("-", "").isalnum() or self.id == SOURCE:
            raise SpecError(
                f"Node ID {self.id!r} is invalid: use letters, digits, '-' or '_' (and not 'source')."
            )


@dataclass(frozen=True)
class NodeProblem:
    node: str
    message: str


@dataclass(frozen=True)
class PipelineSpec:
    """Steps (nodes) and edges from the ``source`` node (the dataset) to the model input.

    Args:
        dataset_id: The dataset the source node reads.
        target: The column to predict.
        nodes: The steps.
        edges: ``(from, to)`` node IDs; ``"source"`` is the dataset.
    """

    dataset_id: str
    target: str
    nodes: list[Node] = field(default_factory=list)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        ids = [n.id for n in self.nodes]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise SpecError(f"Node IDs must be unique, but {dupes} appear more than once.")
        known = set(ids) | {SOURCE}
        for a, b in self.edges:
            if a not in known or b not in known:
                raise SpecError(f"Edge {a!r} → {b!r} refers to a node that does not exist.")

    # --- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "type": "pipeline",
            "dataset_id": self.dataset_id,
            "target": self.target,
            "nodes": [{"id": n.id, **n.step.to_dict()} for n in self.nodes],
            "edges": [list(e) for e in self.edges],
        }

    @classmethod
    def from_dict(cls, data: Any) -> PipelineSpec:
        if not isinstance(data, dict) or data.get("type") != "pipeline":
            raise SpecError(
                'A pipeline is a JSON object with "type": "pipeline", "dataset_id", "target", '
                '"nodes" and "edges".'
            )
        try:
            nodes = [
                Node(str(n["id"]), get_step({k: v for k, v in n.items() if k != "id"}))
                for n in data.get("nodes", [])
            ]
            edges = [(str(a), str(b)) for a, b in data.get("edges", [])]
            return cls(str(data.get("dataset_id", "")), str(data.get("target", "")), nodes, edges)
        except (KeyError, TypeError, ValueError) as exc:
            raise SpecError(
                f"The pipeline JSON is malformed: {exc!r}. Export a pipeline to see the expected shape."
            ) from None

    @classmethod
    def from_json(cls, text: str) -> PipelineSpec:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SpecError(
                f"This is not valid JSON: {exc.msg} at line {exc.lineno}, column {exc.colno}."
            ) from None
        return cls.from_dict(data)

    @property
    def hash(self) -> str:
        return spec_hash(self.to_dict())

    # --- graph ------------------------------------------------------------------------------
    def problems(self) -> list[NodeProblem]:
        """Everything wrong with the graph, each pinned to a node (for highlighting)."""
        out: list[NodeProblem] = []
        if not self.dataset_id:
            out.append(NodeProblem(SOURCE, "Choose a dataset for the source."))
        if not self.target:
            out.append(NodeProblem(SOURCE, "Choose the target column."))
        incoming: dict[str, list[str]] = {n.id: [] for n in self.nodes}
        outgoing: dict[str, list[str]] = {n.id: [] for n in self.nodes}
        outgoing[SOURCE] = []
        for a, b in self.edges:
            if b == SOURCE:
                out.append(NodeProblem(a, "Nothing may flow into the source."))
                continue
            incoming[b].append(a)
            outgoing[a].append(b)
        for node_id, ins in incoming.items():
            if len(ins) > 1:
                out.append(
                    NodeProblem(node_id, f"Has {len(ins)} inputs ({', '.join(ins)}); a step takes one.")
                )
        for node_id, outs in outgoing.items():
            if len(outs) > 1:
                out.append(
                    NodeProblem(
                        node_id,
                        f"Feeds {len(outs)} steps ({', '.join(outs)}); branches are not supported yet.",
                    )
                )
        order, seen, current = [], {SOURCE}, SOURCE
        while outgoing.get(current):
            nxt = outgoing[current][0]
            if nxt in seen:
                out.append(NodeProblem(nxt, "Is part of a cycle. Remove one of the edges that loop back."))
                break
            order.append(nxt)
            seen.add(nxt)
            current = nxt
        for n in self.nodes:
            if n.id not in seen:
                out.append(NodeProblem(n.id, "Is not connected to the source. Connect it or delete it."))
        steps = {n.id: n.step for n in self.nodes}
        for nid, step in steps.items():
            # A scaler with no columns would silently change nothing: say so on its node.
            if step.type in ("standardize", "minmax_scale") and not getattr(step, "columns", None):
                out.append(
                    NodeProblem(
                        nid,
                        f"{step.title} has no columns: it would change nothing. Pick the columns to scale.",
                    )
                )
        split_at = next((i for i, nid in enumerate(order) if steps[nid].type == "split"), None)
        for i, nid in enumerate(order):
            if (steps[nid].fitted or steps[nid].train_only) and (split_at is None or i < split_at):
                out.append(
                    NodeProblem(
                        nid,
                        f"{steps[nid].title} learns from or changes training data: put a split before it, "
                        "so only the training rows are used.",
                    )
                )
        if sum(1 for nid in order if steps[nid].type == "split") > 1:
            out.append(NodeProblem(order[split_at or 0], "Only one split per pipeline."))
        return out

    def ordered(self) -> list[Node]:
        """The nodes from source to output.

        Raises:
            SpecError: The graph is invalid; the message names the node and the fix.
        """
        problems = self.problems()
        if problems:
            p = problems[0]
            raise SpecError(f"Node {p.node!r}: {p.message}")
        by_id = {n.id: n for n in self.nodes}
        nxt = dict(self.edges)
        order, current = [], SOURCE
        while current in nxt:
            current = nxt[current]
            order.append(by_id[current])
        return order

    # --- graph edits (the editor's actions; each returns a new spec, validated on construction)

    def _walk(self) -> list[str]:
        """Node IDs along the edges from the source, as far as they reach (no validation)."""
        nxt, order, current = dict(self.edges), [], SOURCE
        while current in nxt and nxt[current] not in order:
            current = nxt[current]
            order.append(current)
        return order

    def appended(self, step: BaseStep) -> tuple[PipelineSpec, str]:
        """The spec with ``step`` added after the last connected node; returns its new ID too."""
        taken = {n.id for n in self.nodes}
        new_id = next(f"s{i}" for i in range(1, len(taken) + 2) if f"s{i}" not in taken)
        walk = self._walk()
        last = walk[-1] if walk else SOURCE
        spec = PipelineSpec(
            self.dataset_id, self.target, [*self.nodes, Node(new_id, step)], [*self.edges, (last, new_id)]
        )
        return spec, new_id

    def with_step(self, node_id: str, step: BaseStep) -> PipelineSpec:
        """The spec with node ``node_id``'s step replaced."""
        nodes = [Node(n.id, step) if n.id == node_id else n for n in self.nodes]
        return PipelineSpec(self.dataset_id, self.target, nodes, list(self.edges))

    def moved(self, node_id: str, delta: int) -> PipelineSpec:
        """The chain with ``node_id`` moved ``delta`` places (-1 up, +1 down); re-chained."""
        order = self._walk()
        i = order.index(node_id)
        j = min(max(i + delta, 0), len(order) - 1)
        order[i], order[j] = order[j], order[i]
        chain = [SOURCE, *order]
        return PipelineSpec(
            self.dataset_id, self.target, self.nodes, list(zip(chain[:-1], chain[1:], strict=True))
        )

    def without(self, node_id: str) -> PipelineSpec:
        """The spec with ``node_id`` removed and the chain joined across the gap."""
        ins = [a for a, b in self.edges if b == node_id]
        outs = [b for a, b in self.edges if a == node_id]
        edges = [(a, b) for a, b in self.edges if node_id not in (a, b)]
        edges += [(ins[0], outs[0])] if ins and outs else []
        return PipelineSpec(self.dataset_id, self.target, [n for n in self.nodes if n.id != node_id], edges)

    def on_canvas(self, node_ids: set[str], edges: list[tuple[str, str]]) -> PipelineSpec:
        """The spec as the canvas now has it: only these nodes, and the edges between them."""
        kept = [n for n in self.nodes if n.id in node_ids]
        linked = [(a, b) for a, b in edges if a in node_ids | {SOURCE} and b in node_ids]
        return PipelineSpec(self.dataset_id, self.target, kept, linked)

    @staticmethod
    def chain(dataset_id: str, target: str, steps: list[BaseStep | dict | str]) -> PipelineSpec:
        """A straight pipeline from a list of steps (IDs ``s1``, ``s2``…)."""
        nodes = [Node(f"s{i}", get_step(s)) for i, s in enumerate(steps, 1)]
        ids = [SOURCE] + [n.id for n in nodes]
        return PipelineSpec(dataset_id, target, nodes, list(zip(ids[:-1], ids[1:], strict=True)))


def _label(step: BaseStep) -> str:
    params = {k: v for k, v in step.to_dict().items() if k != "type" and v not in (None, [], "")}
    detail = ", ".join(f"{k}: {v}" for k, v in params.items())
    text = step.title + (f"<br/>{detail}" if detail else "")
    return text.replace('"', "#quot;").replace("<script", "&lt;script")


def to_mermaid(spec: PipelineSpec) -> str:
    """The pipeline as a Mermaid flowchart (``flowchart LR``)."""
    lines = ["flowchart LR", f'  {SOURCE}[("dataset<br/>target: {spec.target.replace(chr(34), "#quot;")}")]']
    for n in spec.nodes:
        lines.append(f'  {n.id}["{_label(n.step)}"]')
    for a, b in spec.edges:
        lines.append(f"  {a} --> {b}")
    return "\n".join(lines)


def to_dot(spec: PipelineSpec) -> str:
    """The pipeline as a Graphviz DOT digraph (what ``st.graphviz_chart`` draws); every label is a
    quoted, escaped string, so column names cannot inject DOT or HTML."""

    def quoted(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ") + '"'

    lines = [
        "digraph pipeline {",
        "  rankdir=LR;",
        '  node [shape=box, style="rounded", fontname="sans-serif"];',
    ]
    lines.append(f"  {quoted(SOURCE)} [shape=cylinder, label={quoted('dataset · target: ' + spec.target)}];")
    for n in spec.nodes:
        params = {k: v for k, v in n.step.to_dict().items() if k != "type" and v not in (None, [], "")}
        detail = ", ".join(f"{k}: {v}" for k, v in params.items())
        lines.append(f"  {quoted(n.id)} [label={quoted(n.step.title + (' · ' + detail if detail else ''))}];")
    for a, b in spec.edges:
        lines.append(f"  {quoted(a)} -> {quoted(b)};")
    lines.append("}")
    return "\n".join(lines)


def diff_specs(old: PipelineSpec, new: PipelineSpec) -> list[str]:
    """Step-by-step differences between two versions, in words."""
    out = []
    if old.dataset_id != new.dataset_id:
        out.append(f"dataset: {old.dataset_id} → {new.dataset_id}")
    if old.target != new.target:
        out.append(f"target: {old.target!r} → {new.target!r}")
    a, b = {n.id: n.step for n in old.nodes}, {n.id: n.step for n in new.nodes}
    for nid in a.keys() - b.keys():
        out.append(f"removed {nid} ({a[nid].title})")
    for nid in b.keys() - a.keys():
        out.append(f"added {nid} ({b[nid].title})")
    for nid in sorted(a.keys() & b.keys()):
        da, db = a[nid].to_dict(), b[nid].to_dict()
        for k in sorted(set(da) | set(db)):
            if da.get(k) != db.get(k):
                out.append(f"{nid} ({b[nid].title}): {k} {da.get(k)!r} → {db.get(k)!r}")
    try:
        ra, rb = [n.id for n in old.ordered()], [n.id for n in new.ordered()]
        if [i for i in ra if i in rb] != [i for i in rb if i in ra]:
            out.append(f"order: {' → '.join(ra)}  ⇒  {' → '.join(rb)}")
    except SpecError:
        if sorted(old.edges) != sorted(new.edges):
            out.append("edges changed")
    return out
