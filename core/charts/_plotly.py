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


def _style(
    fig: go.Figure,
    title: str,
    x_title: str,
    y_title: str | list[str],
    *,
    height: int = 380,
    legend: bool = True,
) -> go.Figure:
    """The one layout every Loom chart gets: a title, both axis titles, a horizontal legend
    between the title and the plot, the same fonts and colours.

    ``y_title`` is one title, or one per stacked panel (``make_subplots`` rows, top first). An
    empty title raises ``ValueError``: a chart does not ship without them.
    """
    y_titles = [y_title] if isinstance(y_title, str) else list(y_title)
    if not title or not x_title or not y_titles or not all(y_titles):
        raise ValueError(
            f"A chart needs a title and axis titles, but got title={title!r}, x_title={x_title!r}, "
            f"y_title={y_title!r}."
        )
    fig.update_layout(
        title={"text": title, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top", "yref": "container"},
        font=_FONT,
        colorway=list(COLOURS),
        template="plotly_white",
        height=height,
        margin={"l": 10, "r": 10, "t": _TITLE_SPACE + (_LEGEND_SPACE if legend else 0), "b": 10},
        showlegend=legend,
        legend={
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 1,
            "yanchor": "bottom",
            "yref": "paper",
            "font": {"size": 12},
        },
        hovermode="x unified" if legend else "closest",
    )
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    # Only the bottom x axis of stacked panels carries the title (they share it).
    bottom = _axis_names(fig, "x")[-1] if len(y_titles) > 1 else "xaxis"
    fig.layout[bottom].title.text = x_title
    for name, text in zip(_axis_names(fig, "y"), y_titles, strict=False):
        fig.layout[name].title.text = text
    return fig


def _axis_names(fig: go.Figure, letter: str) -> list[str]:
    # "xaxis", "xaxis2", ... in subplot order (make_subplots numbers rows from the top).
    names = [k for k in fig.layout.to_plotly_json() if k.startswith(f"{letter}axis")] or [f"{letter}axis"]
    return sorted(names, key=lambda n: int(n[5:] or 1))


def _integer_ticks(span: float) -> dict[str, object]:
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
        title={"text": title, "x": 0.01, "xanchor": "left", "y": 0.98, "yanchor": "top", "yref": "container"},
        font=_FONT,
        colorway=list(COLOURS),
        height=height,
        margin={"l": 10, "r": 10, "t": _TITLE_SPACE + _LEGEND_SPACE, "b": 10},
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1, "yanchor": "bottom", "yref": "paper"},
    )
    return fig
