"""Headless Loom: the same path as the UI (store → Dask job → store), from a terminal.

    python -m core ingest FILE [--name NAME]
    python -m core train --config run.json [--validation-dataset ID]
    python -m core train --branch-from RUN --epoch N [--lr X] [--optimizer NAME] [--schedule NAME]
                         [--batch-size N] [--epochs N]
    python -m core tune --config study.json
    python -m core evaluate --run ID FILE_OR_DATASET   (score a run on another file or dataset)
    python -m core predict --run ID FILE [--out PREDICTIONS.csv]
    python -m core baselines --run ID | --dataset ID --target COL [--task TASK] [--wait]
    python -m core user add NAME [--email EMAIL] [--admin]   (accounts, LOOM_AUTH=on; password from stdin)
    python -m core user list | passwd NAME | remove NAME | grant-admin NAME | revoke-admin NAME
    python -m core team add TEAM | list | add-member TEAM USER | remove-member TEAM USER
    python -m core runs [--kind KIND] | datasets   [--limit N]   (newest first)
    python -m core projects list [--trash] | create NAME [--team TEAM] | members PROJECT
    python -m core projects role PROJECT USER viewer|member|admin|none | team-role PROJECT ROLE
    python -m core projects rename PROJECT NAME | delete PROJECT [--yes] | restore PROJECT
    python -m core projects move dataset|pipeline|run|study|report ID PROJECT
    python -m core backup OUT | restore IN [--data-dir DIR] [--database-url URL] [--force]
    python -m core gc [--dry-run] [--checkpoint-days N] | du   (operations: see core.ops)
    python -m core trash list | delete KIND ID | restore KIND ID | purge [--dry-run] [--days N]
    python -m core audit [--since ISO] [--actor NAME] [--action KIND] [--format jsonl|csv]
    python -m core metrics   (the Prometheus text LOOM_METRICS_PORT serves, once)

``evaluate`` applies the run's fitted pipeline unchanged to the rows (a file is ingested first,
as ``ingest`` would), stores the metrics as an evaluation of the run and prints them; ``predict``
writes one CSV row of predictions per input row to stdout, or to ``--out``. ``baselines``
launches (or reuses) the dummy, linear and gradient-boosting runs of the UI's "Baselines for this
data" button, for a training run's pipeline, target and task (visible to the run's team when you
own it, as in the UI) or for a dataset and target through Loom's default pipeline (the task the
target implies unless ``--task``); it prints their IDs and, with ``--wait``, a table of their
held-out metrics once they end (exit 1 if one did not succeed).

With accounts on, ``ingest``, ``train``, ``tune``, ``evaluate``, ``predict`` and ``baselines`` act for one
user: ``--as NAME`` (its teams apply; another user's dataset and run IDs answer as missing).
``--team TEAM`` makes what they create visible to that team. With accounts off they act as
the local user, as the app does.

``--project REF`` (on those and on ``runs`` and ``datasets``; an ID, ``owner/name`` or a name
only one of the user's projects has) is the project the command works in: lists show it alone
and what is created goes into it, refused before anything starts when the user only views it.
Without it lists show all the user's projects and new items go into their "Default" project.
``projects`` acts for the same user (``--as``): ``delete`` without ``--yes`` prints what the
project holds and exits 2; a deleted project waits in the trash until ``restore``.

``run.json`` is a training spec as the Train page stores it (``{"type": "train", "pipeline":
..., "model": ..., "optimizer": ..., "epochs": ...}``), or a short form::

    {"dataset_id": "<id>", "target": "species", "task": "multiclass", "template": "mlp",
     "epochs": 20, "optimizer": {"name": "adam", "learning_rate": 0.001}, "backend": "jax"}

``"template"`` is any the Train page offers: ``cnn_article`` (the TensorFlow MNIST article's
network: Conv2D 32 3x3 → MaxPool 2 → Flatten → Dense 128 → softmax), ``cnn`` (the keras.io MNIST
example) or ``mlp`` (the default; ``"hidden": [64, 32]`` and ``"dropout": 0.1`` set it). Instead of
a template, ``"layers"`` gives the layers as rows of the Train page's layer table::

    "layers": [{"type": "conv2d", "filters": 32, "kernel_size": 3, "activation": "relu"},
               {"type": "maxpool2d", "pool_size": 2}, {"type": "flatten"},
               {"type": "dense", "units": 128, "activation": "relu"}]

(the output layer follows from the task). ``--validation-dataset ID`` (or
``"validation_dataset"`` in either form) validates on another dataset, as Keras's
``validation_data``: every row of the run's dataset trains and that one gives the held-out
results; a dataset whose columns or target classes differ is refused before launch, naming them.

``"backend"`` (either form) is the Keras backend: ``tensorflow`` (the default), ``jax`` or
``torch``; a backend no worker has installed is refused before anything is submitted, with the
install command. ``"estimator": {"kind": "random_forest", "params": {"n_estimators": 200}}`` in
the short form trains a scikit-learn model instead of a template (kinds: dummy, linear,
random_forest, hist_gradient_boosting, knn, svm).

``study.json`` is a study spec (:meth:`core.tuning.StudySpec.to_dict`) plus an optional
``"name"``; its ``"base"`` is a training spec in either form above::

    {"name": "iris lr", "base": {"dataset_id": "<id>", "target": "species", "epochs": 10},
     "space": {"type": "search_space", "params": [{"path": "optimizer.learning_rate",
               "kind": "float", "low": 0.0001, "high": 0.1, "log": true}]},
     "n_trials": 20, "parallelism": 2, "sampler": "tpe"}

``tune`` prints a line whenever a trial finishes (trials finished out of ``n_trials``, the best
value so far) until the study's driver run ends; it exits 0 if the driver succeeded.
"""

from core.cli._main import main

__all__ = ["main"]
