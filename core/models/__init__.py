"""Models: layer specs validated and shape-checked without TensorFlow, templates, and spec →
Keras (on a worker); scikit-learn estimator specs (``_estimators``) and spec → estimator."""

from core.models._estimators import ESTIMATORS
from core.models._estimators import LARGE_ROWS
from core.models._estimators import EstimatorSpec
from core.models._estimators import Param
from core.models._estimators import build_estimator
from core.models._estimators import estimator_class
from core.models._estimators import estimator_warnings
from core.models._estimators import is_estimator
from core.models._estimators import model_from_dict
from core.models._estimators import model_label
from core.models._spec import ACTIVATIONS
from core.models._spec import IMAGE_TEMPLATES
from core.models._spec import LAYER_COLUMNS
from core.models._spec import LAYERS
from core.models._spec import TASKS
from core.models._spec import TEMPLATES
from core.models._spec import Activation
from core.models._spec import BatchNorm
from core.models._spec import Conv2D
from core.models._spec import Dense
from core.models._spec import Dropout
from core.models._spec import Flatten
from core.models._spec import MaxPool2D
from core.models._spec import ModelSpec
from core.models._spec import article_cnn_template
from core.models._spec import build_keras_model
from core.models._spec import cnn_template
from core.models._spec import count_params
from core.models._spec import layer_rows
from core.models._spec import layers_from_rows
from core.models._spec import mlp_template
from core.models._spec import model_template

__all__ = [
    "ACTIVATIONS",
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
    "LAYERS",
    "LAYER_COLUMNS",
    "Activation",
    "BatchNorm",
    "Conv2D",
    "Dense",
    "Dropout",
    "Flatten",
    "MaxPool2D",
    "IMAGE_TEMPLATES",
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
