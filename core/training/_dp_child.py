"""One data-parallel participant's process (started by ``_distributed._participant``).

    python -m core.training._dp_child '<json args>' <result file>

It prepares the same arrays as a one-worker run, joins the ``MultiWorkerMirroredStrategy`` group
named by ``TF_CONFIG`` and trains with a custom loop. The chief (task 0) writes metrics,
progress and the final model to the store and its result to the result file.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any


def main() -> int:  # noqa: C901 - one training loop, kept in one place
    args = json.loads(sys.argv[1])
    result_file = sys.argv[2]
    import numpy as np

    from core.compute import JobContext
    from core.config import AppConfig
    from core.models import ModelSpec
    from core.store import open_store
    from core.training._callback import nonfinite_loss
    from core.training._data import prepare_data
    from core.training._loop import loss_and_metrics
    from core.training._loop import run_results
    from core.training._spec import TrainSpec

    config = AppConfig.for_data_dir(args["config"]["data_dir"], database_url=args["config"]["database_url"])
    store = open_store(config)
    spec = TrainSpec.from_dict(args["spec"])
    run_id, index, n = args["run_id"], args["index"], len(args["cluster"])
    chief = index == 0
    # The one-worker run's preparation: the same arrays, checks and messages.
    prep = prepare_data(store, spec)
    task, x, y, x_val, y_val = prep.task, prep.x_train, prep.y_train, prep.x_val, prep.y_val
    classes, scaling = prep.classes, prep.scaling
    n_outputs = len(classes) if task == "multiclass" and classes else 1
    if task in ("binary", "regression"):
        y = y.reshape(-1, 1).astype("float32")
        if y_val is not None:
            y_val = y_val.reshape(-1, 1).astype("float32")
    global_batch = spec.batch_size
    local = global_batch // n
    steps = len(x) // global_batch
    if steps < 1:
        raise SystemExit(f"batch_size={global_batch} is larger than the {len(x)} training rows")

    import tensorflow as tf

    threads = int(args.get("threads") or 1)
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    options = tf.distribute.experimental.CommunicationOptions(
        implementation=tf.distribute.experimental.CommunicationImplementation.RING,
        timeout_seconds=float(args["timeout_s"]),
    )
    strategy = tf.distribute.MultiWorkerMirroredStrategy(communication_options=options)
    import keras

    from core.models import build_keras_model
    from core.optimizers import OptimizerSpec
    from core.optimizers import build_keras_optimizer

    keras.utils.set_random_seed(spec.seed)
    model_spec = ModelSpec.from_dict(spec.model)
    with strategy.scope():
        model = build_keras_model(model_spec, tuple(x.shape[1:]), n_outputs)
        optimizer = build_keras_optimizer(OptimizerSpec.from_dict(spec.optimizer))
        optimizer.build(model.trainable_variables)
    losses = {
        "multiclass": keras.losses.SparseCategoricalCrossentropy(reduction=None),
        "binary": keras.losses.BinaryCrossentropy(reduction=None),
        "regression": keras.losses.MeanSquaredError(reduction=None),
    }
    loss_fn = losses[task]

    @tf.function
    def train_step(xb, yb):  # type: ignore[no-untyped-def]
        def replica(xb, yb):  # type: ignore[no-untyped-def]
            with tf.GradientTape() as tape:
                pred = model(xb, training=True)
                loss = tf.reduce_sum(loss_fn(yb, pred)) / global_batch
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply(grads, model.trainable_variables)  # all-reduces the gradients (sum)
            return loss

        per_replica = strategy.run(replica, args=(xb, yb))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    @tf.function
    def agree(flag):  # type: ignore[no-untyped-def]
        per_replica = strategy.run(lambda f: f, args=(flag,))
        return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None)

    units = prep.units  # loss and errors in the target's units, as a one-worker run logs them
    started = time.perf_counter()
    failure = None
    stopped = False
    # The chief streams metrics and progress and reads stop requests through a JobContext, as a
    # one-worker run does (buffered writes, heartbeats, the stop flag).
    ctx = JobContext(store, run_id, config.heartbeat_seconds) if chief else None
    if ctx is not None:
        ctx.start()

    for epoch in range(spec.epochs):
        order = np.random.default_rng(spec.seed + epoch).permutation(len(x))
        epoch_losses = []
        for b in range(steps):
            rows = order[b * global_batch : (b + 1) * global_batch][index * local : (index + 1) * local]
            loss = float(train_step(tf.constant(x[rows]), tf.constant(y[rows])))
            step = epoch * steps + b + 1
            epoch_losses.append(loss)
            if ctx is not None:
                ctx.log_metric("batch/loss", step, loss * units.get("loss", 1.0))
                failure = failure or nonfinite_loss(loss, step, epoch + 1)
                ctx.set_progress(step / (steps * spec.epochs))
            if b % 10 == 9 or b == steps - 1:  # all agree on stopping, at the same steps
                mine = 1.0 if (failure or (ctx is not None and ctx.should_stop())) else 0.0
                if float(agree(tf.constant(mine))) > 0:
                    stopped = True
            if stopped:
                break
        if ctx is not None:
            ctx.log_metric("epoch/loss", epoch + 1, float(np.mean(epoch_losses)) * units.get("loss", 1.0))
            if x_val is not None and len(x_val):
                pred = model(tf.constant(x_val), training=False)
                val_loss = float(tf.reduce_mean(loss_fn(tf.constant(y_val), pred)))
                ctx.log_metric("epoch/val_loss", epoch + 1, val_loss * units.get("loss", 1.0))
                if task == "multiclass":
                    acc = float(np.mean(np.argmax(pred.numpy(), axis=1) == y_val))
                    ctx.log_metric("epoch/val_accuracy", epoch + 1, acc)
            elapsed = time.perf_counter() - started
            ctx.log_metric("epoch/samples_per_s", epoch + 1, (epoch + 1) * steps * global_batch / elapsed)
            ctx.flush()
        if stopped:
            break
    if ctx is not None:
        ctx.close()  # every metric is stored before the chief reports
    if chief:
        result: dict[str, Any] = {
            "failure": failure,
            "stopped": stopped,
            "classes": classes,
            "target_scaling": scaling,
        }
        if not failure and not stopped:
            # Save from plain (non-distributed) copies of the weights: no collective is involved.
            plain = build_keras_model(model_spec, tuple(x.shape[1:]), n_outputs)
            plain.set_weights([np.asarray(w) for w in model.get_weights()])
            plain.save(store.path_for("models", run_id, ".keras"))
            # The same evaluation, confusion matrix, per-class table and bundle fields as a
            # one-worker run.
            plain.compile(**loss_and_metrics(task))
            env = {"tensorflow": tf.__version__, "keras": keras.__version__, "workers": n}
            result |= run_results(plain, prep, model_spec, env)
            result["samples_per_s"] = spec.epochs * steps * global_batch / (time.perf_counter() - started)
            result["steps"] = spec.epochs * steps
        with open(result_file, "w") as fh:
            json.dump(result, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
