"""Reports in the store: versions, owners and teams, share links, and each block resolved for
its reader: another user's private run, a run deleted later, and a study not shared show a
placeholder, never their data. Three users: ann and ben in team red, cat in blue."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from core.errors import NotFoundError
from core.errors import PermissionDeniedError
from core.experiments import delete_runs
from core.reports import CompareBlock
from core.reports import MarkdownBlock
from core.reports import ReportSpec
from core.reports import RunChartBlock
from core.reports import delete_report
from core.reports import export_filename
from core.reports import export_html
from core.reports import get_report
from core.reports import list_reports
from core.reports import render_draft
from core.reports import render_report
from core.reports import rendered_html
from core.reports import save_report
from core.reports import set_report_team
from core.reports import unavailable
from core.sharing import add_member
from core.sharing import create_link
from core.sharing import create_team
from core.sharing import create_user
from core.sharing import resolve_grant
from core.sharing import viewer_for
from core.store import SYSTEM
from core.store import Run
from core.store import Store
from core.store import Viewer
from core.store import create_run
from core.store import write_metrics

SPEC = {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}
SECRET = 0.123456789  # a value only ann's private run has


@dataclass
class World:
    store: Store
    ann: Viewer
    ben: Viewer
    cat: Viewer
    ann_private: str
    ann_red: str
    ben_private: str


def _run(store: Store, name: str, author: str, team: str = "", value: float = 0.5) -> str:
    run_id = create_run(store, "smoke", SPEC, name=name, author=author, team=team).id
    write_metrics(store, run_id, [("epoch/val_loss", 1, 1.0, 1.0), ("epoch/val_loss", 2, value, 2.0)])
    with store.session(SYSTEM) as s:
        s.get(Run, run_id).status = "succeeded"
    return run_id


@pytest.fixture
def world(store: Store) -> World:
    for name in ("ann", "ben", "cat"):
        create_user(store, name, f"{name}-password-long")
    create_team(store, "red")
    create_team(store, "blue")
    add_member(store, "red", "ann")
    add_member(store, "red", "ben")
    add_member(store, "blue", "cat")
    ann, ben, cat = (viewer_for(store, n) for n in ("ann", "ben", "cat"))
    return World(
        store,
        ann,
        ben,
        cat,
        ann_private=_run(store, "ann-private", "ann", value=SECRET),
        ann_red=_run(store, "ann-red", "ann", "red", value=0.25),
        ben_private=_run(store, "ben-private", "ben", value=0.75),
    )


def _report(*run_ids: str, text: str = "Hello") -> ReportSpec:
    return ReportSpec("Weekly", (MarkdownBlock(text), RunChartBlock(run_ids), CompareBlock(run_ids)))


def _values(blocks) -> set[float]:  # type: ignore[no-untyped-def]
    """Every number a rendered report holds: its chart points and table cells."""
    out = set()
    for block in blocks:
        for _, fig in block.figures:
            for trace in fig.data:
                out |= set(trace.y)
        for row in block.table:
            out |= {v for v in row.values() if isinstance(v, float)}
    return out


def test_each_save_is_a_new_version_and_old_ones_stay_readable(world: World) -> None:
    store = world.store
    report_id, v1 = save_report(store, _report(world.ann_red, text="first"), viewer=world.ann)
    _, v2 = save_report(store, _report(world.ann_red, text="second"), report_id=report_id, viewer=world.ann)
    # Saving what the newest version already holds writes nothing.
    assert save_report(
        store, _report(world.ann_red, text="second"), report_id=report_id, viewer=world.ann
    ) == (
        report_id,
        2,
    )
    assert (v1, v2) == (1, 2)
    newest = get_report(store, report_id, viewer=world.ann)
    assert newest.version == newest.latest_version == 2
    assert [v for v, _, _ in newest.versions] == [1, 2]
    assert newest.spec.blocks[0] == MarkdownBlock("second")
    assert get_report(store, report_id, 1, viewer=world.ann).spec.blocks[0] == MarkdownBlock("first")
    assert (
        get_report(store, report_id, 1, viewer=world.ann).spec_hash
        == _report(world.ann_red, text="first").hash
    )
    with pytest.raises(NotFoundError, match="has no version 3; it has versions 1 to 2"):
        get_report(store, report_id, 3, viewer=world.ann)
    assert export_filename(newest) == "weekly-v2.html"


def test_reports_are_owned_and_shared_with_a_team_like_runs(world: World) -> None:
    store = world.store
    report_id, _ = save_report(store, _report(world.ann_red), viewer=world.ann)
    for other in (world.ben, world.cat, Viewer()):
        with pytest.raises(NotFoundError, match="no report"):
            get_report(store, report_id, viewer=other)
    assert [r.id for r in list_reports(store, viewer=world.ben)] == []
    set_report_team(store, report_id, "red", viewer=world.ann)
    assert get_report(store, report_id, viewer=world.ben).id == report_id
    assert [r.id for r in list_reports(store, viewer=world.ben)] == [report_id]
    with pytest.raises(NotFoundError):
        get_report(store, report_id, viewer=world.cat)
    # A teammate reads; only the owner saves, re-teams or deletes.
    with pytest.raises(PermissionDeniedError, match="Only the owner"):
        save_report(store, _report(world.ann_red, text="ben's"), report_id=report_id, viewer=world.ben)
    with pytest.raises(PermissionDeniedError, match="Only the owner"):
        delete_report(store, report_id, viewer=world.ben)
    with pytest.raises(PermissionDeniedError, match="Sign in"):
        save_report(store, _report(world.ann_red), viewer=Viewer())
    delete_report(store, report_id, viewer=world.ann)
    with pytest.raises(NotFoundError):
        get_report(store, report_id, viewer=world.ann)


def test_a_private_run_of_another_user_is_a_placeholder(world: World) -> None:
    """Ann's team report names her private run: ben (her teammate) sees the report and her red
    run, and a placeholder for the private one; ann sees all of it."""
    store = world.store
    spec = _report(world.ann_private, world.ann_red)
    report_id, _ = save_report(store, spec, team="red", viewer=world.ann)

    as_ben = render_report(store, get_report(store, report_id, viewer=world.ben), viewer=world.ben)
    chart, table = as_ben[1], as_ben[2]
    assert chart.placeholders == (unavailable("run", world.ann_private),)
    assert table.placeholders == (unavailable("run", world.ann_private),)
    assert [row["run"] for row in table.table] == [world.ann_red]
    assert [trace.name for trace in chart.figures[0][1].data] == [f"ann-red ({world.ann_red[:6]})"]
    assert SECRET not in _values(as_ben) and 0.25 in _values(as_ben)
    html = export_html(store, get_report(store, report_id, viewer=world.ben), viewer=world.ben)
    assert "ann-private" not in html and world.ann_private not in html and str(SECRET) not in html
    assert unavailable("run", world.ann_private) in html

    as_ann = render_report(store, get_report(store, report_id, viewer=world.ann), viewer=world.ann)
    assert not any(b.placeholders for b in as_ann)
    assert SECRET in _values(as_ann)


def test_a_compare_block_lists_evaluations_with_their_training_overlap(world: World) -> None:
    """An evaluation of a compared run reads as on the run page: a score on rows the run trained on
    carries the overlap label (in the view and the exported file); one on unseen rows says none; a
    reader who may not see the run sees none of its evaluations."""
    from core.store import Evaluation

    store = world.store
    flattering = {"evaluation": {"accuracy": 0.9944}, "overlap": {"rows": 142, "of": 142, "fraction": 1.0}}
    held_out = {"evaluation": {"accuracy": 0.9167}, "overlap": {"rows": 0, "of": 36, "fraction": 0.0}}
    with store.session(SYSTEM) as s:
        s.add(
            Evaluation(
                id="e" * 32, run_id=world.ann_private, dataset_name="wine.csv", metrics_json=flattering
            )
        )
        s.add(
            Evaluation(id="f" * 32, run_id=world.ann_private, dataset_name="wine test", metrics_json=held_out)
        )
    report_id, _ = save_report(store, _report(world.ann_private, world.ann_red), team="red", viewer=world.ann)

    record = get_report(store, report_id, viewer=world.ann)
    notes = render_report(store, record, viewer=world.ann)[2].notes
    name = f"ann-private ({world.ann_private[:6]})"
    assert notes == (
        f"{name} evaluated on wine.csv: accuracy 0.9944. ⚠ 100 % of these rows were used in training "
        "(142 of 142): this score is not a held-out score.",
        f"{name} evaluated on wine test: accuracy 0.9167. Rows trained on: none.",
    )
    assert "⚠ 100 % of these rows were used in training (142 of 142)" in export_html(
        store, record, viewer=world.ann
    )
    as_ben = render_report(store, get_report(store, report_id, viewer=world.ben), viewer=world.ben)
    assert as_ben[2].notes == ()


def test_a_run_deleted_later_is_a_placeholder(world: World) -> None:
    store = world.store
    report_id, _ = save_report(store, _report(world.ann_red, world.ann_private), viewer=world.ann)
    assert delete_runs(store, [world.ann_private], viewer=world.ann) == 1
    blocks = render_report(store, get_report(store, report_id, viewer=world.ann), viewer=world.ann)
    assert blocks[1].placeholders == blocks[2].placeholders == (unavailable("run", world.ann_private),)
    assert [row["run"] for row in blocks[2].table] == [world.ann_red]
    assert SECRET not in _values(blocks)


def test_a_report_link_opens_its_owners_runs_and_nothing_else(world: World) -> None:
    """Ann's report shows her private run and ben's private run (visible to her? no: so she
    cannot even pick it; here it is named anyway, as a hand-written spec could). Through her
    link an anonymous visitor sees her run, read only, and a placeholder for ben's."""
    store = world.store
    spec = _report(world.ann_private, world.ben_private)
    report_id, _ = save_report(store, spec, viewer=world.ann)
    with pytest.raises(NotFoundError):
        create_link(store, "report", report_id, viewer=world.ben)  # only the owner shares it
    token = create_link(store, "report", report_id, viewer=world.ann)
    visitor = Viewer().with_grant(resolve_grant(store, token))
    blocks = render_report(store, get_report(store, report_id, viewer=visitor), viewer=visitor)
    assert blocks[1].placeholders == (unavailable("run", world.ben_private),)
    assert SECRET in _values(blocks) and 0.75 not in _values(blocks)
    # The link opens this report only: not the run on its own, nor another report of ann's.
    other_id, _ = save_report(store, _report(world.ann_red), viewer=world.ann)
    with pytest.raises(NotFoundError):
        get_report(store, other_id, viewer=visitor)
    from core.store import get_run

    with pytest.raises(NotFoundError):
        get_run(store, world.ann_private, viewer=visitor)


def test_markdown_is_rendered_with_raw_html_escaped(world: World) -> None:
    store = world.store
    text = (
        "# Title\n\n<script>alert(1)</script> **bold** <img src=x onerror=alert(1)> "
        "[x](javascript:alert(1)) ![p](http://example.com/p.png)"
    )
    report_id, _ = save_report(store, ReportSpec("<b>T</b>", (MarkdownBlock(text),)), viewer=world.ann)
    html = export_html(store, get_report(store, report_id, viewer=world.ann), viewer=world.ann)
    body = html.split("<body>", 1)[1]
    assert "<h1>Title</h1>" in body and "<strong>bold</strong>" in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body and "<script>alert" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body and "<img" not in body
    assert 'href="javascript:' not in body  # the link stays text
    assert "<title>&lt;b&gt;T&lt;/b&gt;</title>" in html


def test_a_study_block_draws_its_plots_and_hides_from_others(config) -> None:  # type: ignore[no-untyped-def]
    """A real study (Optuna in the store's database) with three finished trials: its history
    and importances are drawn for its owner; for another user it is a placeholder."""
    import optuna

    from core.data import ingest_file
    from core.models import mlp_template
    from core.optimizers import OptimizerSpec
    from core.reports import StudyBlock
    from core.store import open_store
    from core.training import TrainSpec
    from core.training import default_pipeline
    from core.tuning import Param
    from core.tuning import SearchSpace
    from core.tuning import StudySpec
    from core.tuning import create_study
    from core.tuning import load_optuna_study
    from tests.conftest import ROOT

    store = open_store(config)
    for name in ("ann", "cat"):
        create_user(store, name, f"{name}-password-long")
    ann, cat = viewer_for(store, "ann"), viewer_for(store, "cat")
    ds = ingest_file(store, ROOT / "assets" / "iris.csv", "csv", "iris", author="ann")
    base = TrainSpec(
        default_pipeline(ds.id, "species", ds.profile_json, "multiclass").to_dict(),
        mlp_template("multiclass", (8,), 0.0).to_dict(),
        OptimizerSpec("adam", 1e-2).to_dict(),
        epochs=1,
    ).to_dict()
    lr = Param("optimizer.learning_rate", "float", 1e-4, 0.3, log=True)
    units = Param("model.layers.0.units", "int", 4, 32)
    study_id = create_study(
        store, StudySpec(base, SearchSpace((lr, units)).to_dict()), "lr search", viewer=ann
    )
    study = load_optuna_study(config, study_id)
    dists = {
        lr.path: optuna.distributions.FloatDistribution(1e-4, 0.3, log=True),
        units.path: optuna.distributions.IntDistribution(4, 32),
    }
    for i, value in enumerate([0.9, 0.6, 0.4, 0.5]):
        params = {lr.path: 10 ** -(i + 1), units.path: 4 + 8 * i}
        study.add_trial(optuna.trial.create_trial(params=params, distributions=dists, value=value))
    spec = ReportSpec("Tuning", (StudyBlock(study_id, ("History", "Importances", "Pareto front")),))
    report_id, _ = save_report(store, spec, viewer=ann)
    token = create_link(store, "report", report_id, viewer=ann)

    (block,) = render_report(store, get_report(store, report_id, viewer=ann), viewer=ann)
    assert block.title == "Study lr search"
    assert [title for title, _ in block.figures] == ["History", "Importances"]
    history = block.figures[0][1]
    assert list(history.data[0].y) == [0.9, 0.6, 0.4, 0.5]  # each trial's value, in order
    assert block.notes == ("Pareto front: not drawn for a study with 1 objective(s).",)

    # Through the link: the owner's study is opened for the visitor, and only in this report.
    visitor = Viewer().with_grant(resolve_grant(store, token))
    (shared,) = render_report(store, get_report(store, report_id, viewer=visitor), viewer=visitor)
    assert [title for title, _ in shared.figures] == ["History", "Importances"]
    # Cat has no access to the study: a report of cat's that names it shows a placeholder.
    cats, _ = save_report(store, spec, viewer=cat)
    (hidden,) = render_report(store, get_report(store, cats, viewer=cat), viewer=cat)
    assert hidden.placeholders == (unavailable("study", study_id),) and not hidden.figures


def test_saves_at_once_get_distinct_versions(world: World) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store = world.store
    report_id, _ = save_report(store, _report(world.ann_red), viewer=world.ann)
    texts = [f"edit {i}" for i in range(4)]
    with ThreadPoolExecutor(4) as pool:
        saved = list(
            pool.map(
                lambda t: save_report(
                    store, _report(world.ann_red, text=t), report_id=report_id, viewer=world.ann
                ),
                texts,
            )
        )
    assert sorted(v for _, v in saved) == [2, 3, 4, 5]
    record = get_report(store, report_id, viewer=world.ann)
    assert [v for v, _, _ in record.versions] == [1, 2, 3, 4, 5]
    by_version = {v: get_report(store, report_id, v, viewer=world.ann).spec.blocks[0].text for _, v in saved}
    assert sorted(by_version.values()) == texts


def test_an_unsaved_draft_renders_as_its_saved_version_will(world: World) -> None:
    """The editor's preview: a draft's blocks (as JSON, before any save) rendered for the editor
    with the saved view's rules (raw HTML escaped, ben's private run a placeholder, its value
    nowhere); an invalid block carries its message and hides nothing else; nothing is saved."""
    store, ann = world.store, world.ann
    markdown = {"type": "markdown", "text": "# Plan\n\n<script>alert(1)</script> *soon*"}
    chart = {
        "type": "run_chart",
        "run_ids": [world.ann_private, world.ben_private],
        "metric": "epoch/val_loss",
    }
    compare = {"type": "compare", "run_ids": [world.ann_red]}
    draft = render_draft(
        store,
        "  Weekly  ",
        [
            markdown,
            {"type": "run_chart", "run_ids": [], "metric": "epoch/val_loss"},  # no run picked yet
            chart,
            {"type": "nonsense"},
            compare,
        ],
        viewer=ann,
    )
    assert (draft.title, draft.error, draft.valid) == ("Weekly", "", False)
    assert [b.kind for b in draft.blocks] == ["markdown", "run_chart", "run_chart", "invalid", "compare"]
    text, empty, curve, unknown, table = draft.blocks
    assert "<h1>Plan</h1>" in text.html and "&lt;script&gt;" in text.html and "<script" not in text.html
    assert "Pick 1 to 10 for `run_ids`, but got 0" in empty.error and not empty.figures
    assert "Unknown block type 'nonsense'" in unknown.error
    assert curve.placeholders == (unavailable("run", world.ben_private),) and not curve.error
    assert SECRET in _values([curve]) and 0.75 not in _values([curve])
    assert [row["name"] for row in table.table] == ["ann-red"]
    assert list_reports(store, viewer=ann) == []  # nothing saved

    # Exactly what the saved version shows: the same blocks give the same page.
    valid = [markdown, chart, compare]
    report_id, _ = save_report(store, ReportSpec.from_dict({"title": "Weekly", "blocks": valid}), viewer=ann)
    saved = render_report(store, get_report(store, report_id, viewer=ann), viewer=ann)
    preview = render_draft(store, "Weekly", valid, viewer=ann)
    assert preview.valid
    assert rendered_html("Weekly", "", list(preview.blocks)) == rendered_html("Weekly", "", saved)

    # A draft that would not save as a whole says why, and still shows its blocks.
    untitled = render_draft(store, " ", [markdown], viewer=ann)
    assert "needs a title" in untitled.error and untitled.blocks[0].html == text.html
