"""Data → Plotly figures. Each chart is split into pure data (``_get_*_info``) and drawing
(``plot_*``); tests compare the info. Plotly is imported only when a figure is drawn.

One private module per family of charts, as optuna's visualization package keeps one per plot:
``_runs`` (metric curves, comparison, confusion matrix, predicted vs actual), ``_data`` (dataset
profile), ``_lab`` (optimizer lab), ``_studies`` (Optuna study charts), ``_groups`` (seed-group
bands), ``_pbt`` (a population's family tree and curves), ``_smooth`` (TensorBoard's
smoothing); ``_plotly`` holds what they share: the one layout
helper (``_style``: a title, axis titles, the legend above the plot) every figure goes through.
"""

from core.charts._data import plot_class_balance
from core.charts._data import plot_column_distribution
from core.charts._data import plot_correlation
from core.charts._groups import SPREADS
from core.charts._groups import plot_group_bands
from core.charts._lab import plot_optimizer_losses
from core.charts._lab import plot_optimizer_paths
from core.charts._pbt import plot_population_curves
from core.charts._pbt import plot_population_tree
from core.charts._runs import RunChartGroups
from core.charts._runs import get_run_chart_groups
from core.charts._runs import plot_comparison
from core.charts._runs import plot_confusion_matrix
from core.charts._runs import plot_metric_curves
from core.charts._runs import plot_predicted_vs_actual
from core.charts._smooth import smooth
from core.charts._studies import study_chart_titles
from core.charts._studies import study_figures

__all__ = [
    "SPREADS",
    "RunChartGroups",
    "get_run_chart_groups",
    "plot_class_balance",
    "plot_confusion_matrix",
    "plot_column_distribution",
    "plot_comparison",
    "plot_correlation",
    "plot_group_bands",
    "plot_metric_curves",
    "plot_optimizer_losses",
    "plot_optimizer_paths",
    "plot_population_curves",
    "plot_population_tree",
    "plot_predicted_vs_actual",
    "smooth",
    "study_chart_titles",
    "study_figures",
]
