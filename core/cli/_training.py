"""``train``: a training spec (or its short form) submitted as a run, its epochs printed."""

from __future__ import annotations

import json
import time
from typing import Any

from core.cli._common import cluster_client
from core.cli._common import out
from core.errors import SpecError


def model_from_config(data: dict[str, Any], task: str, images: bool) -> Any:
    """The short form's Keras model: ``"template"`` (any the Train page offers: ``cnn_article``,
    ``cnn`` (the keras.io example) or ``mlp`` with ``"hidden"`` and ``"dropout"``), or
    ``"layers"``, rows in the Train page's layer table form (``{"type": "conv2d", "filters": 32,
    "kernel_size": 3, "activation": "relu"}``; blank settings take the layer's default).

    Raises:
        SpecError: An unknown template or layer (the valid names listed), both ``template`` and
            ``layers``, or a setting a layer does not take.
    """
    from core.models import TEMPLATES
    from core.models import ModelSpec
    from core.models import layers_from_rows
    from core.models import model_template

    if "layers" in data:
        rows = data["layers"]
        if "template" in data:
            raise SpecError(
                'Give "template" or "layers", not both: "layers" is the whole model (its output layer '
                f"follows from the task), but got template={data['template']!r} and layers."
            )
        if not isinstance(rows, list) or not rows or not all(isinstance(r, dict) for r in rows):
            raise SpecError(
                '"layers" is a list of the layer table\'s rows, such as [{"type": "dense", "units": 64, '
                f'"activation": "relu"}}, {{"type": "dropout", "rate": 0.1}}], but got layers={rows!r}.'
            )
        return ModelSpec.from_dict({"type": "model", "task": task, "layers": layers_from_rows(rows)})
    name = data.get("template", "mlp")
    if name not in TEMPLATES:
        raise SpecError(
            f"Unknown model template {name!r}. Valid templates are: {', '.join(TEMPLATES)} "
            '(or give "layers", the layer table\'s rows).'
        )
    hidden = data.get("hidden", [64, 32])
    if not isinstance(hidden, list):  # each width is checked by the template
        raise SpecError(f'"hidden" is a list of whole numbers such as [64, 32], but got hidden={hidden!r}.')
    return model_template(name, task, hidden=tuple(hidden), dropout=data.get("dropout", 0.1), images=images)


def spec_from_config(  # type: ignore[no-untyped-def]
    store, data: dict[str, Any], viewer, validation_dataset: str | None = None
) -> dict[str, Any]:
    from core.data import get_dataset
    from core.optimizers import OptimizerSpec
    from core.training import TrainSpec
    from core.training import default_pipeline

    validation_dataset = validation_dataset or data.get("validation_dataset")
    if validation_dataset is not None:  # yours to read, or answered as missing
        validation_dataset = get_dataset(store, str(validation_dataset), viewer=viewer).id
    if data.get("type") == "train":
        return TrainSpec.from_dict({**data, "validation_dataset": validation_dataset}).to_dict()
    dataset = get_dataset(store, str(data["dataset_id"]), viewer=viewer)
    task = data.get("task", "multiclass")
    pipeline = default_pipeline(dataset.id, data["target"], dataset.profile, task)
    images = any(c.kind == "image" for c in dataset.profile.columns)
    model: Any = model_from_config(data, task, images) if "estimator" not in data else None
    if "estimator" in data:  # scikit-learn instead of a Keras template
        from core.models import EstimatorSpec

        estimator = data["estimator"]
        if not isinstance(estimator, dict):
            raise SpecError(
                '"estimator" is an object such as {"kind": "random_forest", "params": {"max_depth": 8}}, '
                f"but got estimator={estimator!r}."
            )
        model = EstimatorSpec(str(estimator.get("kind")), task, dict(estimator.get("params") or {}))
    return TrainSpec(
        pipeline=pipeline.to_dict(),
        model=model.to_dict(),
        optimizer=OptimizerSpec.from_dict(data.get("optimizer", {})).to_dict(),
        epochs=int(data.get("epochs", 5)),
        batch_size=int(data.get("batch_size", 32)),
        seed=int(data.get("seed", 0)),
        early_stopping=int(data.get("early_stopping", 0)),
        backend=str(data.get("backend", "tensorflow")),
        validation_dataset=validation_dataset,
    ).to_dict()


def _follow(store, run_id: str) -> int:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import SYSTEM
    from core.store import get_metrics
    from core.store import get_run

    shown = 0
    while True:
        run = get_run(store, run_id, viewer=SYSTEM)
        epochs = get_metrics(store, run_id, viewer=SYSTEM)
        loss = epochs.get("epoch/loss")
        while loss and shown < len(loss.steps):
            parts = [f"epoch {loss.steps[shown]}"] + [
                f"{k.split('/')[1]}={s.values[shown]:.4g}"
                for k, s in sorted(epochs.items())
                if k.startswith("epoch/") and len(s.values) > shown and k != "epoch/samples_per_s"
            ]
            out("  ".join(parts))
            shown += 1
        if run.status in TERMINAL:
            out(f"{run.status}: {run.status_reason}")
            if run.result.evaluation:
                out(json.dumps(dict(run.result.evaluation)))
            return 0 if run.status == "succeeded" else 1
        time.sleep(0.5)


def train(store, config, args, viewer, data: dict[str, Any]) -> int:  # type: ignore[no-untyped-def]
    from core.compute import submit_run
    from core.models import model_from_dict
    from core.training import check_backend
    from core.training import check_validation_data

    spec = spec_from_config(store, data, viewer, args.validation_dataset)
    client = cluster_client(config)
    check_backend(client, spec.get("backend", "tensorflow"))  # before anything is stored
    if spec.get("validation_dataset"):  # refused before launch, naming what differs
        task = model_from_dict(spec["model"]).task
        future = client.submit(
            check_validation_data, config, spec["pipeline"], spec["validation_dataset"], task, pure=False
        )
        checked = future.result(timeout=300)
        out(
            f"validating on dataset {spec['validation_dataset']} ({checked['rows']:,} rows); training on "
            f"every one of the {checked['train_rows']:,} rows of dataset {spec['pipeline']['dataset_id']}"
        )
    run_id = submit_run(
        client,
        store,
        "train",
        spec,
        viewer=viewer,
        team=args.team,
        name=f"cli {args.config.name}",
        dataset_id=spec.get("pipeline", {}).get("dataset_id"),
    )
    out(f"run {run_id} submitted")
    return _follow(store, run_id)


def branch(store, config, args, viewer) -> int:  # type: ignore[no-untyped-def]
    """``train --branch-from RUN --epoch N [--lr X ...]``: a branch of RUN from its checkpoint at
    epoch N with the given changes, followed as ``train`` follows a run."""
    from core.errors import SpecError
    from core.training import branch_run

    if args.epoch is None:
        raise SpecError("--branch-from needs --epoch N: the kept checkpoint's epoch to start from.")
    changes = branch_changes(args)
    run_id = branch_run(store, cluster_client(config), args.branch_from, args.epoch, changes, viewer=viewer)
    out(f"run {run_id} submitted (a branch of {args.branch_from} from epoch {args.epoch})")
    return _follow(store, run_id)


def branch_changes(args) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """The changes ``train --branch-from`` asks for (core.training's ``branch_spec`` checks them
    against the parent: ``--param`` only for a scikit-learn run, the rest only for a network).

    Raises:
        SpecError: A ``--param`` that is not NAME=VALUE.
    """
    import json

    changes: dict[str, Any] = {
        key: value
        for key, value in {
            "learning_rate": args.lr,
            "optimizer": args.optimizer,
            "schedule": args.schedule,
            "batch_size": args.batch_size,
            "epochs": args.epochs,
            "seed": args.seed,
        }.items()
        if value is not None
    }
    params: dict[str, Any] = {}
    for item in args.param or ():
        name, sep, text = item.partition("=")
        if not sep or not name.strip():
            raise SpecError(f"--param takes NAME=VALUE (e.g. n_estimators=300), but got {item!r}.")
        try:
            params[name.strip()] = json.loads(text)
        except ValueError:
            params[name.strip()] = text  # a word such as sqrt or log2
    if params:
        changes["params"] = params
    return changes


def read_config(store, data: dict[str, Any], viewer) -> tuple[dict[str, Any], str]:  # type: ignore[no-untyped-def]
    """A study or population config's spec without its ``"name"``, its base training spec in
    full (the short form ``{"dataset_id": ...}`` expanded as ``train`` expands it), and the name."""
    data = dict(data)
    name = data.pop("name", "")
    if not isinstance(name, str):
        raise SpecError(f'"name" must be a string, but got name={name!r}.')
    base = data.get("base")
    if not isinstance(base, dict):
        raise SpecError(f'"base" must be a training spec (a JSON object), but got base={base!r}.')
    if "dataset_id" in base:  # the short form, as `train` accepts it
        data["base"] = spec_from_config(store, base, viewer)
    return data, name
