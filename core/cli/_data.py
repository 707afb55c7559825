"""``ingest``, ``evaluate`` and ``predict``: files and datasets in, scores and predictions out."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from core.cli._common import cluster_client
from core.cli._common import err
from core.cli._common import out
from core.cli._common import wait


def ingest(store, args, viewer) -> int:  # type: ignore[no-untyped-def]
    from core.data import detect_format
    from core.data import ingest_file
    from core.store import check_quota

    if not args.file.is_file():
        err(f"error: {args.file} is not a file")
        return 2
    check_quota(store, viewer.project or None)  # before anything is written
    dataset = ingest_file(
        store,
        args.file,
        detect_format(args.file.name),
        args.name or args.file.name,
        author=viewer.name,
        team=args.team,
        project_id=viewer.project or None,
    )
    out(f"dataset {dataset.id}: {dataset.name}, {dataset.n_rows} rows, {dataset.n_cols} columns")
    return 0


def evaluate(store, config, args, viewer) -> int:  # type: ignore[no-untyped-def]
    from core.compute import submit_run
    from core.data import detect_format
    from core.data import get_dataset
    from core.data import ingest_file
    from core.store import get_run
    from core.training import EvaluateSpec

    get_run(store, args.run, viewer=viewer)  # a run the user may not see answers as missing
    source = Path(args.rows)
    if source.is_file():
        from core.store import check_quota

        check_quota(store, viewer.project or None)  # before the rows are written as a dataset
        dataset = ingest_file(
            store,
            source,
            detect_format(source.name),
            source.name,
            author=viewer.name,
            team=args.team,
            project_id=viewer.project or None,
        )
        out(f"dataset {dataset.id}: {dataset.name}, {dataset.n_rows} rows, {dataset.n_cols} columns")
    else:
        dataset = get_dataset(store, args.rows, viewer=viewer)
    spec = EvaluateSpec(args.run, dataset.id)
    run_id = submit_run(
        cluster_client(config),  # once the run and rows are known: an error costs no cluster
        store,
        "evaluate",
        spec.to_dict(),
        viewer=viewer,
        team=args.team,
        name=f"evaluation on {dataset.name}"[:200],
        dataset_id=dataset.id,
        parent_id=args.run,
        parent_kind="evaluated",
    )
    out(f"evaluation {run_id} submitted")
    run = wait(store, run_id)
    out(f"{run.status}: {run.status_reason}")
    if run.status != "succeeded":
        return 1
    from core.training import list_evaluations

    # Before the metrics (the last line stays JSON): whether the run trained on these rows.
    for evaluation in list_evaluations(store, args.run, viewer=viewer):
        if evaluation.id == run_id:
            out(evaluation.overlap_warning or f"rows trained on: {evaluation.overlap_summary}")
    out(json.dumps(dict(run.result.evaluation)))
    return 0


def predict(store, config, args, viewer) -> int:  # type: ignore[no-untyped-def]
    import pandas as pd

    from core.compute import submit_run
    from core.data import detect_format
    from core.data import save_upload
    from core.formatting import csv_bytes
    from core.store import get_run
    from core.training import PredictSpec

    get_run(store, args.run, viewer=viewer)
    source = Path(args.rows)
    if not source.is_file():
        err(f"error: {source} is not a file of rows")
        return 2
    fmt = detect_format(source.name)
    with source.open("rb") as fh:
        upload = save_upload(store, fh, source.name, viewer=viewer)
    spec = PredictSpec(model_run=args.run, rows_upload=upload, rows_format=fmt)
    run_id = submit_run(
        cluster_client(config),
        store,
        "predict",
        spec.to_dict(),
        viewer=viewer,
        team=args.team,
        name="prediction",
        parent_id=args.run,
        parent_kind="predicted",
    )
    run = wait(store, run_id)
    if run.status != "succeeded":
        sys.stderr.write(f"{run.status}: {run.status_reason}\n")
        return 1
    data = csv_bytes(pd.read_parquet(store.path_for("predictions", run_id, ".parquet")))
    if args.out:
        args.out.write_bytes(data)
        predicted = run.result.prediction.predicted if run.result.prediction else 0
        sys.stderr.write(f"{predicted} rows predicted: {args.out}\n")
    else:
        sys.stdout.write(data.decode("utf-8"))
        sys.stdout.flush()
    return 0
