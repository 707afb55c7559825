"""The permission matrix: two users in two teams, share links of each kind, and every core
function that lists, reads or changes a dataset, pipeline, run, study, note, tag or link.

A is in team "red" with B; C is in team "blue". A owns one private and one red run, dataset,
pipeline and study. Each pair (function, viewer) has one expected answer: seen, or answered
exactly like a missing ID.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from datetime import timedelta

import pytest

from core.data import delete_dataset
from core.data import get_dataset
from core.data import list_datasets
from core.data import rename_dataset
from core.data import set_dataset_team
from core.errors import NotFoundError
from core.errors import PermissionDeniedError
from core.errors import RateLimitedError
from core.errors import SpecError
from core.experiments import ExperimentQuery
from core.experiments import add_note
from core.experiments import add_tag
from core.experiments import compare_runs
from core.experiments import delete_runs
from core.experiments import list_experiments
from core.experiments import list_notes
from core.experiments import list_studies
from core.experiments import set_archived
from core.experiments import set_team
from core.experiments import tags_of
from core.pipeline import PipelineSpec
from core.pipeline import create_draft
from core.pipeline import get_draft
from core.pipeline import list_drafts
from core.pipeline import list_pipeline_versions
from core.pipeline import save_version
from core.pipeline import update_draft
from core.sharing import add_member
from core.sharing import cookie_value
from core.sharing import create_link
from core.sharing import create_team
from core.sharing import create_user
from core.sharing import end_session
from core.sharing import list_links
from core.sharing import resolve_grant
from core.sharing import resolve_session
from core.sharing import revoke_link
from core.sharing import sign_in
from core.sharing import token_from_cookie
from core.sharing import token_hash
from core.sharing import viewer_for
from core.store import SYSTEM
from core.store import Dataset
from core.store import Run
from core.store import Store
from core.store import Study
from core.store import Viewer
from core.store import count_rows
from core.store import create_run
from core.store import get_events
from core.store import get_metrics
from core.store import get_run
from core.store import list_runs
from core.store import write_metrics
from core.tuning import get_study
from core.tuning import study_runs

SPEC = {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}


@dataclass
class World:
    store: Store
    a: Viewer
    b: Viewer
    c: Viewer
    anon: Viewer
    ids: dict[str, str]


def _dataset(store: Store, name: str, author: str, team: str = "") -> str:
    with store.session(SYSTEM) as s:
        row = Dataset(
            name=name,
            content_hash="0" * 64,
            n_rows=1,
            n_cols=1,
            source_format="csv",
            schema_json={},
            read_options_json={},
            profile_json={"columns": []},
            author=author,
            team=team,
        )
        s.add(row)
        s.flush()
        return row.id


def _study(store: Store, name: str, author: str, team: str = "") -> str:
    with store.session(SYSTEM) as s:
        row = Study(
            name=name,
            optuna_study_name=f"optuna-{name}",
            spec_json={},
            phases_json=[],
            author=author,
            team=team,
        )
        s.add(row)
        s.flush()
        return row.id


@pytest.fixture
def world(store: Store) -> World:
    for name in ("ann", "ben", "cat"):
        create_user(store, name, f"{name}-password-long")
    create_team(store, "red")
    create_team(store, "blue")
    add_member(store, "red", "ann")
    add_member(store, "red", "ben")
    add_member(store, "blue", "cat")
    a, b, c = (viewer_for(store, n) for n in ("ann", "ben", "cat"))
    assert (a.teams, b.teams, c.teams) == (("red",), ("red",), ("blue",))
    ids = {
        "ds_private": _dataset(store, "a-private-data", "ann"),
        "ds_team": _dataset(store, "a-red-data", "ann", "red"),
        "run_private": create_run(store, "smoke", SPEC, name="a-private-run", author="ann").id,
        "run_team": create_run(store, "smoke", SPEC, name="a-red-run", author="ann", team="red").id,
        "study_private": _study(store, "a-private-study", "ann"),
        "study_team": _study(store, "a-red-study", "ann", "red"),
    }
    ids["trial"] = create_run(
        store, "train", SPEC, name="trial 0", author="ann", study_id=ids["study_team"]
    ).id
    for key in ("run_private", "run_team"):
        write_metrics(store, ids[key], [("loss", 1, 0.5, 1.0)])
        add_note(store, "run", ids[key], f"note on {key}", viewer=a)
        add_tag(store, "run", ids[key], f"tag-{key}", viewer=a)
    spec = PipelineSpec.chain(ids["ds_private"], "y", ["split"])
    ids["pipe_private"] = create_draft(store, "a-private-pipe", spec, viewer=a).id
    team_spec = PipelineSpec.chain(ids["ds_team"], "y", ["split"])
    ids["pipe_team"] = create_draft(store, "a-red-pipe", team_spec, viewer=a, team="red").id
    save_version(store, ids["pipe_team"], viewer=a)
    return World(store, a, b, c, Viewer(), ids)


# --- reads: who sees what ------------------------------------------------------------------------

# For each object: which of (A, B, C, anonymous) see it.
VISIBLE = {
    "run_private": (True, False, False, False),
    "run_team": (True, True, False, False),
    "trial": (True, False, False, False),  # owned by A (the study's owner), private
    "ds_private": (True, False, False, False),
    "ds_team": (True, True, False, False),
    "study_private": (True, False, False, False),
    "study_team": (True, True, False, False),
    "pipe_private": (True, False, False, False),
    "pipe_team": (True, True, False, False),
}
GETTERS = {
    "run": lambda w, i, v: get_run(w.store, i, viewer=v),
    "ds": lambda w, i, v: get_dataset(w.store, i, viewer=v),
    "study": lambda w, i, v: get_study(w.store, i, viewer=v),
    "pipe": lambda w, i, v: get_draft(w.store, i, viewer=v),
    "trial": lambda w, i, v: get_run(w.store, i, viewer=v),
}


def _viewers(w: World) -> list[Viewer]:
    return [w.a, w.b, w.c, w.anon]


@pytest.mark.parametrize("obj", sorted(VISIBLE))
def test_get_answers_like_missing_for_those_who_may_not_see(world: World, obj: str) -> None:
    getter = GETTERS[obj.split("_")[0]]
    missing_message = None
    with pytest.raises(NotFoundError) as missing:
        getter(world, "f" * 32, world.a)
    missing_message = str(missing.value).replace("f" * 32, "<id>")
    for who, expected in zip(_viewers(world), VISIBLE[obj], strict=True):
        if expected:
            assert getter(world, world.ids[obj], who) is not None
        else:
            with pytest.raises(NotFoundError) as hidden:
                getter(world, world.ids[obj], who)
            # Exactly the answer of a missing ID: no name, owner or hint that it exists.
            assert str(hidden.value).replace(world.ids[obj], "<id>") == missing_message


def test_lists_and_counts_hold_only_what_each_may_see(world: World) -> None:
    w, ids = world, world.ids
    store = w.store
    expected_runs = {
        "ann": {ids["run_private"], ids["run_team"], ids["trial"]},
        "ben": {ids["run_team"]},
        "cat": set(),
        "": set(),
    }
    for who in _viewers(w):
        runs = {r.id for r in list_runs(store, viewer=who)}
        assert runs == expected_runs[who.name], who.name
        rows, total = list_experiments(store, ExperimentQuery(kinds=("smoke", "train")), viewer=who)
        assert {r.id for r in rows} == expected_runs[who.name] and total == len(expected_runs[who.name])
        datasets = {d.id for d in list_datasets(store, viewer=who)}
        drafts = {d for d, _ in list_drafts(store, viewer=who)}
        studies = {s.id for s in list_studies(store, viewer=who)}
        versions = list_pipeline_versions(store, viewer=who)
        counts = count_rows(store, viewer=who)
        if who is w.a:
            assert datasets == {ids["ds_private"], ids["ds_team"]}
            assert drafts == {ids["pipe_private"], ids["pipe_team"]}
            assert studies == {ids["study_private"], ids["study_team"]}
            assert counts == {"datasets": 2, "runs": 3, "studies": 2}
        elif who is w.b:
            assert datasets == {ids["ds_team"]} and drafts == {ids["pipe_team"]}
            assert studies == {ids["study_team"]} and len(versions) == 1
            assert counts == {"datasets": 1, "runs": 1, "studies": 1}
        else:
            assert datasets == drafts == studies == set() and versions == []
            assert counts == {"datasets": 0, "runs": 0, "studies": 0}
    # The local user (accounts off) and Loom's own processes see everything.
    assert len(list_runs(store, viewer=Viewer.local("someone"))) == 3
    assert count_rows(store, viewer=SYSTEM)["datasets"] == 2


def test_a_runs_parts_follow_the_run(world: World) -> None:
    w, ids = world, world.ids
    for who, sees in ((w.a, True), (w.b, False), (w.c, False), (w.anon, False)):
        run = ids["run_private"]
        assert bool(get_metrics(w.store, run, viewer=who)) is sees
        assert bool(get_events(w.store, run, viewer=who)) is sees
        assert bool(list_notes(w.store, "run", run, viewer=who)) is sees
        assert bool(tags_of(w.store, "run", run, viewer=who)) is sees
    with pytest.raises(NotFoundError):
        compare_runs(w.store, [ids["run_private"], ids["run_team"]], viewer=w.b)
    assert len(compare_runs(w.store, [ids["run_private"], ids["run_team"]], viewer=w.a).runs) == 2
    # A study's team sees the study; its private trial stays private (the study has no team
    # rule of its own over the runs until its owner moves it: see below).
    assert study_runs(w.store, ids["study_team"], viewer=w.b) == []


# --- changes: who may do what ----------------------------------------------------------------


def test_teammates_view_and_annotate_only_the_owner_changes(world: World) -> None:
    w, ids = world, world.ids
    store = w.store
    add_note(store, "run", ids["run_team"], "from ben", viewer=w.b)  # a teammate may comment
    add_tag(store, "run", ids["run_team"], "checked", viewer=w.b)
    with pytest.raises(PermissionDeniedError, match="Only the owner"):
        rename_dataset(store, ids["ds_team"], "mine now", viewer=w.b)
    with pytest.raises(PermissionDeniedError, match="Only the owner"):
        update_draft(store, ids["pipe_team"], get_draft(store, ids["pipe_team"], viewer=w.b).spec, viewer=w.b)
    with pytest.raises(PermissionDeniedError, match="Only the owner"):
        create_link(store, "run", ids["run_team"], viewer=w.b)
    with pytest.raises(PermissionDeniedError, match="Only the owner"):
        set_team(store, "run", ids["run_team"], "", viewer=w.b)
    with pytest.raises(PermissionDeniedError, match="Only the owner"):
        delete_dataset(store, ids["ds_team"], viewer=w.b)
    assert set_archived(store, [ids["run_team"]], viewer=w.b) == 0  # not B's: untouched
    assert delete_runs(store, [ids["run_team"]], viewer=w.b) == 0
    for who in (w.c, w.anon):  # those who cannot see it get "missing", and nothing is written
        with pytest.raises(NotFoundError):
            add_note(store, "run", ids["run_team"], "sneaky", viewer=who)
        with pytest.raises(NotFoundError):
            rename_dataset(store, ids["ds_team"], "x", viewer=who)
        with pytest.raises(NotFoundError):
            create_link(store, "run", ids["run_private"], viewer=who)
    # Sharing another's run answers exactly like sharing a missing one.
    with pytest.raises(NotFoundError) as missing:
        create_link(store, "run", "f" * 32, viewer=w.c)
    with pytest.raises(NotFoundError) as hidden:
        create_link(store, "run", ids["run_private"], viewer=w.c)
    assert str(hidden.value).replace(ids["run_private"], "f" * 32) == str(missing.value)
    assert [n.author for n in list_notes(store, "run", ids["run_team"], viewer=w.a)] == ["ann", "ben"]
    # A moves her private run to the team: B sees it from the next query on; back again, gone.
    set_team(store, "run", ids["run_private"], "red", viewer=w.a)
    assert get_run(store, ids["run_private"], viewer=w.b).team == "red"
    set_team(store, "run", ids["run_private"], "", viewer=w.a)
    with pytest.raises(NotFoundError):
        get_run(store, ids["run_private"], viewer=w.b)
    # A study's team follows to its trials.
    set_team(store, "study", ids["study_private"], "red", viewer=w.a)
    set_team(store, "study", ids["study_team"], "red", viewer=w.a)
    assert [r.id for r in study_runs(store, ids["study_team"], viewer=w.b)] == [ids["trial"]]
    with pytest.raises(PermissionDeniedError, match="not a member of team 'blue'"):
        set_team(store, "run", ids["run_team"], "blue", viewer=w.a)
    set_dataset_team(store, ids["ds_private"], "red", viewer=w.a)
    assert get_dataset(store, ids["ds_private"], viewer=w.b).team == "red"


def test_an_anonymous_visitor_creates_nothing(world: World) -> None:
    w = world
    with pytest.raises(PermissionDeniedError, match="Sign in"):
        create_draft(w.store, "anon", PipelineSpec.chain(w.ids["ds_team"], "y", ["split"]), viewer=w.anon)
    with pytest.raises(NotFoundError):  # a pipeline over a dataset C may not see
        create_draft(w.store, "c-pipe", PipelineSpec.chain(w.ids["ds_team"], "y", ["split"]), viewer=w.c)


# --- share links -----------------------------------------------------------------------------


def test_share_links_open_exactly_what_they_name(world: World) -> None:
    w, ids = world, world.ids
    store = w.store
    view = create_link(store, "run", ids["run_private"], viewer=w.a)
    fork = create_link(store, "study", ids["study_private"], permission="fork", viewer=w.a)
    compare = create_link(
        store, "compare", "", query={"runs": f"{ids['run_private']},{ids['run_team']}"}, viewer=w.a
    )
    run_grant = resolve_grant(store, view)
    visitor = Viewer().with_grant(run_grant)
    assert get_run(store, ids["run_private"], viewer=visitor).id == ids["run_private"]
    assert not run_grant.can_fork and resolve_grant(store, fork).can_fork
    # Nothing else is reachable from the shared view: not the other run, its dataset or study.
    for getter, key in (
        (GETTERS["run"], "run_team"),
        (GETTERS["ds"], "ds_private"),
        (GETTERS["study"], "study_private"),
        (GETTERS["pipe"], "pipe_private"),
    ):
        with pytest.raises(NotFoundError):
            getter(w, ids[key], visitor)
    assert {r.id for r in list_runs(store, viewer=visitor)} == {ids["run_private"]}
    assert list_datasets(store, viewer=visitor) == []
    study_visitor = Viewer().with_grant(resolve_grant(store, fork))
    assert get_study(store, ids["study_private"], viewer=study_visitor) is not None
    assert study_runs(store, ids["study_private"], viewer=study_visitor) == []
    with pytest.raises(NotFoundError):
        get_run(store, ids["run_private"], viewer=study_visitor)
    compare_visitor = Viewer().with_grant(resolve_grant(store, compare))
    assert len(compare_runs(store, [ids["run_private"], ids["run_team"]], viewer=compare_visitor).runs) == 2
    # A grant never creates, and never substitutes for signing in elsewhere.
    with pytest.raises(PermissionDeniedError, match="Sign in"):
        add_note(store, "run", ids["run_private"], "hi", viewer=visitor)
    # Lists and revocation: only A's own links; a revoked token stops at the next request.
    assert {link.target_kind for link in list_links(store, viewer=w.a)} == {"run", "study", "compare"}
    assert list_links(store, viewer=w.b) == [] and list_links(store, viewer=w.anon) == []
    with pytest.raises(NotFoundError):
        revoke_link(store, token_hash(view), viewer=w.b)
    revoke_link(store, token_hash(view), viewer=w.a)
    with pytest.raises(NotFoundError):
        resolve_grant(store, view)
    for bad in ("", "x" * 10, view[:-1], view + "A", "../../etc/passwd", "<script>alert(1)</script>"):
        with pytest.raises(NotFoundError):
            resolve_grant(store, bad)


def test_an_expired_link_is_not_found(world: World) -> None:
    token = create_link(
        world.store, "run", world.ids["run_private"], expires_in=timedelta(microseconds=1), viewer=world.a
    )
    with pytest.raises(NotFoundError):
        resolve_grant(world.store, token)


# --- sessions ----------------------------------------------------------------------------------


def test_sessions_hold_until_signed_out_or_expired(world: World) -> None:
    store = world.store
    done = sign_in(store, "ANN ", "ann-password-long")
    assert done.user == "ann"
    assert resolve_session(store, done.token) == world.a
    later = datetime.now(UTC) + timedelta(days=8)
    assert resolve_session(store, done.token, now=later) is None  # expired
    again = sign_in(store, "ann", "ann-password-long")
    end_session(store, again.token)
    assert resolve_session(store, again.token) is None  # signed out: gone on the server
    assert resolve_session(store, "forged-token") is None
    # The cookie carries the token signed by the server; a changed byte is refused.
    value = cookie_value(store.config, done.token)
    assert token_from_cookie(store.config, value) == done.token
    assert token_from_cookie(store.config, value[:-1] + ("A" if value[-1] != "A" else "B")) is None
    assert token_from_cookie(store.config, done.token) is None  # unsigned
    assert token_from_cookie(store.config, None) is None


def test_failed_sign_ins_are_rate_limited_per_name(world: World) -> None:
    store = world.store
    for _ in range(5):
        with pytest.raises(SpecError, match="Wrong user name or password"):
            sign_in(store, "ben", "not-his-password")
    with pytest.raises(RateLimitedError, match="Too many failed sign-ins"):
        sign_in(store, "ben", "ben-password-long")  # even the right password waits
    # The same for a name that does not exist (no way to tell which names are real).
    for _ in range(5):
        with pytest.raises(SpecError):
            sign_in(store, "nobody", "whatever-password")
    with pytest.raises(RateLimitedError):
        sign_in(store, "nobody", "whatever-password")
    later = datetime.now(UTC) + timedelta(minutes=16)
    assert sign_in(store, "ben", "ben-password-long", now=later).user == "ben"
    assert sign_in(store, "cat", "cat-password-long").user == "cat"  # other names unaffected


# --- what a link includes, and forking across people ---------------------------------------------


def test_a_run_link_shows_notes_and_the_model_only_if_its_owner_chose_so(world: World) -> None:
    from core.sharing import describe_grant
    from core.training import export_bundle

    w, run_id = world, world.ids["run_private"]
    plain = resolve_grant(w.store, create_link(w.store, "run", run_id, viewer=w.a))
    full = resolve_grant(
        w.store, create_link(w.store, "run", run_id, include_notes=True, allow_download=True, viewer=w.a)
    )
    assert (plain.include_notes, plain.allow_download) == (False, False)  # the default: the run only
    assert (full.include_notes, full.allow_download) == (True, True)
    assert "no notes" in describe_grant(plain) and "no model download" in describe_grant(plain)
    assert "its notes" in describe_grant(full) and "the model download" in describe_grant(full)
    # Core refuses, not only the page: notes and the bundle through a link that leaves them out.
    with pytest.raises(PermissionDeniedError, match="does not include notes"):
        list_notes(w.store, "run", run_id, viewer=Viewer().with_grant(plain))
    with pytest.raises(PermissionDeniedError, match="does not allow downloading"):
        export_bundle(w.store, run_id, viewer=Viewer().with_grant(plain))
    notes = list_notes(w.store, "run", run_id, viewer=Viewer().with_grant(full))
    assert [n.body for n in notes] == ["note on run_private"]
    # A link's options open nothing else: not another run's notes.
    with pytest.raises(NotFoundError):
        get_run(w.store, w.ids["run_team"], viewer=Viewer().with_grant(full))
    assert list_notes(w.store, "run", w.ids["run_team"], viewer=Viewer().with_grant(full)) == []
    # The owner and a teammate read notes with their own rights, with or without a link's grant.
    assert len(list_notes(w.store, "run", run_id, viewer=w.a.with_grant(plain))) == 1
    assert len(list_notes(w.store, "run", w.ids["run_team"], viewer=w.b)) == 1
    # The model download is a run link's option only.
    study = resolve_grant(
        w.store, create_link(w.store, "study", w.ids["study_private"], allow_download=True, viewer=w.a)
    )
    assert not study.allow_download


def _train_run(w: World, dataset: str, pipeline: str | None, team: str = "") -> str:
    spec = {"type": "train", "pipeline": {"dataset_id": dataset}, "pipeline_id": pipeline}
    return create_run(
        w.store,
        "train",
        spec,
        name="a-train",
        author="ann",
        team=team,
        dataset_id=dataset,
        pipeline_id=pipeline,
    ).id


def test_whoever_may_fork_a_run_reads_its_dataset_and_pipeline_version(world: World) -> None:
    from core.data import get_dataset as dataset_of
    from core.experiments import fork_grant
    from core.pipeline import load_version

    w, ids = world, world.ids
    # A's private pipeline version on her private dataset, used by a run she shows her team.
    private_version = save_version(w.store, ids["pipe_private"], viewer=w.a).id
    run_id = _train_run(w, ids["ds_private"], private_version, team="red")
    with pytest.raises(NotFoundError):  # B cannot read them on their own...
        dataset_of(w.store, ids["ds_private"], viewer=w.b)
    forker = w.b.with_grant(fork_grant(w.store, run_id, viewer=w.b))
    # ...but may, to fork the run: exactly its dataset and pipeline version, in every query.
    assert dataset_of(w.store, ids["ds_private"], viewer=forker).id == ids["ds_private"]
    assert load_version(w.store, private_version, viewer=forker) is not None
    assert [d.id for d in list_datasets(w.store, viewer=forker) if d.id == ids["ds_private"]]
    assert ids["ds_private"] in {p.dataset_id for p in list_pipeline_versions(w.store, viewer=forker)}
    with pytest.raises(NotFoundError):  # nothing else of A's
        get_run(w.store, ids["run_private"], viewer=forker)
    with pytest.raises(NotFoundError):
        get_draft(w.store, ids["pipe_private"], viewer=forker)  # the draft is not the version
    # C (another team) may not fork it; an anonymous visitor never forks.
    with pytest.raises(NotFoundError):
        fork_grant(w.store, run_id, viewer=w.c)
    with pytest.raises(PermissionDeniedError, match="Sign in"):
        fork_grant(w.store, run_id, viewer=w.anon)
    # Through links: a fork link lets C fork (and read what the fork needs); a view link does not.
    private_run = _train_run(w, ids["ds_private"], private_version)
    fork_link = resolve_grant(
        w.store, create_link(w.store, "run", private_run, permission="fork", viewer=w.a)
    )
    view_link = resolve_grant(w.store, create_link(w.store, "run", private_run, viewer=w.a))
    via_link = w.c.with_grant(fork_grant(w.store, private_run, viewer=w.c, link=fork_link))
    assert dataset_of(w.store, ids["ds_private"], viewer=via_link).id == ids["ds_private"]
    with pytest.raises(PermissionDeniedError, match="view the run, not fork it"):
        fork_grant(w.store, private_run, viewer=w.c, link=view_link)
    # A fork grant changes nothing: only the owner changes the dataset or pipeline.
    with pytest.raises(PermissionDeniedError):
        set_dataset_team(w.store, ids["ds_private"], "red", viewer=forker)


def test_a_fork_says_what_is_gone_and_whose_it_was(world: World) -> None:
    from core.experiments import fork_grant

    w = world
    run_id = _train_run(w, world.ids["ds_team"], None, team="red")
    with w.store.session(SYSTEM) as s:  # the run's pipeline version, deleted under it
        s.get(Run, run_id).spec_json = {"type": "train", "pipeline_id": "f" * 32}
    with pytest.raises(NotFoundError, match="pipeline version this run used .* ann deleted it"):
        fork_grant(w.store, run_id, viewer=w.b)


def test_a_fork_of_a_run_whose_dataset_is_in_the_trash_says_so_and_who_may_restore_it(world: World) -> None:
    from core.experiments import fork_grant
    from core.ops import delete_item
    from core.ops import restore_item
    from core.sharing import create_project
    from core.sharing import delete_project
    from core.sharing import move_to_project
    from core.sharing import restore_project

    w = world
    run_id = _train_run(w, w.ids["ds_team"], None, team="red")
    delete_item(w.store, "dataset", w.ids["ds_team"], viewer=w.a)
    with pytest.raises(
        NotFoundError,
        match=r"The dataset this run trained on, a-red-data \([0-9a-f]{8}\), is in the trash: ann deleted it "
        r"on \d{4}-\d\d-\d\d\. Its owner \(ann\) or an admin of its project can restore it from the trash "
        r"on the Projects page until \d{4}-\d\d-\d\d; then fork this run again\.",
    ):
        fork_grant(w.store, run_id, viewer=w.b)
    restore_item(w.store, "dataset", w.ids["ds_team"], viewer=w.a)
    assert w.ids["ds_team"] in fork_grant(w.store, run_id, viewer=w.b).dataset_ids

    # The dataset's project in the trash (the run is in another): its admins may restore it.
    project_id = create_project(w.store, "Red-Data", viewer=w.a, team="red")
    move_to_project(w.store, "dataset", w.ids["ds_team"], project_id, viewer=w.a)
    delete_project(w.store, project_id, viewer=w.a)
    with pytest.raises(
        NotFoundError, match="is in project 'Red-Data', which is in the trash \\(ann deleted it\\)"
    ):
        fork_grant(w.store, run_id, viewer=w.b)
    restore_project(w.store, project_id, viewer=w.a)
    assert w.ids["ds_team"] in fork_grant(w.store, run_id, viewer=w.b).dataset_ids


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("wine.csv · MLP · adam · d6f80f", "wine.csv · MLP · adam · d6f80f · fork {id}"),
        ("wine.csv · MLP · adam · d6f80f · fork 898b9e", "wine.csv · MLP · adam · d6f80f · fork {id}"),
        ("wine.csv · MLP · d6f80f · fork 898b9e · seed 2", "wine.csv · MLP · d6f80f · fork {id}"),
        ("", "run · fork {id}"),
    ],
)
def test_a_fork_is_named_once(name: str, expected: str) -> None:
    from core.experiments import fork_name

    assert fork_name(name) == expected


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/jobs?run=abc&share=x", "/jobs?run=abc&share=x"),
        ("/compare?runs=a,b", "/compare?runs=a,b"),
        (None, "/"),
        ("", "/"),
        ("//evil.example", "/"),
        ("http://evil.example/", "/"),
        ("https:/evil.example", "/"),
        ("/\\evil.example", "/"),
        ("\\\\evil.example", "/"),
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("jobs", "/"),
    ],
)
def test_sign_in_comes_back_only_to_this_server(target: str | None, expected: str) -> None:
    from core.sharing import safe_next

    assert safe_next(target) == expected
