"""A population's charts: the family tree's info (segments, exploit edges, kills) and every
member's curve, with Loom's one look (titles, integer epoch ticks)."""

from __future__ import annotations

from core.charts import plot_population_curves
from core.charts import plot_population_tree
from core.charts._pbt import _get_population_tree_info
from core.models import mlp_template
from core.optimizers import OptimizerSpec
from core.training import TrainSpec
from core.training import default_pipeline
from core.tuning import Param
from core.tuning import PBTSegment
from core.tuning import PBTSpec
from core.tuning import Population
from core.tuning import SearchSpace

LR = Param("optimizer.learning_rate", "float", 1e-4, 0.3, log=True)


def _population() -> Population:
    base = TrainSpec(
        default_pipeline("0" * 32, "species", {"columns": []}, "multiclass").to_dict(),
        mlp_template().to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
    ).to_dict()
    spec = PBTSpec(base, SearchSpace((LR,)).to_dict(), members=3, interval=1, epochs=3)
    lr = {"optimizer.learning_rate": 0.01}
    segments = (
        PBTSegment(0, "a", 0, 1, "succeeded", None, lr, "start"),
        PBTSegment(1, "b", 0, 1, "succeeded", None, lr, "start"),
        PBTSegment(2, "c", 0, 1, "succeeded", None, lr, "start"),
        PBTSegment(0, "d", 1, 2, "running", "a", lr, "continue"),
        PBTSegment(1, "e", 1, 2, "running", "a", lr, "exploit"),
    )
    return Population(spec, "running", "x", segments, (), frozenset({2}), (), (0, 1, 2))


def test_the_tree_draws_segments_exploit_edges_and_kills() -> None:
    info = _get_population_tree_info(_population())
    assert [(m, a, b, s) for m, a, b, s, _ in info.segments][-2:] == [
        (0, 1, 2, "running"),
        (1, 1, 2, "running"),
    ]
    assert info.edges == [(0, 1, 1, "exploit")]  # member 1 branched from member 0 at epoch 1
    assert info.kills == [(2, 1)] and (info.epochs, info.members) == (3, 3)
    fig = plot_population_tree(_population())
    assert fig.layout.title.text == "Population family tree"
    assert fig.layout.xaxis.title.text == "Epoch" and fig.layout.yaxis.title.text == "Member"
    assert fig.layout.xaxis.dtick == 1 and fig.layout.yaxis.tickformat == "d"
    assert len(fig.layout.annotations) == 1


def test_every_members_curve_on_one_chart() -> None:
    fig = plot_population_curves({0: [(1, 0.9), (2, 0.7)], 1: [(1, 1.1)], 2: []}, "val_loss", 3)
    assert [t.name for t in fig.data] == ["member 0", "member 1"]
    assert list(fig.data[0].x) == [1, 2] and fig.layout.xaxis.dtick == 1
    assert fig.layout.yaxis.title.text == "val_loss" and "val_loss" in fig.layout.title.text
    empty = plot_population_curves({}, "val_loss", 3)
    assert "No member has reported val_loss yet." in empty.layout.annotations[0].text
