"""A run's result details from its predictions: the confusion matrix and per-class table, or
predicted-vs-actual; shared by Keras runs, scikit-learn runs and evaluations."""

from __future__ import annotations

from typing import Any

__all__ = ["details"]


def details(task: str, y_true, predicted, classes) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Confusion matrix and per-class metrics, or predicted-vs-actual for regression."""
    import numpy as np

    if task == "regression":
        pick = np.random.default_rng(0).permutation(len(y_true))[:500]
        return {
            "pred_vs_actual": {"actual": y_true[pick].tolist(), "predicted": predicted.ravel()[pick].tolist()}
        }
    y_pred = predicted.argmax(axis=1) if task == "multiclass" else (predicted.ravel() >= 0.5).astype(int)
    n = len(classes or [])
    matrix = np.zeros((n, n), dtype=int)
    np.add.at(matrix, (y_true, y_pred), 1)
    per_class = []
    for i, name in enumerate(classes or []):
        tp = int(matrix[i, i])
        precision = tp / matrix[:, i].sum() if matrix[:, i].sum() else 0.0
        recall = tp / matrix[i].sum() if matrix[i].sum() else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class.append(
            {
                "class": str(name),
                "precision": precision,
                "recall": recall,
                "f1": f1,
                "support": int(matrix[i].sum()),
            }
        )
    return {
        "confusion": {"classes": [str(c) for c in classes or []], "matrix": matrix.tolist()},
        "per_class": per_class,
    }
