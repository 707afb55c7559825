"""``baselines``: the dummy, linear and gradient-boosting runs the UI's "Baselines for this data"
button launches, for a training run's data (``--run``) or a dataset and target (``--dataset``,
``--target``); with ``--wait``, a table of their held-out metrics once they end."""

from __future__ import annotations

from typing import Any

from core.cli._common import cluster_client
from core.cli._common import err
from core.cli._common import out
from core.cli._common import wait


def _launch(store, config, args, viewer) -> list[str]:  # type: ignore[no-untyped-def]
    from core.data import get_dataset
    from core.data import summarize_target
    from core.store import get_run
    from core.training import baselines_for_run
    from core.training import default_pipeline
    from core.training import launch_baselines

    # What the user may not see answers as missing before a cluster is started.
    if args.run:
        get_run(store, args.run, viewer=viewer)
        return list(baselines_for_run(cluster_client(config), store, args.run, viewer=viewer))
    dataset = get_dataset(store, args.dataset, viewer=viewer)
    # As the Train page: the task the target implies unless given; Loom's default pipeline.
    task = args.task or summarize_target(dataset.profile, args.target).task
    pipeline = default_pipeline(dataset.id, args.target, dataset.profile, task)
    return list(
        launch_baselines(
            cluster_client(config),
            store,
            pipeline.to_dict(),
            task,
            viewer=viewer,
            dataset_name=dataset.name,
            team=args.team,
        )
    )


def metrics_table(runs: list[Any]) -> list[str]:
    """Fixed-width lines: one row per run (model, status, each held-out metric), metrics sorted."""
    keys = sorted({k for run in runs for k in run.result.evaluation})
    rows = [["run", "model", "status", *keys]]
    for run in runs:
        evaluation = run.result.evaluation
        model = run.name.split(" · ")[1] if run.name.count(" · ") >= 2 else run.name
        rows.append(
            [
                run.id[:8],
                model,
                run.status,
                *(f"{evaluation[k]:.4g}" if k in evaluation else "-" for k in keys),
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def baselines(store, config, args, viewer) -> int:  # type: ignore[no-untyped-def]
    from core.store import get_run

    if bool(args.run) == bool(args.dataset):
        err("error: give either --run RUN_ID or --dataset ID --target COLUMN")
        return 2
    if args.dataset and not args.target:
        err(f"error: say which column to predict: --dataset {args.dataset} --target COLUMN")
        return 2
    ids = _launch(store, config, args, viewer)
    for run_id in ids:
        out(f"baseline {run_id}: {get_run(store, run_id, viewer=viewer).name}")
    if not args.wait:
        return 0
    runs = [wait(store, run_id) for run_id in ids]
    for line in metrics_table(runs):
        out(line)
    for run in runs:
        if run.status != "succeeded":
            out(f"{run.id}: {run.status}: {run.status_reason}")
    return 0 if all(run.status == "succeeded" for run in runs) else 1
