"""What every chart shares: Plotly, imported only when a figure is drawn, and the empty-chart hint."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import plotly.graph_objects as go


def _import_plotly():  # type: ignore[no-untyped-def]
    try:
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - it is in requirements.txt
        raise ImportError("Plotly is needed for charts: `pip install -r requirements.txt`.") from exc
    return go


def _say(fig: go.Figure, text: str) -> None:
    """An empty chart with a line of text in its middle."""
    fig.add_annotation(text=text, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper")
