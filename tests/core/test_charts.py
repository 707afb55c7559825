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
    assert [p.y_log for p in info.panels] == [False]
    assert [c.key for c in _get_metric_curves_info(metrics, ["val_loss", "missing"]).curves] == ["val_loss"]


def test_log_axis_only_for_wide_positive_ranges() -> None:
    wide = {"loss": MetricSeries("loss", [0, 1], [1000.0, 0.5])}
    assert _get_metric_curves_info(wide).panels[0].y_log
    negative = {"x": MetricSeries("x", [0, 1], [-1000.0, 0.5])}
    assert not _get_metric_curves_info(negative).panels[0].y_log


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


# --- one look for every figure -----------------------------------------------------------------

import math  # noqa: E402

import pytest  # noqa: E402

from core import charts  # noqa: E402
from core.charts import get_run_chart_groups  # noqa: E402
from core.charts import smooth  # noqa: E402
from core.charts._runs import _get_confusion_matrix_info  # noqa: E402
from core.errors import SpecError  # noqa: E402


def _series(values: list[float], steps: list[int] | None = None) -> MetricSeries:
    return MetricSeries("", steps or list(range(1, len(values) + 1)), values)


def _surface_and_paths() -> tuple[object, list[object]]:
    from core.optimizers import SURFACES
    from core.optimizers import walk

    return SURFACES["bowl"], walk("bowl", ["sgd", "adam"], 0.1, steps=20)


def _population() -> object:
    from tests.core.test_charts_pbt import _population as population

    return population()


class _Band:
    label, runs, steps = "seed group", 3, [1, 2, 3]
    mean, low, high, std = [1.0, 0.8, 0.6], [0.9, 0.7, 0.5], [1.1, 0.9, 0.7], [0.1, 0.1, 0.1]


_CURVES = {
    "batch/loss": _series([2.0, 1.0, 0.5, 0.01]),
    "batch/accuracy": _series([0.2, 0.5, 0.7, 0.9]),
}
# Every public plot_* function with representative inputs.
_FIGURES = {
    "plot_metric_curves": lambda: charts.plot_metric_curves(_CURVES, markers=[(2, "pause")]),
    "plot_metric_curves (empty)": lambda: charts.plot_metric_curves({}),
    "plot_confusion_matrix": lambda: charts.plot_confusion_matrix(
        {"classes": [0, 1, 2], "matrix": [[5, 1, 0], [0, 4, 2], [1, 0, 6]]}
    ),
    "plot_predicted_vs_actual": lambda: charts.plot_predicted_vs_actual(
        {"actual": [1.0, 2.0, 3.0], "predicted": [1.1, 1.8, 3.3]}
    ),
    "plot_comparison": lambda: charts.plot_comparison(
        {"a (abc123)": ([1, 2, 3], [0.9, 0.7, 0.6])}, y_label="epoch/val_loss"
    ),
    "plot_column_distribution": lambda: charts.plot_column_distribution(
        {"name": "age", "hist": {"edges": [0, 10, 20, 30], "counts": [3, 5, 2]}}
    ),
    "plot_column_distribution (text)": lambda: charts.plot_column_distribution(
        {"name": "city", "top": [["Oslo", 4], ["Rome", 2]]}
    ),
    "plot_correlation": lambda: charts.plot_correlation(
        {"correlation": {"columns": ["a", "b"], "matrix": [[1.0, 0.3], [0.3, 1.0]]}}
    ),
    "plot_class_balance": lambda: charts.plot_class_balance([("setosa", 50), ("virginica", 50)], "species"),
    "plot_group_bands": lambda: charts.plot_group_bands([_Band()], y_label="epoch/val_loss"),
    "plot_optimizer_paths": lambda: charts.plot_optimizer_paths(*_surface_and_paths()),
    "plot_optimizer_losses": lambda: charts.plot_optimizer_losses(_surface_and_paths()[1]),
    "plot_population_tree": lambda: charts.plot_population_tree(_population()),
    "plot_population_curves": lambda: charts.plot_population_curves(
        {0: [(1, 0.9), (2, 0.7)], 1: [(1, 1.1)]}, "val_loss", 3
    ),
}


def test_every_plot_function_is_exercised() -> None:
    public = {n for n in charts.__all__ if n.startswith("plot_")}
    assert public == {n.split(" ")[0] for n in _FIGURES}


@pytest.mark.parametrize("name", sorted(_FIGURES))
def test_every_figure_has_a_title_and_axis_titles(name: str) -> None:
    fig = _FIGURES[name]()
    layout = fig.layout
    assert layout.title.text, name
    x_axes = [layout[k] for k in layout.to_plotly_json() if k.startswith("xaxis")]
    y_axes = [layout[k] for k in layout.to_plotly_json() if k.startswith("yaxis")]
    assert any(a.title.text for a in x_axes), name
    assert y_axes and all(a.title.text for a in y_axes), name  # every panel says what it measures
    if layout.showlegend is not False:
        # The legend sits above the plot area, below the title: never on an axis title.
        assert layout.legend.orientation == "h" and layout.legend.yanchor == "bottom", name
        assert layout.legend.y >= 1 and layout.margin.t >= 60, name
    assert layout.font.family, name


def test_the_style_helper_refuses_a_chart_without_titles() -> None:
    import plotly.graph_objects as go

    from core.charts._plotly import _style

    with pytest.raises(ValueError, match="needs a title and axis titles"):
        _style(go.Figure(), "", "step", "loss")
    with pytest.raises(ValueError, match="needs a title and axis titles"):
        _style(go.Figure(), "Loss", "step", ["loss", ""])


def test_loss_and_accuracy_get_separate_axes_and_only_loss_may_be_log() -> None:
    info = _get_metric_curves_info(_CURVES)
    assert [(p.y_title, [c.key for c in p.curves]) for p in info.panels] == [
        ("loss", ["batch/loss"]),
        ("accuracy (fraction)", ["batch/accuracy"]),
    ]
    assert [p.y_log for p in info.panels] == [True, False]  # 2.0 .. 0.01 spans two decades
    assert (info.title, info.x_title) == ("Per batch", "batch")
    fig = charts.plot_metric_curves(_CURVES)
    assert {fig.data[0].yaxis, fig.data[1].yaxis} == {"y", "y2"}
    assert fig.layout.yaxis.type == "log" and fig.layout.yaxis2.type == "linear"
    assert fig.layout.yaxis.dtick == 1  # a tick per decade, not 1, 2, 5, 10, 2, 5
    assert fig.layout.xaxis2.title.text == "batch"


def test_train_and_validation_of_one_quantity_share_an_axis() -> None:
    info = _get_metric_curves_info(
        {
            "epoch/loss": _series([1.0, 0.5]),
            "epoch/val_loss": _series([1.1, 0.7]),
            "epoch/accuracy": _series([0.5, 0.7]),
            "epoch/val_accuracy": _series([0.4, 0.6]),
        }
    )
    assert [[c.key for c in p.curves] for p in info.panels] == [
        ["epoch/loss", "epoch/val_loss"],
        ["epoch/accuracy", "epoch/val_accuracy"],
    ]


def test_cpu_percent_and_rss_megabytes_get_separate_linear_axes() -> None:
    system = {
        "system/cpu_percent": _series([1.0, 90.0, 3.0]),
        "system/rss_mb": _series([100.0, 20_000.0, 30_000.0]),  # spans decades: still linear
    }
    info = _get_metric_curves_info(system)
    assert sorted(p.y_title for p in info.panels) == ["memory (MB)", "usage (%)"]
    assert not any(p.y_log for p in info.panels)
    assert info.x_title == "seconds"
    fig = charts.plot_metric_curves(system)
    assert fig.layout.yaxis.type == fig.layout.yaxis2.type == "linear"
    assert {t.yaxis for t in fig.data} == {"y", "y2"}


def test_a_script_metric_is_drawn_against_its_steps() -> None:
    info = _get_metric_curves_info({"val/acc": _series([0.5, 0.8])})
    assert info.x_title == "step" and info.x_title != "val"
    assert info.panels[0].y_title == "acc (fraction)"


def test_run_chart_groups_one_chart_per_x_axis_system_last() -> None:
    groups = get_run_chart_groups(
        ["system/rss_mb", "batch/loss", "epoch/samples_per_s", "val/acc", "epoch/loss", "system/cpu_percent"]
    )
    assert groups.charts == [
        ("batch", ["batch/loss"]),
        ("epoch", ["epoch/loss"]),
        ("val", ["val/acc"]),
        ("system", ["system/cpu_percent", "system/rss_mb"]),
    ]
    assert groups.rates == ["epoch/samples_per_s"]


def test_counts_get_integer_ticks() -> None:
    epochs = charts.plot_metric_curves({"epoch/loss": _series([1.0, 0.8, 0.7])})
    assert (epochs.layout.xaxis.dtick, epochs.layout.xaxis.tickformat) == (1, "d")
    many = charts.plot_metric_curves({"epoch/loss": _series([1.0] * 200)})
    assert many.layout.xaxis.tickformat == "d"
    batches = charts.plot_metric_curves({"batch/loss": _series([1.0, 0.8])})
    assert batches.layout.xaxis.dtick is None  # batches are many: Plotly's own spacing

    info = _get_confusion_matrix_info({"classes": [0, 1, 2], "matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1]]})
    assert info.labels == ["0", "1", "2"]
    cm = charts.plot_confusion_matrix({"classes": [0, 1, 2], "matrix": info.matrix})
    assert cm.layout.xaxis.type == cm.layout.yaxis.type == "category"  # one tick per class, no -0.5
    balance = charts.plot_class_balance([(0, 3), (1, 2)], "label")
    assert balance.layout.xaxis.type == "category" and balance.layout.yaxis.dtick == 1


def test_smoothing_is_tensorboards_debiased_ema() -> None:
    # By hand, weight 0.5: s1 = 0.5*1 = 0.5 -> 0.5/(1-0.5) = 1; s2 = 0.25+0.5*3 = 1.75 -> 1.75/0.75;
    # s3 = 0.875+0.5*2 = 1.875 -> 1.875/0.875.
    assert smooth([1.0, 3.0, 2.0], 0.5) == pytest.approx([1.0, 1.75 / 0.75, 1.875 / 0.875])
    assert smooth([1.0, 3.0], 0.0) == [1.0, 3.0]
    out = smooth([1.0, math.nan, 3.0], 0.5)  # NaN passes through and does not count
    assert out[0] == 1.0 and math.isnan(out[1]) and out[2] == pytest.approx(1.75 / 0.75)
    with pytest.raises(SpecError, match="0 <= smoothing < 1"):
        smooth([1.0], 1.0)


def test_a_smoothed_curve_is_drawn_over_its_faded_raw_values() -> None:
    fig = charts.plot_metric_curves({"batch/loss": _series([1.0, 3.0, 2.0, 4.0])}, smoothing=0.5)
    raw, smoothed = fig.data
    assert list(raw.y) == [1.0, 3.0, 2.0, 4.0] and raw.opacity < 0.5 and raw.showlegend is False
    assert list(smoothed.y) == pytest.approx(smooth([1.0, 3.0, 2.0, 4.0], 0.5))
    assert smoothed.name == "batch/loss" and raw.line.color == smoothed.line.color
    assert len(charts.plot_metric_curves({"batch/loss": _series([1.0, 3.0])}).data) == 1  # unsmoothed
    with pytest.raises(SpecError):
        charts.plot_metric_curves({}, smoothing=1.5)


def test_study_history_counts_trials_in_whole_numbers() -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study()
    study.optimize(lambda t: (t.suggest_float("x", -1, 1)) ** 2, n_trials=3)
    figures = charts.study_figures(study, study.trials, ["loss"], only=["History"])
    history = figures["History"]
    assert history.layout.title.text
    assert history.layout.xaxis.title.text == "trial"
    assert (history.layout.xaxis.dtick, history.layout.xaxis.tickformat) == (1, "d")
    assert history.layout.legend.orientation == "h"
