"""Model specs: a list of layer dataclasses, validated and shape-checked without TensorFlow;
:func:`build_keras_model` turns one into a Keras 3 model on a worker (TensorFlow imported there).
"""

from __future__ import annotations

from dataclasses import asdict
from dataclasses import dataclass
from dataclasses import field
from dataclasses import fields
from math import prod
from typing import Any
from typing import ClassVar

from core.errors import SpecError
from core.specs import spec_hash

__all__ = [
    "ACTIVATIONS",
    "LAYERS",
    "LAYER_COLUMNS",
    "Activation",
    "BatchNorm",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "IMAGE_TEMPLATES",
    "MaxPool2D",
    "TASKS",
    "TEMPLATES",
    "ModelSpec",
    "article_cnn_template",
    "build_keras_model",
    "cnn_template",
    "count_params",
    "layer_rows",
    "layers_from_rows",
    "mlp_template",
    "model_template",
]

TASKS = ("binary", "multiclass", "regression")
ACTIVATIONS = _ACTIVATIONS = ("relu", "tanh", "sigmoid", "gelu", "elu", "selu", "softplus", "linear")


def _positive_int(owner: str, name: str, value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise SpecError(f"{owner}: `{name}` must be an integer >= 1, but got {name}={value!r}.")


def _activation(owner: str, value: str) -> None:
    if value not in _ACTIVATIONS:
        raise SpecError(f"{owner}: activation must be one of {_ACTIVATIONS}, but got {value!r}.")


@dataclass(frozen=True)
class _Layer:
    type: ClassVar[str]

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type, **asdict(self)}

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return shape

    def params(self, shape: tuple[int, ...]) -> int:
        return 0


@dataclass(frozen=True)
class Dense(_Layer):
    type: ClassVar[str] = "dense"
    units: int = 64
    activation: str = "relu"

    def __post_init__(self) -> None:
        _positive_int("Dense", "units", self.units)
        _activation("Dense", self.activation)

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 1:
            raise SpecError(f"Dense gets input of shape {shape}: add a Flatten layer before it.")
        return (self.units,)

    def params(self, shape: tuple[int, ...]) -> int:
        return shape[0] * self.units + self.units


@dataclass(frozen=True)
class Conv2D(_Layer):
    type: ClassVar[str] = "conv2d"
    filters: int = 32
    kernel_size: int = 3
    activation: str = "relu"
    padding: str = "valid"

    def __post_init__(self) -> None:
        _positive_int("Conv2D", "filters", self.filters)
        _positive_int("Conv2D", "kernel_size", self.kernel_size)
        _activation("Conv2D", self.activation)
        if self.padding not in ("valid", "same"):
            raise SpecError(f"Conv2D: padding must be 'valid' or 'same', but got {self.padding!r}.")

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 3:
            raise SpecError(
                f"Conv2D needs image input (height, width, channels), but gets shape {shape}. "
                "This data is tabular: use the MLP template, or an image dataset."
            )
        h, w, _ = shape
        if self.padding == "valid":
            h, w = h - self.kernel_size + 1, w - self.kernel_size + 1
        if h < 1 or w < 1:
            raise SpecError(
                f"Conv2D kernel {self.kernel_size} is larger than its {shape[0]}x{shape[1]} input."
            )
        return (h, w, self.filters)

    def params(self, shape: tuple[int, ...]) -> int:
        return self.kernel_size * self.kernel_size * shape[2] * self.filters + self.filters


@dataclass(frozen=True)
class MaxPool2D(_Layer):
    type: ClassVar[str] = "maxpool2d"
    pool_size: int = 2

    def __post_init__(self) -> None:
        _positive_int("MaxPool2D", "pool_size", self.pool_size)

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 3:
            raise SpecError(f"MaxPool2D needs image input, but gets shape {shape}.")
        h, w = shape[0] // self.pool_size, shape[1] // self.pool_size
        if h < 1 or w < 1:
            raise SpecError(
                f"MaxPool2D pool {self.pool_size} is larger than its {shape[0]}x{shape[1]} input."
            )
        return (h, w, shape[2])


@dataclass(frozen=True)
class Dropout(_Layer):
    type: ClassVar[str] = "dropout"
    rate: float = 0.2

    def __post_init__(self) -> None:
        if not (isinstance(self.rate, int | float) and 0 <= self.rate < 1):
            raise SpecError(f"Dropout: `0 <= rate < 1` must hold, but got rate={self.rate!r}.")


@dataclass(frozen=True)
class BatchNorm(_Layer):
    type: ClassVar[str] = "batchnorm"

    def params(self, shape: tuple[int, ...]) -> int:
        return 4 * shape[-1]


@dataclass(frozen=True)
class Flatten(_Layer):
    type: ClassVar[str] = "flatten"

    def out_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (prod(shape),)


@dataclass(frozen=True)
class Activation(_Layer):
    type: ClassVar[str] = "activation"
    activation: str = "relu"

    def __post_init__(self) -> None:
        _activation("Activation", self.activation)


LAYERS: dict[str, type[_Layer]] = {
    c.type: c for c in (Dense, Conv2D, MaxPool2D, Dropout, BatchNorm, Flatten, Activation)
}


def _layer(data: dict[str, Any]) -> _Layer:
    cls = LAYERS.get(str(data.get("type")))
    if cls is None:
        raise SpecError(f"Unknown layer {data.get('type')!r}. Valid layers are: {', '.join(LAYERS)}.")
    params = {k: v for k, v in data.items() if k != "type"}
    valid = {f.name for f in fields(cls)}
    if set(params) - valid:
        raise SpecError(
            f"{cls.__name__}: unknown setting(s) {sorted(set(params) - valid)}. Valid: {sorted(valid)}."
        )
    return cls(**params)


@dataclass(frozen=True)
class ModelSpec:
    """Hidden layers; the output layer follows from the task and the number of classes.

    Args:
        layers: The hidden layers, in order.
        task: ``binary``, ``multiclass`` or ``regression``.
    """

    layers: list[_Layer] = field(default_factory=list)
    task: str = "multiclass"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise SpecError(f"task must be one of {TASKS}, but got {self.task!r}.")

    def to_dict(self) -> dict[str, Any]:
        return {"type": "model", "task": self.task, "layers": [layer.to_dict() for layer in self.layers]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelSpec:
        if not isinstance(data, dict) or data.get("type", "model") != "model":
            raise SpecError('A model spec is a JSON object with "type": "model", "task" and "layers".')
        return cls([_layer(d) for d in data.get("layers", [])], data.get("task", "multiclass"))

    @property
    def hash(self) -> str:
        return spec_hash(self.to_dict())

    def output_units(self, n_classes: int) -> int:
        return n_classes if self.task == "multiclass" else 1

    def shapes(self, input_shape: tuple[int, ...], n_classes: int) -> list[tuple[str, tuple[int, ...], int]]:
        """(layer, output shape, parameters) for every layer, output included.

        Raises:
            SpecError: A layer cannot take its input (the message names the layer and the fix).
        """
        out, shape = [], tuple(input_shape)
        for i, layer in enumerate(self.layers, 1):
            try:
                new_shape = layer.out_shape(shape)  # validates the input first
                params = layer.params(shape)
                shape = new_shape
            except SpecError as exc:
                raise SpecError(f"Layer {i} ({layer.type}): {exc}") from None
            out.append((layer.type, shape, params))
        if len(shape) != 1:
            raise SpecError(f"The last hidden layer outputs shape {shape}: add a Flatten layer at the end.")
        units = self.output_units(n_classes)
        out.append(("output", (units,), shape[0] * units + units))
        return out


def count_params(spec: ModelSpec, input_shape: tuple[int, ...], n_classes: int) -> int:
    """Trainable + non-trainable parameters, computed without TensorFlow."""
    return sum(p for _, _, p in spec.shapes(input_shape, n_classes))


def mlp_template(
    task: str = "multiclass", hidden: tuple[int, ...] = (64, 32), dropout: float = 0.1
) -> ModelSpec:
    layers: list[_Layer] = []
    for units in hidden:
        layers.append(Dense(units, "relu"))
        if dropout:
            layers.append(Dropout(dropout))
    return ModelSpec(layers, task)


def cnn_template(task: str = "multiclass") -> ModelSpec:
    """The keras.io MNIST example (Loom's "classic" CNN): Conv2D 32 3x3 ReLU → Conv2D 64 3x3
    ReLU → MaxPool 2 → Dropout 0.25 → Flatten → Dense 128 ReLU → Dropout 0.5 (→ output; softmax
    for classes)."""
    return ModelSpec(
        [
            Conv2D(32, 3, "relu"),
            Conv2D(64, 3, "relu"),
            MaxPool2D(2),
            Dropout(0.25),
            Flatten(),
            Dense(128, "relu"),
            Dropout(0.5),
        ],
        task,
    )


def article_cnn_template(task: str = "multiclass") -> ModelSpec:
    """The network of TensorFlow's MNIST article (the seed's): Conv2D 32 3x3 ReLU → MaxPool 2 →
    Flatten → Dense 128 ReLU (→ output; softmax for classes). 693,962 parameters on 28x28x1
    with 10 classes, a third of the keras.io example's and about 3x faster to train."""
    return ModelSpec([Conv2D(32, 3, "relu"), MaxPool2D(2), Flatten(), Dense(128, "relu")], task)


# Template ID -> its name on the Train page. "cnn" is the keras.io example, as it always was in
# the CLI's short form (its `"template": "cnn"` keeps meaning the same network).
TEMPLATES: dict[str, str] = {
    "cnn_article": (
        "CNN (TensorFlow MNIST article): Conv2D 32 3×3 ReLU → MaxPool 2 → Flatten → Dense 128 ReLU → softmax"
    ),
    "cnn": (
        "CNN (keras.io MNIST example): Conv2D 32 3×3 → Conv2D 64 3×3 → MaxPool 2 → Dropout 0.25 → "
        "Flatten → Dense 128 → Dropout 0.5 → softmax"
    ),
    "mlp": "MLP",
}
IMAGE_TEMPLATES = ("cnn_article", "cnn")  # convolutions: image input only


def model_template(
    name: str,
    task: str = "multiclass",
    *,
    hidden: tuple[int, ...] = (64, 32),
    dropout: float = 0.1,
    images: bool = False,
) -> ModelSpec:
    """A template's model by its ID (:data:`TEMPLATES`), as the Train page and the CLI build it.

    Args:
        name: ``cnn_article``, ``cnn`` (the keras.io example) or ``mlp``.
        task: ``binary``, ``multiclass`` or ``regression``. Defaults to ``"multiclass"``.
        hidden: The MLP's hidden widths. Defaults to (64, 32).
        dropout: The MLP's dropout after each hidden layer (0: none). Defaults to 0.1.
        images: The input is images: an MLP then starts with a Flatten layer. Defaults to False.

    Returns:
        The model spec (its output layer follows from the task).

    Raises:
        SpecError: An unknown template (the message lists the valid ones), or bad MLP settings.
    """
    if name not in TEMPLATES:
        raise SpecError(f"Unknown model template {name!r}. Valid templates are: {', '.join(TEMPLATES)}.")
    if name == "cnn_article":
        return article_cnn_template(task)
    if name == "cnn":
        return cnn_template(task)
    if not isinstance(dropout, int | float) or not 0 <= dropout < 1:
        raise SpecError(f"MLP: `0 <= dropout < 1` must hold, but got dropout={dropout!r}.")
    for width in hidden:
        _positive_int("MLP", "hidden widths", width)
    model = mlp_template(task, tuple(hidden), float(dropout))
    return ModelSpec([Flatten(), *model.layers], task) if images else model


def build_keras_model(spec: ModelSpec, input_shape: tuple[int, ...], n_classes: int):  # type: ignore[no-untyped-def]
    """The Keras 3 model for ``spec`` (imports Keras: call on workers only)."""
    spec.shapes(input_shape, n_classes)  # validate before touching TensorFlow
    import keras

    # Names are given, not drawn from Keras's per-thread counters: a worker thread that built or
    # loaded other models must still produce the same, unique names for the same spec.
    model = keras.Sequential([keras.Input(shape=tuple(input_shape), name="input")], name="loom_model")
    for i, layer in enumerate(spec.layers, 1):
        name = f"{layer.type}_{i}"
        match layer:
            case Dense(units=u, activation=a):
                model.add(keras.layers.Dense(u, activation=a, name=name))
            case Conv2D(filters=f, kernel_size=k, activation=a, padding=p):
                model.add(keras.layers.Conv2D(f, k, activation=a, padding=p, name=name))
            case MaxPool2D(pool_size=p):
                model.add(keras.layers.MaxPooling2D(p, name=name))
            case Dropout(rate=r):
                model.add(keras.layers.Dropout(r, name=name))
            case BatchNorm():
                model.add(keras.layers.BatchNormalization(name=name))
            case Flatten():
                model.add(keras.layers.Flatten(name=name))
            case Activation(activation=a):
                model.add(keras.layers.Activation(a, name=name))
    final = {"multiclass": "softmax", "binary": "sigmoid", "regression": "linear"}[spec.task]
    model.add(keras.layers.Dense(spec.output_units(n_classes), activation=final, name="output"))
    return model


LAYER_COLUMNS = ("type", "units", "filters", "kernel_size", "pool_size", "rate", "activation", "padding")


def layer_rows(spec: ModelSpec) -> list[dict[str, Any]]:
    """A model's layers as rows of one table (the Train page's layer editor); blanks where a
    setting does not apply to a layer."""
    return [{c: layer.to_dict().get(c) for c in LAYER_COLUMNS} for layer in spec.layers]


def layers_from_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Editor rows back to layer dicts: each row keeps the settings its type has; numbers given
    as floats (tables hold floats) become ints where the layer wants ints.

    Raises:
        SpecError: A row has no type, or a setting is not a number; the message names the row.
    """
    import math

    out = []
    for i, row in enumerate(rows, 1):
        kind = row.get("type")
        if kind is None or (isinstance(kind, float) and math.isnan(kind)) or kind == "":
            raise SpecError(f"Layer {i}: choose a layer type ({', '.join(LAYERS)}).")
        cls = LAYERS.get(str(kind))
        if cls is None:
            raise SpecError(f"Layer {i}: unknown layer {kind!r}. Valid layers are: {', '.join(LAYERS)}.")
        layer: dict[str, Any] = {"type": cls.type}
        for f in fields(cls):
            value = row.get(f.name)
            if value is None or (isinstance(value, float) and math.isnan(value)) or value == "":
                continue  # the layer's default
            if f.name in ("units", "filters", "kernel_size", "pool_size"):
                try:
                    number = float(value)
                except (TypeError, ValueError):
                    raise SpecError(
                        f"Layer {i} ({cls.__name__}): {f.name} must be a whole number, got {value!r}."
                    ) from None
                if number != int(number):
                    raise SpecError(
                        f"Layer {i} ({cls.__name__}): {f.name} must be a whole number, got {value!r}."
                    )
                value = int(number)
            elif f.name == "rate":
                try:
                    value = float(value)
                except (TypeError, ValueError):
                    raise SpecError(f"Layer {i} (Dropout): rate must be a number, got {value!r}.") from None
            layer[f.name] = value
        try:
            _layer(layer)
        except SpecError as exc:
            raise SpecError(f"Layer {i}: {exc}") from None
        out.append(layer)
    return out
