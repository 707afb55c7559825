"""The training spec: what a run trains (pipeline, model, optimizer, settings), validated on
construction, and the default pipeline when the user picks none."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from core.errors import SpecError
from core.models import EstimatorSpec
from core.models import ModelSpec
from core.models import is_estimator
from core.models import model_from_dict
from core.optimizers import OptimizerSpec
from core.pipeline import PipelineSpec
from core.training._backends import BACKENDS
from core.training._checkpoints import CheckpointRule

if TYPE_CHECKING:
    from core.compute import SubmitOptions
    from core.store import Profile
    from core.store import RunRecord

__all__ = [
    "TrainSpec",
    "TrainingRun",
    "default_pipeline",
    "placement",
    "read_training_run",
    "resume_spec",
    "validate_train_spec",
]


@dataclass(frozen=True)
class TrainSpec:
    """Everything a training run uses; stored with the run and hashed.

    Args:
        pipeline: The pipeline spec (as a dict) the run applies, dataset and target included.
        model: The model spec (as a dict).
        optimizer: The optimizer spec (as a dict).
        epochs: Passes over the training rows, >= 1. Defaults to 5.
        batch_size: Rows per step, >= 1. Defaults to 32.
        seed: Seeds Keras, NumPy and Python. Defaults to 0.
        early_stopping: Stop after this many epochs without a better validation loss; 0 is off.
            Defaults to 0.
        pipeline_id: The saved pipeline version, if the run used one. Defaults to None.
        resume_from: A run whose last checkpoint this run continues from (its epoch and step
            count go on). Defaults to None.
        trial: Set when the run is a tuning trial: ``{"study", "trial_id", "number"}``; the run
            reports per-epoch values to the study and may be pruned. Defaults to None.
        multi_worker: Train synchronously data-parallel across ``workers`` Dask workers (a custom
            loop under TensorFlow's multi-worker strategy). Defaults to False.
        workers: Participants of a multi-worker run, >= 1. Defaults to 1.
        gpu: Each participant takes one GPU (workers declaring ``GPU``). Defaults to False.
        backend: The Keras backend it trains on: ``"tensorflow"``, ``"jax"`` or ``"torch"``
            (a run on another backend than its worker's trains in a process of its own; see
            ``core/training/_backends.py``). Specs stored before backends existed read as
            TensorFlow. Defaults to ``"tensorflow"``.
        validation_dataset: Another dataset to validate on, as Keras's ``validation_data``: the
            run then trains on every row of the pipeline's dataset (its split is skipped) and
            validates and is evaluated on this one's rows, transformed by the pipeline fitted on
            the training rows. It must have the training data's columns and only classes the
            training data has (checked before launch: :func:`check_validation_data`). Written
            only when set, so specs (and hashes) of runs without one stay as they were. Defaults
            to None (the split's held-out rows).
        checkpoints: Which per-epoch checkpoints the run keeps, a
            :class:`~core.training._checkpoints.CheckpointRule` as a dict (``last``, ``every``,
            ``best``). Written only when set. Defaults to None (the default rule: the last 2,
            every 10th, the best 1).
        branch: Set on a branch (:func:`core.training.branch_run`): ``{"run", "epoch", "step"}``,
            the run and epoch whose checkpoint it starts from and that epoch's step, where its
            curves continue. Written only when set. Defaults to None.
    """

    pipeline: dict[str, Any]
    model: dict[str, Any]
    optimizer: dict[str, Any] = field(default_factory=lambda: OptimizerSpec().to_dict())
    epochs: int = 5
    batch_size: int = 32
    seed: int = 0
    early_stopping: int = 0
    pipeline_id: str | None = None
    resume_from: str | None = None
    trial: dict[str, Any] | None = None
    multi_worker: bool = False
    workers: int = 1
    gpu: bool = False
    backend: str = "tensorflow"
    validation_dataset: str | None = None
    checkpoints: dict[str, Any] | None = None
    branch: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise SpecError(
                f"Unknown Keras backend {self.backend!r}. Valid backends are: {', '.join(BACKENDS)}."
            )
        if self.multi_worker and self.backend != "tensorflow":
            raise SpecError(
                f"Data-parallel (multi-worker) training runs on TensorFlow only, but got "
                f"backend={self.backend!r} with workers={self.workers}: use one worker, or the "
                "tensorflow backend."
            )
        PipelineSpec.from_dict(self.pipeline).ordered()
        if is_estimator(model_from_dict(self.model)) and self.multi_worker:
            raise SpecError("scikit-learn models train on one worker: set workers=1 (multi_worker off).")
        OptimizerSpec.from_dict(self.optimizer)
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise SpecError(f"`{name} >= 1` must hold, but got {name}={value!r}.")
        if self.early_stopping < 0:
            raise SpecError(f"`early_stopping >= 0` must hold, but got early_stopping={self.early_stopping}.")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise SpecError(f"`workers >= 1` must hold, but got workers={self.workers!r}.")
        if self.multi_worker and self.batch_size % self.workers:
            raise SpecError(
                "`batch_size % workers == 0` must hold for data-parallel training (each worker takes an "
                f"equal share of every batch), but got batch_size={self.batch_size}, workers={self.workers}."
            )
        if self.multi_worker and (self.resume_from or self.trial or self.early_stopping):
            raise SpecError(
                "Multi-worker runs do not resume, tune or stop early yet: use one worker for those."
            )
        if self.validation_dataset is not None:
            if not isinstance(self.validation_dataset, str) or not self.validation_dataset:
                raise SpecError(
                    "`validation_dataset` must be a dataset ID or None, but got "
                    f"validation_dataset={self.validation_dataset!r}."
                )
            if self.validation_dataset == PipelineSpec.from_dict(self.pipeline).dataset_id:
                raise SpecError(
                    "`validation_dataset != the training dataset` must hold, but got "
                    f"validation_dataset={self.validation_dataset!r} for both: choose another dataset "
                    "to validate on, or none to use the split's held-out rows."
                )
        CheckpointRule.from_dict(self.checkpoints)
        if self.branch is not None:
            branch = self.branch
            if not (
                isinstance(branch, dict)
                and isinstance(branch.get("run"), str)
                and all(isinstance(branch.get(k), int) and branch[k] >= 0 for k in ("epoch", "step"))
                and branch["epoch"] >= 1
            ):
                raise SpecError(
                    "`branch` must be {'run': <ID>, 'epoch': <int >= 1>, 'step': <int >= 0>}, "
                    f"but got branch={branch!r}."
                )
            if self.epochs <= branch["epoch"]:
                raise SpecError(
                    f"`epochs > branch epoch` must hold, but got epochs={self.epochs} for a branch from "
                    f"epoch {branch['epoch']}: raise the number of epochs."
                )
            if self.resume_from or self.multi_worker:
                raise SpecError("A branch neither resumes another run nor trains on several workers.")
        if self.trial is not None and not (
            isinstance(self.trial, dict)
            and isinstance(self.trial.get("study"), str)
            and isinstance(self.trial.get("trial_id"), int)
        ):
            raise SpecError("`trial` must be {'study': <ID>, 'trial_id': <int>, 'number': <int>}.")

    def to_dict(self) -> dict[str, Any]:
        data = {"type": "train", **asdict(self)}
        for optional in ("validation_dataset", "checkpoints", "branch"):
            if data[optional] is None:  # unset: the specs (and hashes) of older runs stay as they were
                del data[optional]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSpec:
        try:
            return cls(**{k: v for k, v in data.items() if k != "type"})
        except TypeError as exc:
            raise SpecError(f"Invalid training spec: {exc}.") from None


@dataclass(frozen=True)
class TrainingRun:
    """A training run as pages show it: the stored record, and its spec parsed once by training
    (which owns the schema). ``spec`` is None when the stored spec is incomplete (another
    version's, or hand-edited); ``problem`` then says why.
    """

    run: RunRecord
    spec: TrainSpec | None
    problem: str = ""

    @property
    def pipeline(self) -> PipelineSpec | None:
        return PipelineSpec.from_dict(self.spec.pipeline) if self.spec else None

    @property
    def model(self) -> ModelSpec | EstimatorSpec | None:
        """The Keras model spec, or the scikit-learn estimator spec of an estimator run."""
        return model_from_dict(self.spec.model) if self.spec else None

    @property
    def optimizer(self) -> OptimizerSpec | None:
        return OptimizerSpec.from_dict(self.spec.optimizer) if self.spec else None

    @property
    def is_trial(self) -> bool:
        return self.run.trial is not None


def resume_spec(trained: TrainingRun, epochs: int) -> TrainSpec:
    """The spec of a run that continues ``trained`` from its last checkpoint up to ``epochs``.

    Raises:
        SpecError: The stored spec is incomplete, or ``epochs`` is not a whole number >= 1.
    """
    from dataclasses import replace

    if trained.spec is None:
        raise SpecError(f"Run {trained.run.id}'s spec cannot be read ({trained.problem}): it cannot resume.")
    return replace(trained.spec, epochs=int(epochs), resume_from=trained.run.id, trial=None, branch=None)


def read_training_run(run: RunRecord) -> TrainingRun:
    """``run`` with its training spec parsed (a trial's ``trial`` field included)."""
    from core.store import thaw

    try:
        return TrainingRun(run, TrainSpec.from_dict(thaw(run.spec)))
    except (SpecError, KeyError, TypeError, ValueError, AttributeError) as exc:
        return TrainingRun(run, None, f"{exc.__class__.__name__}: {exc}")


def placement(spec: TrainSpec) -> SubmitOptions:
    """Where a run goes on the cluster: one GPU for a one-worker GPU run; a data-parallel run's
    coordinator needs none (each of its participants takes one)."""
    from core.compute import SubmitOptions

    return SubmitOptions(resources={"GPU": 1} if spec.gpu and not spec.multi_worker else None)


def validate_train_spec(data: dict[str, Any]) -> dict[str, Any]:
    return TrainSpec.from_dict(data).to_dict()


def own_split_column(profile: Profile | Mapping[str, Any], target: str) -> str | None:
    """The dataset's own split column, if it has one: a text or categorical column (not the target)
    with no missing values whose every value names a part (train, validation, test, or a synonym
    the split step accepts), with training rows and held-out rows, as MNIST-like files ship.

    Args:
        profile: The dataset's profile.
        target: The column to predict (never a split column).

    Returns:
        The first such column's name, or None (a random split is used).
    """
    from core.pipeline import SPLIT_LABELS
    from core.store import Profile

    prof = Profile.of(profile)
    for column in prof.columns:
        top = column.raw.get("top") or []
        if column.name == target or column.kind not in ("categorical", "text") or column.missing or not top:
            continue
        # The profile's top values are counted exactly; all rows covered means no other value.
        parts = {SPLIT_LABELS.get(str(value).strip().lower()) for value, _ in top}
        if sum(int(n) for _, n in top) != prof.n_rows or None in parts:
            continue
        if "train" in parts and parts & {"validation", "test"}:
            return column.name
    return None


def describe_split(pipeline: PipelineSpec) -> str:
    """One line saying how ``pipeline`` splits its rows, for the Train page.

    Args:
        pipeline: The pipeline (the first split step is described).

    Returns:
        For example "Split: by the dataset's own `split` column." or "Split: stratified, 20%
        validation (seed 0)."; "No split step." when there is none.
    """
    for node in pipeline.nodes:
        step = node.step.to_dict()
        if step["type"] != "split":
            continue
        if step["method"] == "column":
            column = step["label_column"]
            return f"Split: by the dataset's own `{column}` column (its train/validation/test rows)."
        held = f"{step['validation']:.0%} validation" + (f", {step['test']:.0%} test" if step["test"] else "")
        return f"Split: {step['method']}, {held} (seed {step['seed']})."
    return "No split step."


def default_pipeline(
    dataset_id: str, target: str, profile: Profile | Mapping[str, Any], task: str
) -> PipelineSpec:
    """A sensible pipeline when the user picks none: split, then fill, encode and scale
    (tabular) or scale images to [0, 1] (image datasets). The split is the dataset's own split
    column when it has one (:func:`own_split_column`, dropped after the split), else random
    (stratified for classification) with 20% validation."""
    from core.store import Profile

    kinds = {c.name: c.kind for c in Profile.of(profile).columns}
    own = own_split_column(profile, target)
    split: dict[str, Any] = {
        "type": "split",
        "method": "stratified" if task != "regression" else "random",
        "validation": 0.2,
        "seed": 0,
    }
    if own is not None:
        split = {"type": "split", "method": "column", "label_column": own}
        kinds.pop(own)  # the split step drops it: never a feature
    if "image" in kinds:
        return PipelineSpec.chain(dataset_id, target, [split, {"type": "scale_images"}])
    features = [n for n in kinds if n != target]
    numeric = [n for n in features if kinds[n] in ("numeric", "boolean")]
    categorical = [n for n in features if kinds[n] == "categorical"]
    dropped = [n for n in features if n not in numeric and n not in categorical]
    steps: list[dict[str, Any]] = [{"type": "drop_missing", "columns": [target]}, split]
    if dropped:
        steps.insert(0, {"type": "drop_columns", "columns": dropped})
    if numeric:
        steps += [
            {"type": "fill_missing", "columns": numeric, "strategy": "median"},
            {"type": "standardize", "columns": numeric},
        ]
    if categorical:
        steps += [
            {"type": "fill_missing", "columns": categorical, "strategy": "most_frequent"},
            {"type": "one_hot", "columns": categorical},
        ]
    return PipelineSpec.chain(dataset_id, target, list(steps))
