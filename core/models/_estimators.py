"""Estimator specs: scikit-learn models beside the Keras templates, validated without importing
scikit-learn; :func:`build_estimator` makes the estimator on a worker (scikit-learn imported there).

A training run's ``model`` is a :class:`core.models.ModelSpec` (``"type": "model"``) or an
:class:`EstimatorSpec` (``"type": "estimator"``); :func:`model_from_dict` reads either.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import field
from typing import Any

from core.errors import SpecError
from core.models._spec import TASKS
from core.models._spec import ModelSpec
from core.specs import spec_hash

__all__ = [
    "ESTIMATORS",
    "LARGE_ROWS",
    "EstimatorSpec",
    "Param",
    "build_estimator",
    "estimator_class",
    "estimator_warnings",
    "is_estimator",
    "model_from_dict",
    "model_label",
]


@dataclass(frozen=True)
class Param:
    """One hyperparameter of an estimator kind.

    Args:
        kind: ``int``, ``float`` or ``choice``.
        default: The value when the spec leaves it out.
        low: Smallest allowed number (``int``/``float``). Defaults to None.
        high: Largest allowed number. Defaults to None.
        choices: Allowed values (``choice``). Defaults to ().
        none_ok: None is allowed too (e.g. ``max_depth``: no limit). Defaults to False.
        help: One line for the Train page. Defaults to "".
    """

    kind: str
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    none_ok: bool = False
    help: str = ""

    def check(self, owner: str, name: str, value: Any) -> Any:
        """``value`` validated (an int given as a whole float becomes an int)."""
        if value is None and self.none_ok:
            return None
        if self.kind == "choice":
            if value not in self.choices:
                raise SpecError(f"{owner}: `{name}` must be one of {list(self.choices)}, but got {value!r}.")
            return value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(f"{owner}: `{name}` must be a number, but got {name}={value!r}.")
        if self.kind == "int":
            if value != int(value):
                raise SpecError(f"{owner}: `{name}` must be a whole number, but got {name}={value!r}.")
            value = int(value)
        else:
            value = float(value)
        if (self.low is not None and value < self.low) or (self.high is not None and value > self.high):
            raise SpecError(
                f"{owner}: `{self.low} <= {name} <= {self.high}` must hold, but got {name}={value!r}."
            )
        return value


_DEPTH = Param("int", None, 1, 1000, none_ok=True, help="Deepest tree level; empty: no limit.")

# kind -> (label, tasks it supports, {param: Param}). One registry; the Train page's form,
# the tuning search space and validation all read it.
ESTIMATORS: dict[str, tuple[str, tuple[str, ...], dict[str, Param]]] = {
    "dummy": (
        "dummy (majority / mean)",
        TASKS,
        {},
    ),
    "linear": (
        "linear (logistic / ridge)",
        TASKS,
        {
            "alpha": Param("float", 1.0, 1e-8, 1e8, help="Regularization strength (logistic: C = 1/alpha)."),
            "max_iter": Param("int", 500, 1, 100_000, help="Solver iterations (logistic)."),
        },
    ),
    "random_forest": (
        "random forest",
        TASKS,
        {
            "n_estimators": Param("int", 100, 1, 5_000, help="Trees; added in chunks, each a live point."),
            "max_depth": _DEPTH,
            "min_samples_leaf": Param("int", 1, 1, 100_000, help="Fewest training rows in a leaf."),
            "max_features": Param("choice", "sqrt", choices=("sqrt", "log2", 1.0), help="Split features."),
        },
    ),
    "hist_gradient_boosting": (
        "histogram gradient boosting",
        TASKS,
        {
            "max_iter": Param("int", 100, 1, 10_000, help="Boosting iterations; each chunk a live point."),
            "learning_rate": Param("float", 0.1, 1e-6, 10.0, help="Shrinkage of each tree."),
            "max_depth": _DEPTH,
            "max_leaf_nodes": Param("int", 31, 2, 100_000, help="Leaves per tree."),
            "l2_regularization": Param("float", 0.0, 0.0, 1e6, help="L2 penalty on leaf values."),
        },
    ),
    "knn": (
        "k-nearest neighbours",
        TASKS,
        {
            "n_neighbors": Param("int", 5, 1, 10_000, help="Neighbours that vote."),
            "weights": Param("choice", "uniform", choices=("uniform", "distance"), help="Vote weights."),
        },
    ),
    "svm": (
        "SVM",
        TASKS,
        {
            "C": Param("float", 1.0, 1e-6, 1e6, help="Inverse regularization strength."),
            "kernel": Param("choice", "rbf", choices=("rbf", "linear", "poly", "sigmoid"), help="Kernel."),
        },
    ),
}


@dataclass(frozen=True)
class EstimatorSpec:
    """A scikit-learn model: its kind, task and hyperparameters.

    Args:
        kind: A key of :data:`ESTIMATORS` (``random_forest``, ``knn``...).
        task: ``binary``, ``multiclass`` or ``regression``.
        params: Hyperparameters of that kind; missing ones take their defaults.

    Raises:
        SpecError: Unknown kind or parameter, or a value out of range (named).
    """

    kind: str = "random_forest"
    task: str = "multiclass"
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in ESTIMATORS:
            raise SpecError(
                f"Unknown estimator {self.kind!r}. Valid estimators are: {', '.join(ESTIMATORS)}."
            )
        if self.task not in TASKS:
            raise SpecError(f"task must be one of {TASKS}, but got {self.task!r}.")
        if not isinstance(self.params, dict):
            raise SpecError(f"`params` must be an object of hyperparameters, but got {self.params!r}.")
        label, _, schema = ESTIMATORS[self.kind]
        unknown = sorted(set(self.params) - set(schema))
        if unknown:
            raise SpecError(f"{label}: unknown setting(s) {unknown}. Valid: {sorted(schema) or 'none'}.")
        full = {name: p.check(label, name, self.params.get(name, p.default)) for name, p in schema.items()}
        object.__setattr__(self, "params", full)

    @property
    def label(self) -> str:
        """``random forest``, ``logistic regression``... for this task."""
        if self.kind == "linear":
            return "ridge regression" if self.task == "regression" else "logistic regression"
        if self.kind == "dummy":
            return "dummy (mean)" if self.task == "regression" else "dummy (majority)"
        return ESTIMATORS[self.kind][0]

    def to_dict(self) -> dict[str, Any]:
        return {"type": "estimator", "kind": self.kind, "task": self.task, "params": dict(self.params)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EstimatorSpec:
        if not isinstance(data, dict) or data.get("type") != "estimator":
            raise SpecError('An estimator spec is a JSON object with "type": "estimator", "kind", "task".')
        extra = sorted(set(data) - {"type", "kind", "task", "params"})
        if extra:
            raise SpecError(f"Estimator spec: unknown key(s) {extra}. Valid: kind, task, params.")
        return cls(str(data.get("kind")), str(data.get("task", "multiclass")), dict(data.get("params") or {}))

    @property
    def hash(self) -> str:
        return spec_hash(self.to_dict())

    @property
    def chunks(self) -> list[int]:
        """The sizes the model grows through, one live point each: trees for a forest,
        iterations for boosting (ten chunks at most); one fit for the others."""
        total = {"random_forest": "n_estimators", "hist_gradient_boosting": "max_iter"}.get(self.kind)
        if total is None:
            return [0]
        n = int(self.params[total])
        step = max(1, -(-n // 10))
        return [*range(step, n, step), n]


def is_estimator(model: dict[str, Any] | Any) -> bool:
    """Whether a model dict or spec is a scikit-learn estimator."""
    if isinstance(model, EstimatorSpec):
        return True
    return isinstance(model, dict) and model.get("type") == "estimator"


def model_from_dict(data: dict[str, Any]) -> ModelSpec | EstimatorSpec:
    """A training run's model: a Keras :class:`ModelSpec` or an :class:`EstimatorSpec`.

    Raises:
        SpecError: Neither kind of spec, or an invalid one.
    """
    return EstimatorSpec.from_dict(data) if is_estimator(data) else ModelSpec.from_dict(data)


def model_label(data: dict[str, Any] | Any) -> str:
    """A short name of a run's model kind for tables: ``MLP``, ``CNN``, ``random forest``..."""
    try:
        spec = model_from_dict(data) if isinstance(data, dict) else data
    except SpecError:
        return "?"
    if isinstance(spec, EstimatorSpec):
        return spec.label
    if not isinstance(spec, ModelSpec):
        return "?"
    return "CNN" if any(layer.type == "conv2d" for layer in spec.layers) else "MLP"


# (kind, regression?) -> the class build_estimator makes; a loaded model must be one of these.
_CLASSES = {
    ("dummy", False): "sklearn.dummy.DummyClassifier",
    ("dummy", True): "sklearn.dummy.DummyRegressor",
    ("linear", False): "sklearn.linear_model.LogisticRegression",
    ("linear", True): "sklearn.linear_model.Ridge",
    ("random_forest", False): "sklearn.ensemble.RandomForestClassifier",
    ("random_forest", True): "sklearn.ensemble.RandomForestRegressor",
    ("hist_gradient_boosting", False): "sklearn.ensemble.HistGradientBoostingClassifier",
    ("hist_gradient_boosting", True): "sklearn.ensemble.HistGradientBoostingRegressor",
    ("knn", False): "sklearn.neighbors.KNeighborsClassifier",
    ("knn", True): "sklearn.neighbors.KNeighborsRegressor",
    ("svm", False): "sklearn.calibration.CalibratedClassifierCV",
    ("svm", True): "sklearn.svm.SVR",
}


def estimator_class(spec: EstimatorSpec) -> str:
    """The public scikit-learn class (dotted name) that ``spec`` trains."""
    return _CLASSES[(spec.kind, spec.task == "regression")]


def build_estimator(spec: EstimatorSpec, seed: int = 0, n_jobs: int | None = None):  # type: ignore[no-untyped-def]
    """The unfitted scikit-learn estimator for ``spec`` (imports scikit-learn: workers only).

    Forests and boosting are built with ``warm_start`` so the job can grow them in chunks.
    """
    p, regression = spec.params, spec.task == "regression"
    if spec.kind == "dummy":
        from sklearn.dummy import DummyClassifier
        from sklearn.dummy import DummyRegressor

        return DummyRegressor(strategy="mean") if regression else DummyClassifier(strategy="prior")
    if spec.kind == "linear":
        from sklearn.linear_model import LogisticRegression
        from sklearn.linear_model import Ridge

        if regression:
            return Ridge(alpha=p["alpha"], random_state=seed)
        return LogisticRegression(C=1.0 / p["alpha"], max_iter=p["max_iter"], random_state=seed)
    if spec.kind == "random_forest":
        from sklearn.ensemble import RandomForestClassifier
        from sklearn.ensemble import RandomForestRegressor

        cls = RandomForestRegressor if regression else RandomForestClassifier
        return cls(
            n_estimators=spec.chunks[0],
            max_depth=p["max_depth"],
            min_samples_leaf=p["min_samples_leaf"],
            max_features=p["max_features"],
            warm_start=True,
            random_state=seed,
            n_jobs=n_jobs,
        )
    if spec.kind == "hist_gradient_boosting":
        from sklearn.ensemble import HistGradientBoostingClassifier
        from sklearn.ensemble import HistGradientBoostingRegressor

        hgb = HistGradientBoostingRegressor if regression else HistGradientBoostingClassifier
        return hgb(
            max_iter=spec.chunks[0],
            learning_rate=p["learning_rate"],
            max_depth=p["max_depth"],
            max_leaf_nodes=p["max_leaf_nodes"],
            l2_regularization=p["l2_regularization"],
            early_stopping=False,  # Loom's split validates; the same iterations every time
            warm_start=True,
            random_state=seed,
        )
    if spec.kind == "knn":
        from sklearn.neighbors import KNeighborsClassifier
        from sklearn.neighbors import KNeighborsRegressor

        knn = KNeighborsRegressor if regression else KNeighborsClassifier
        return knn(n_neighbors=p["n_neighbors"], weights=p["weights"], n_jobs=n_jobs)
    from sklearn.svm import SVC
    from sklearn.svm import SVR

    if regression:
        return SVR(C=p["C"], kernel=p["kernel"])
    from sklearn.calibration import CalibratedClassifierCV

    # Probabilities by scikit-learn's recommended calibration (SVC(probability=True) is deprecated).
    return CalibratedClassifierCV(SVC(C=p["C"], kernel=p["kernel"], random_state=seed), ensemble=False)


LARGE_ROWS = 50_000  # above this, SVM and k-NN get a warning with the expected cost


def estimator_warnings(spec: EstimatorSpec, rows: int, inferred_task: str | None = None) -> list[str]:
    """What to tell someone about to train ``spec`` on ``rows`` rows whose target Loom infers as
    ``inferred_task``: a classifier on a continuous target, SVM or k-NN on a large dataset."""
    out = []
    if inferred_task == "regression" and spec.task != "regression":
        out.append(
            f"The target looks continuous, but the task is {spec.task}: a {spec.label} classifier would "
            "treat every distinct value as a class of its own. Choose the regression task."
        )
    if spec.kind == "svm" and rows > LARGE_ROWS:
        out.append(
            f"An SVM's fitting time grows between the square and the cube of the rows: {rows:,} rows take "
            f"about {(rows / LARGE_ROWS) ** 2:,.0f}× to {(rows / LARGE_ROWS) ** 3:,.0f}× the time of "
            f"{LARGE_ROWS:,} (minutes there; hours here). Histogram gradient boosting scales to this size."
        )
    if spec.kind == "knn" and rows > LARGE_ROWS:
        out.append(
            f"k-nearest neighbours compares every prediction with all {rows:,} training rows: validation, "
            "evaluation and Predict get slow and memory-hungry. Histogram gradient boosting scales better."
        )
    return out
