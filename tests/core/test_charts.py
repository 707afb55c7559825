from __future__ import annotations

from core.charts import plot_metric_curves
from core.charts._runs import _get_metric_curves_info
from core.store import MetricSeries


def test_curves_info_sorted_and_filtered() -> None:
    metrics = {
        "val_loss": MetricSeries("val_loss", [0, 1], [1.0, 0.5]),
        "loss": MetricSeries("loss", [0, 1, 2], [2.0, 1.0, 0.8]),
    }
    info = _get_metric_curves_info(metrics)
    assert [c.key for c in info.curves] == ["loss", "val_loss"]
    assert info.curves[0].x == [0, 1, 2]
    assert not info.y_log
    assert [c.key for c in _get_metric_curves_info(metrics, ["val_loss", "missing"]).curves] == ["val_loss"]


def test_log_axis_only_for_wide_positive_ranges() -> None:
    wide = {"loss": MetricSeries("loss", [0, 1], [1000.0, 0.5])}
    assert _get_metric_curves_info(wide).y_log
    negative = {"x": MetricSeries("x", [0, 1], [-1000.0, 0.5])}
    assert not _get_metric_curves_info(negative).y_log


def test_empty_figure_says_no_points() -> None:
    fig = plot_metric_curves({})
    assert fig.layout.annotations[0].text == "No points yet"


def test_steering_markers_at_one_step_merge_with_all_their_labels() -> None:
    from core.charts._runs import _get_metric_curves_info
    from core.store import MetricSeries

    info = _get_metric_curves_info(
        {"batch/loss": MetricSeries("batch/loss", [1, 2, 3], [1.0, 0.9, 0.8])},
        markers=[(12, "pause"), (3, "set_lr 0.01"), (12, "set_lr 0.05"), (12, "resume")],
    )
    assert info.markers == [(3, "set_lr 0.01"), (12, "pause + set_lr 0.05 + resume")]
