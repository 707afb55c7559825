"""Pipelines in the store: a working draft per pipeline, and immutable saved versions.

A draft is the ``Pipeline`` row with ``version == 0``; it holds the spec being edited and the
node positions of the editor, so a reload (or a teammate's browser) shows the same canvas.
"Save" copies the draft into a new row with the next version number and the spec's hash.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlalchemy import select

from core.errors import NotFoundError
from core.errors import SpecError
from core.pipeline._spec import PipelineSpec
from core.store import Dataset
from core.store import Pipeline
from core.store import Store
from core.store import Viewer
from core.store import audit
from core.store import fetch_owned
from core.store import fetch_visible
from core.store import in_project
from core.store import visible

__all__ = [
    "Draft",
    "create_draft",
    "get_draft",
    "list_drafts",
    "list_pipeline_versions",
    "list_versions",
    "load_version",
    "preview_pipeline",
    "check_readable",
    "save_version",
    "set_pipeline_team",
    "update_draft",
]

_PREVIEW_ROWS = 2000


@dataclass(frozen=True)
class Draft:
    id: str
    name: str
    spec: PipelineSpec
    layout: dict[str, list[float]]
    rev: int  # ms since the epoch of the last change made outside the canvas
    author: str = ""
    team: str = ""
    project_id: str = ""


def _now_ms() -> int:
    # The canvas compares this with its own event times to tell stale values from new edits.
    return int(time.time() * 1000)


def _draft_from_row(row: Pipeline) -> Draft:
    data = row.spec_json
    return Draft(
        row.id,
        row.name,
        PipelineSpec.from_dict(data["spec"]),
        dict(data.get("layout", {})),
        int(data.get("rev", 0)),
        row.author,
        row.team,
        row.project_id or "",
    )


def check_readable(store: Store, spec: PipelineSpec, viewer: Viewer) -> None:
    """Raises NotFoundError unless ``viewer`` may read the dataset ``spec`` starts from."""
    if spec.dataset_id:
        with store.session(viewer) as s:
            fetch_visible(s, Dataset, spec.dataset_id, viewer)


def create_draft(store: Store, name: str, spec: PipelineSpec, *, viewer: Viewer, team: str = "") -> Draft:
    """A new pipeline owned by ``viewer``; names are unique per owner.

    Raises:
        SpecError: No name, or the owner has a pipeline of that name.
        NotFoundError: The spec's dataset is not visible to ``viewer``.
        PermissionDeniedError: Not signed in, or not a member of ``team``.
    """
    viewer.require_create(team)
    name = " ".join(name.split())[:200]
    if not name:
        raise SpecError("Please give the pipeline a name.")
    check_readable(store, spec, viewer)
    with store.session(viewer) as s:
        taken = s.scalar(
            select(func.count())
            .select_from(Pipeline)
            .where(Pipeline.name == name, Pipeline.version == 0, Pipeline.author == viewer.name)
        )
        if taken:
            raise SpecError(f"A pipeline named {name!r} exists already. Pick another name or open it.")
        row = Pipeline(
            name=name,
            version=0,
            spec_json={"spec": spec.to_dict(), "layout": {}, "rev": _now_ms()},
            spec_hash=spec.hash,
            dataset_id=spec.dataset_id or None,
            author=viewer.name[:100],
            team=team,
            project_id=viewer.project or None,
        )
        s.add(row)
        s.flush()
        return _draft_from_row(row)


def _draft_row(s: Any, draft_id: str, viewer: Viewer, action: str | None = None) -> Pipeline:
    if action is None:
        row: Pipeline = fetch_visible(s, Pipeline, draft_id, viewer)
    else:
        row = fetch_owned(s, Pipeline, draft_id, viewer, action)
    if row.version != 0:
        raise NotFoundError(
            f"No pipeline with ID {draft_id!r}. It may have been deleted; pick one from the list."
        )
    return row


def get_draft(store: Store, draft_id: str, *, viewer: Viewer) -> Draft:
    """The pipeline being edited, if ``viewer`` may see it.

    Raises:
        NotFoundError: Missing or not visible (the same answer).
    """
    with store.session(viewer) as s:
        return _draft_from_row(_draft_row(s, draft_id, viewer))


def list_drafts(store: Store, *, viewer: Viewer) -> list[tuple[str, str]]:
    """``(id, name)`` of every pipeline ``viewer`` may see, newest first."""
    with store.session(viewer) as s:
        rows = s.execute(
            select(Pipeline.id, Pipeline.name)
            .where(Pipeline.version == 0, visible(Pipeline, viewer), in_project(Pipeline, viewer))
            .order_by(Pipeline.created_at.desc())
        )
        return [(r[0], r[1]) for r in rows]


def update_draft(
    store: Store,
    draft_id: str,
    spec: PipelineSpec,
    layout: dict[str, list[float]] | None = None,
    bump: bool = True,
    *,
    viewer: Viewer,
    after: int = 0,
) -> Draft:
    """Replace the draft's spec (and positions); ``bump`` tells the editor to redraw. Only its
    owner may edit it (teammates fork it).

    The editor redraws from the draft only when the draft's ``rev`` is not older than its own
    last change (a browser clock in milliseconds): pass that as ``after`` when the change came
    from the editor itself, so the redraw (say, a node outlined in red once its edge is gone)
    happens at once even when the browser's clock runs ahead of the server's.
    """
    check_readable(store, spec, viewer)
    with store.session(viewer) as s:
        row = _draft_row(s, draft_id, viewer, "edit")
        old = row.spec_json
        row.spec_json = {
            "spec": spec.to_dict(),
            "layout": layout if layout is not None else old.get("layout", {}),
            "rev": max(_now_ms(), after + 1) if bump else int(old.get("rev", 0)),
        }
        row.spec_hash = spec.hash
        row.dataset_id = spec.dataset_id or None
        s.flush()
        return _draft_from_row(row)


def set_pipeline_team(store: Store, draft_id: str, team: str, *, viewer: Viewer) -> None:
    """Make a pipeline and its saved versions private ("") or visible to one of the owner's teams."""
    from sqlalchemy import update

    viewer.require_create(team)
    with store.session(viewer) as s:
        row = _draft_row(s, draft_id, viewer, "change who sees")
        audit(s, viewer.name, "pipeline.visibility", "pipeline", row.id, {"name": row.name, "team": team})
        s.execute(
            update(Pipeline).where(Pipeline.name == row.name, Pipeline.author == row.author).values(team=team)
        )


def save_version(store: Store, draft_id: str, *, viewer: Viewer) -> Pipeline:
    """Freeze the draft as the next version (owner only).

    Raises:
        SpecError: The graph is invalid (the message names the node); nothing is saved.
    """
    with store.session(viewer) as s:
        row = _draft_row(s, draft_id, viewer, "save")
        draft = _draft_from_row(row)
        author, team = row.author, row.team
    draft.spec.ordered()  # refuse to version an invalid graph
    with store.session(viewer) as s:
        latest = (
            s.scalar(
                select(func.max(Pipeline.version)).where(
                    Pipeline.name == draft.name, Pipeline.author == author
                )
            )
            or 0
        )
        version = Pipeline(
            name=draft.name,
            version=latest + 1,
            spec_json=draft.spec.to_dict(),
            spec_hash=draft.spec.hash,
            dataset_id=draft.spec.dataset_id or None,
            author=author,
            team=team,
        )
        s.add(version)
        s.flush()
        return version


def list_versions(store: Store, draft_id: str, *, viewer: Viewer) -> list[Pipeline]:
    """The saved versions of a pipeline ``viewer`` may see, newest first."""
    with store.session(viewer) as s:
        row = _draft_row(s, draft_id, viewer)
        return list(
            s.scalars(
                select(Pipeline)
                .where(
                    Pipeline.name == row.name,
                    Pipeline.author == row.author,
                    Pipeline.version > 0,
                    visible(Pipeline, viewer),
                )
                .order_by(Pipeline.version.desc())
            )
        )


def list_pipeline_versions(
    store: Store, *, viewer: Viewer, dataset_id: str | None = None, limit: int = 200
) -> list[Pipeline]:
    """Every saved version ``viewer`` may see (of one dataset's, if given), newest first (the
    Train page's choices)."""
    where = [Pipeline.version > 0, visible(Pipeline, viewer), in_project(Pipeline, viewer)]
    if dataset_id is not None:
        where.append(Pipeline.dataset_id == dataset_id)
    with store.session(viewer) as s:
        return list(
            s.scalars(select(Pipeline).where(*where).order_by(Pipeline.created_at.desc()).limit(limit))
        )


def load_version(store: Store, pipeline_id: str, *, viewer: Viewer) -> PipelineSpec:
    """The spec of a saved version ``viewer`` may see.

    Raises:
        NotFoundError: Missing, a draft, or not visible.
    """
    with store.session(viewer) as s:
        row = fetch_visible(s, Pipeline, pipeline_id, viewer)
        if row.version == 0:
            raise NotFoundError(f"No saved pipeline version with ID {pipeline_id!r}.")
        return PipelineSpec.from_dict(row.spec_json)


def _describe_image(value: Any) -> str:
    import numpy as np

    if isinstance(value, bytes):
        from core.pipeline._steps_images import _decode

        return f"PNG {tuple(_decode(value).shape)}"
    if isinstance(value, np.ndarray):
        return f"{value.dtype} {value.shape} in [{value.min():.2f}, {value.max():.2f}]"
    return str(value)


def preview_pipeline(config: Any, spec_dict: dict[str, Any], upto: str | None) -> dict[str, Any]:
    """Run the pipeline on the first rows of its dataset, up to one node (a Dask task).

    Returns:
        ``rows`` (as strings), ``columns`` with dtypes, per-step counts and, if a step failed,
        ``failed`` = (node, message). JSON-able, so it crosses the cluster cheaply.
    """
    import pyarrow.parquet as pq

    from core.pipeline._engines import run_pandas
    from core.store import open_store

    store = open_store(config)
    spec = PipelineSpec.from_dict(spec_dict)
    if not spec.dataset_id:
        raise SpecError("Choose a dataset for the source first.")
    path = store.path_for("datasets", spec.dataset_id, ".parquet")
    if not path.exists():
        raise NotFoundError(
            f"The dataset {spec.dataset_id} of this pipeline no longer exists. Choose another one."
        )
    batch = next(pq.ParquetFile(path).iter_batches(batch_size=_PREVIEW_ROWS), None)
    df = batch.to_pandas() if batch is not None else None
    if df is None:
        raise SpecError("The dataset is empty.")
    result = run_pandas(spec, df, upto=upto, stop_on_error=True)
    frame = result.frame
    if "image" in frame.columns:  # describe images instead of dumping bytes
        frame = frame.assign(image=frame["image"].map(_describe_image))
    return {
        "columns": [[str(c), str(t)] for c, t in frame.dtypes.items()],
        "rows": frame.head(50).astype(str).values.tolist(),
        "reports": [[r.node, r.title, r.rows_before, r.rows_after] for r in result.reports],
        "failed": list(result.failed) if result.failed else None,
        "sample_rows": len(df),
    }
