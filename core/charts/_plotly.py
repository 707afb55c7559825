"""What every chart shares: Plotly, imported only when a figure is drawn, and the empty-chart hint."""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

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


# --- one look for every figure ---------------------------------------------------------------

# Plotly's own colourway, named once so a faded raw curve and its smoothed line share a colour.
COLOURS = (
    "#636efa",
    "#ef553b",
    "#00cc96",
    "#ab63fa",
    "#ffa15a",
    "#19d3f3",
    "#ff6692",
    "#b6e880",
    "#ff97ff",
    "#fecb52",
)
_FONT = {"family": "Source Sans Pro, Helvetica, Arial, sans-serif", "size": 13, "color": "#31333f"}
# Pixels above the plot area: the title's line, then the legend's row (horizontal, below the
# title, above the plot), so neither overlaps the other nor an axis title.
_TITLE_SPACE = 40
_LEGEND_SPACE = 32


def _title(text: str) -> dict[str, Any]:
    # At the top left of the figure, above the legend's row.
    return {"text": text, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top", "yref": "container"}


def _layout(
    title: str,
    x_title: str,
    y_title: str | list[str],
    *,
    height: int = 380,
    legend: bool = True,
    x_axis: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The one layout every Loom chart gets, as a dict: a title, both axis titles, a horizontal
    legend between the title and the plot, the same fonts and colours.

    ``y_title`` is one title, or one per panel stacked on a shared x axis (top first: traces of
    panel ``i`` go on ``x{i}``/``y{i}``, see :func:`_panel_axes`). ``x_axis``: more settings for
    every x axis (integer ticks). An empty title raises ``ValueError``: a chart does not ship
    without them. Built as one dict because Plotly validates each ``update_*`` call on its own
    (a dozen of them took a live chart's drawing from 30 ms to 200 ms).
    """
    y_titles = [y_title] if isinstance(y_title, str) else list(y_title)
    if not title or not x_title or not y_titles or not all(y_titles):
        raise ValueError(
            f"A chart needs a title and axis titles, but got title={title!r}, x_title={x_title!r}, "
            f"y_title={y_title!r}."
        )
    layout: dict[str, Any] = {
        "title": _title(title),
        "font": _FONT,
        "colorway": list(COLOURS),
        "height": height,
        "margin": {"l": 10, "r": 10, "t": _TITLE_SPACE + (_LEGEND_SPACE if legend else 0), "b": 10},
        "showlegend": legend,
        "legend": {
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 1,
            "yanchor": "bottom",
            "yref": "paper",
            "font": {"size": 12},
        },
        "hovermode": "x unified" if legend else "closest",
    }
    n = len(y_titles)
    gap = 0.1 if n < 3 else 0.06
    size = (1 - gap * (n - 1)) / n
    for i, text in enumerate(y_titles, start=1):
        suffix = "" if i == 1 else str(i)
        top = 1 - (i - 1) * (size + gap)
        x: dict[str, Any] = {"automargin": True, **(x_axis or {})}
        y: dict[str, Any] = {"automargin": True, "title": {"text": text}}
        if n > 1:
            y |= {"domain": [max(0.0, top - size), top], "anchor": f"x{suffix}"}
            x |= {"anchor": f"y{suffix}"}
            if i < n:  # panels share the bottom panel's x axis: its ticks and title only
                x |= {"matches": f"x{n}", "showticklabels": False}
        if i == n:
            x["title"] = {"text": x_title}
        layout[f"xaxis{suffix}"], layout[f"yaxis{suffix}"] = x, y
    return layout


def _style(
    fig: go.Figure,
    title: str,
    x_title: str,
    y_title: str | list[str],
    *,
    height: int = 380,
    legend: bool = True,
) -> go.Figure:
    """:func:`_layout` on an existing figure."""
    fig.update_layout(_layout(title, x_title, y_title, height=height, legend=legend))
    return fig


def _panel_axes(row: int) -> tuple[str, str]:
    """The (x, y) axis references of stacked panel ``row`` (1 at the top)."""
    suffix = "" if row == 1 else str(row)
    return f"x{suffix}", f"y{suffix}"


def _integer_ticks(span: float) -> dict[str, Any]:
    """Axis settings for counts (epochs, trials, classes): ticks only on whole numbers, every one
    while they are few, else Plotly's own (whole) spacing."""
    if span <= 12:
        return {"tickmode": "linear", "tick0": 0, "dtick": 1, "tickformat": "d"}
    return {"tickmode": "auto", "tickformat": "d"}


def _restyle(fig: go.Figure, title: str, *, height: int = 420) -> go.Figure:
    """Loom's look on a figure drawn elsewhere (Optuna's plots keep their own axis titles and
    subplots): the title, fonts, colours and the legend above the plot, below the title."""
    if not title:
        raise ValueError("A chart needs a title, but got none.")
    fig.update_layout(
        title=_title(title),
        font=_FONT,
        colorway=list(COLOURS),
        height=height,
        margin={"l": 10, "r": 10, "t": _TITLE_SPACE + _LEGEND_SPACE, "b": 10},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1, "yanchor": "bottom", "yref": "paper"},
    )
    return fig
