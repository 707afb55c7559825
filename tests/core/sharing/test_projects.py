"""Projects and roles, with accounts on, on SQLite and PostgreSQL.

ann and ben are in team "vision", cat in team "nlp". ann's team project "Images" gives vision's
members the role "member"; ann is its admin; cat is named a viewer of it. ben's own "Default"
project holds his private run. Each (action, person) has one expected answer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import pytest

from core.data import list_datasets
from core.errors import NotFoundError
from core.errors import PermissionDeniedError
from core.errors import SpecError
from core.experiments import ExperimentQuery
from core.experiments import add_note
from core.experiments import list_experiments
from core.experiments import list_studies
from core.pipeline import PipelineSpec
from core.pipeline import create_draft
from core.pipeline import list_drafts
from core.sharing import add_member
from core.sharing import create_project
from core.sharing import create_team
from core.sharing import create_user
from core.sharing import delete_project
from core.sharing import get_project
from core.sharing import list_projects
from core.sharing import move_to_project
from core.sharing import project_contents
from core.sharing import project_members
from core.sharing import remove_member
from core.sharing import resolve_project
from core.sharing import restore_project
from core.sharing import set_project_role
from core.sharing import set_team_role
from core.sharing import viewer_for
from core.store import SYSTEM
from core.store import Dataset
from core.store import Store
from core.store import Viewer
from core.store import create_run
from core.store import get_run
from core.store import list_runs
from core.store import open_store

SPEC = {"type": "smoke", "steps": 1, "interval_s": 0, "fail_at_step": None}


@dataclass
class Team:
    store: Store
    ann: Viewer
    ben: Viewer
    cat: Viewer
    images: str
    ids: dict[str, str]


@pytest.fixture
def team(db_config) -> Team:  # type: ignore[no-untyped-def]
    store = open_store(dataclasses.replace(db_config, auth=True))
    for name in ("ann", "ben", "cat"):
        create_user(store, name, f"{name}-password-long")
    create_team(store, "vision")
    create_team(store, "nlp")
    add_member(store, "vision", "ann")
    add_member(store, "vision", "ben")
    add_member(store, "nlp", "cat")
    ann, ben, cat = (viewer_for(store, n) for n in ("ann", "ben", "cat"))
    images = create_project(store, "Images", viewer=ann, team="vision")
    set_project_role(store, images, "cat", "viewer", viewer=ann)
    in_images = ann.in_project(images)
    ids = {
        "run_images": create_run(
            store, "smoke", SPEC, name="ann-images-run", author="ann", project_id=images
        ).id,
        "run_ann_default": create_run(store, "smoke", SPEC, name="ann-own-run", author="ann").id,
        "run_ben_default": create_run(store, "smoke", SPEC, name="ben-own-run", author="ben").id,
    }
    with store.session(SYSTEM) as s:
        row = Dataset(
            name="images-data",
            content_hash="0" * 64,
            source_format="csv",
            schema_json={},
            read_options_json={},
            profile_json={"columns": []},
            author="ann",
            project_id=images,
        )
        s.add(row)
        s.flush()
        ids["ds_images"] = row.id
    ids["pipe_images"] = create_draft(
        store, "images-pipe", PipelineSpec.chain(ids["ds_images"], "y", ["split"]), viewer=in_images
    ).id
    return Team(store, ann, ben, cat, images, ids)


def test_a_new_user_has_a_default_project_and_a_team_project_lists_for_its_members(team: Team) -> None:
    labels = {
        who: [p.label for p in list_projects(team.store, viewer=v)]
        for who, v in (("ann", team.ann), ("ben", team.ben), ("cat", team.cat))
    }
    assert labels["ann"] == ["ann / Default", "vision / Images"]
    assert labels["ben"] == ["ben / Default", "vision / Images"]
    assert labels["cat"] == ["cat / Default", "vision / Images"]
    roles = {p.name: p.role for p in list_projects(team.store, viewer=team.cat)}
    assert roles == {"Default": "admin", "Images": "viewer"}
    assert get_project(team.store, team.images, viewer=team.ben).role == "member"
    with pytest.raises(NotFoundError):
        get_project(team.store, team.images, viewer=Viewer())


# For each item in "Images": (ann, ben, cat, a stranger) see it.
@pytest.mark.parametrize("key", ["run_images", "run_ben_default"])
def test_roles_decide_who_sees_a_project_s_items(team: Team, key: str) -> None:
    dave = Viewer(name="dave")
    expected = {"run_images": (True, True, True, False), "run_ben_default": (False, True, False, False)}[key]
    for who, sees in zip((team.ann, team.ben, team.cat, dave), expected, strict=True):
        if sees:
            assert get_run(team.store, team.ids[key], viewer=who).id == team.ids[key]
        else:
            with pytest.raises(NotFoundError):
                get_run(team.store, team.ids[key], viewer=who)


def test_lists_are_per_project_or_all_of_mine(team: Team) -> None:
    store, ann = team.store, team.ann
    everywhere = {r.name for r in list_runs(store, viewer=ann)}
    assert everywhere == {"ann-images-run", "ann-own-run"}
    assert {r.name for r in list_runs(store, viewer=ann.in_project(team.images))} == {"ann-images-run"}
    rows, total = list_experiments(
        store, ExperimentQuery(kinds=("smoke",)), viewer=team.cat.in_project(team.images)
    )
    assert total == 1 and rows[0].name == "ann-images-run"
    assert [d.name for d in list_datasets(store, viewer=team.ben.in_project(team.images))] == ["images-data"]
    assert [n for _, n in list_drafts(store, viewer=team.cat.in_project(team.images))] == ["images-pipe"]
    assert list_drafts(store, viewer=ann.in_project(team.ids["run_ann_default"])) == []


def test_viewers_read_and_note_but_cannot_create(team: Team) -> None:
    cat = team.cat.in_project(team.images)
    add_note(team.store, "run", team.ids["run_images"], "looks good", viewer=cat)
    with pytest.raises(PermissionDeniedError, match="viewer"):
        create_draft(
            team.store, "cat-pipe", PipelineSpec.chain(team.ids["ds_images"], "y", ["split"]), viewer=cat
        )
    with pytest.raises(PermissionDeniedError, match="viewer"):
        create_run(team.store, "smoke", SPEC, name="x", author="cat", project_id=team.images)
    # A member creates; the new item is in the project, for everyone in it.
    ben = team.ben.in_project(team.images)
    draft = create_draft(
        team.store, "ben-pipe", PipelineSpec.chain(team.ids["ds_images"], "y", ["split"]), viewer=ben
    )
    assert draft.id in {i for i, _ in list_drafts(team.store, viewer=cat)}
    # Someone with no role in a project cannot put anything into it.
    with pytest.raises(NotFoundError):
        create_run(team.store, "smoke", SPEC, name="x", author="cat", project_id="e" * 32)


def test_admins_change_anything_in_their_project_members_only_their_own(team: Team) -> None:
    from core.experiments import set_archived

    ben_run = create_run(
        team.store, "smoke", SPEC, name="ben-in-images", author="ben", project_id=team.images
    ).id
    assert set_archived(team.store, [ben_run], viewer=team.ann) == 1  # ann is the project's admin
    assert set_archived(team.store, [team.ids["run_images"]], viewer=team.ben) == 0
    with pytest.raises(PermissionDeniedError, match="admin of its project"):
        move_to_project(team.store, "run", team.ids["run_images"], team.images, viewer=team.ben)


def test_the_last_admin_cannot_be_removed_or_demoted(team: Team) -> None:
    store = team.store
    with pytest.raises(SpecError, match="last admin"):
        set_project_role(store, team.images, "ann", "member", viewer=team.ann)
    with pytest.raises(SpecError, match="last admin"):
        set_project_role(store, team.images, "ann", "", viewer=team.ann)
    with pytest.raises(PermissionDeniedError, match="only an admin"):
        set_project_role(store, team.images, "ben", "admin", viewer=team.ben)
    set_project_role(store, team.images, "ben", "admin", viewer=team.ann)
    set_project_role(store, team.images, "ann", "member", viewer=team.ben)  # now ben is an admin too
    members = {(m.user, m.role, m.source) for m in project_members(store, team.images, viewer=team.cat)}
    assert members == {("ann", "member", "member"), ("ben", "admin", "member"), ("cat", "viewer", "member")}
    with pytest.raises(SpecError, match="No user"):
        set_project_role(store, team.images, "nobody", "viewer", viewer=team.ben)


def test_team_role_and_leaving_the_team(team: Team) -> None:
    store = team.store
    set_team_role(store, team.images, "viewer", viewer=team.ann)
    assert get_project(store, team.images, viewer=team.ben).role == "viewer"
    with pytest.raises(SpecError):
        set_team_role(store, team.images, "admin", viewer=team.ann)
    remove_member(store, "vision", "ben")
    ben = viewer_for(store, "ben")  # his next page load
    with pytest.raises(NotFoundError):
        get_run(store, team.ids["run_images"], viewer=ben)
    assert "vision / Images" not in [p.label for p in list_projects(store, viewer=ben)]


def test_a_deleted_project_goes_to_the_trash_and_comes_back(team: Team) -> None:
    store = team.store
    held = project_contents(store, team.images, viewer=team.ann)
    assert (held["run"], held["dataset"], held["pipeline"]) == (1, 1, 1)
    with pytest.raises(PermissionDeniedError):
        delete_project(store, team.images, viewer=team.ben)
    delete_project(store, team.images, viewer=team.ann)
    for who in (team.ann, team.ben, team.cat):
        with pytest.raises(NotFoundError):
            get_run(store, team.ids["run_images"], viewer=who)
        assert "ann-images-run" not in {r.name for r in list_runs(store, viewer=who)}
    # The local user (accounts off) sees everything but the trash too.
    assert "ann-images-run" not in {r.name for r in list_runs(store, viewer=Viewer.local("ann"))}
    assert [p.name for p in list_projects(store, viewer=team.ann, trashed=True)] == ["Images"]
    assert list_projects(store, viewer=team.ben, trashed=True) == []  # ben was no admin of it
    restore_project(store, team.images, viewer=team.ann)
    assert get_run(store, team.ids["run_images"], viewer=team.cat).name == "ann-images-run"


def test_moving_items_needs_change_rights_here_and_member_rights_there(team: Team) -> None:
    store = team.store
    ben_default = resolve_project(store, "ben/Default", viewer=team.ben)
    with pytest.raises(PermissionDeniedError):  # ben may not change ann's run
        move_to_project(store, "run", team.ids["run_images"], ben_default, viewer=team.ben)
    with pytest.raises(NotFoundError):  # ann holds no role in ben's project
        move_to_project(store, "run", team.ids["run_ann_default"], ben_default, viewer=team.ann)
    move_to_project(store, "run", team.ids["run_ann_default"], team.images, viewer=team.ann)
    assert get_run(store, team.ids["run_ann_default"], viewer=team.cat).name == "ann-own-run"


def test_a_demoted_owner_cannot_move_their_own_items_out_of_the_project(team: Team) -> None:
    """Moving needs a member's role in the source project now, not when the item was made."""
    store = team.store
    ben_default = resolve_project(store, "ben/Default", viewer=team.ben)
    ben_run = create_run(store, "smoke", SPEC, name="ben-in-images", author="ben", project_id=team.images).id
    set_project_role(store, team.images, "ben", "viewer", viewer=team.ann)
    with pytest.raises(
        PermissionDeniedError, match="You are a viewer of project 'Images', so you cannot move"
    ):
        move_to_project(store, "run", ben_run, ben_default, viewer=team.ben)
    assert get_run(store, ben_run, viewer=team.ben).project_id == team.images  # left where it was
    remove_member(store, "vision", "ben")
    set_project_role(store, team.images, "ben", "", viewer=team.ann)
    ben = viewer_for(store, "ben")  # his next page load: he still sees his own run
    assert get_run(store, ben_run, viewer=ben).project_id == team.images
    with pytest.raises(PermissionDeniedError, match="You are no longer a member of project 'Images'"):
        move_to_project(store, "run", ben_run, ben_default, viewer=ben)
    set_project_role(store, team.images, "ben", "member", viewer=team.ann)  # a member again: he may
    move_to_project(store, "run", ben_run, ben_default, viewer=ben)
    assert get_run(store, ben_run, viewer=ben).project_id == ben_default


def test_new_items_land_where_they_belong(team: Team) -> None:
    """A pipeline's versions and a study's trials stay in its project; a teammate's fork goes
    into the forker's own project, not the source's."""
    from core.pipeline import save_version
    from core.store import Study

    store, ann = team.store, team.ann.in_project(team.images)
    assert save_version(store, team.ids["pipe_images"], viewer=ann).project_id == team.images
    with store.session(SYSTEM) as s:
        study = Study(name="st", optuna_study_name="st-optuna", author="ann", project_id=team.images)
        s.add(study)
        s.flush()
        study_id = study.id
    trial = create_run(store, "train", SPEC, name="trial 0", author="ann", study_id=study_id)
    assert [r.name for r in list_runs(store, viewer=team.cat.in_project(team.images)) if r.id == trial.id]
    assert [s.name for s in list_studies(store, viewer=team.cat.in_project(team.images))] == ["st"]
    fork = create_run(
        store,
        "smoke",
        SPEC,
        name="fork",
        author="ben",
        parent_id=team.ids["run_images"],
        parent_kind="forked",
    )
    ben_default = resolve_project(store, "ben/Default", viewer=team.ben)
    assert [r.id for r in list_runs(store, viewer=team.ben.in_project(ben_default))].count(fork.id) == 1


def test_resolve_project_names_and_refuses_ambiguity(team: Team) -> None:
    store = team.store
    assert resolve_project(store, "Images", viewer=team.ben) == team.images
    assert resolve_project(store, "vision/Images", viewer=team.cat) == team.images
    assert resolve_project(store, team.images, viewer=team.ann) == team.images
    create_project(store, "Images", viewer=team.ann)  # ann/Images beside vision/Images
    with pytest.raises(NotFoundError, match="ann/Images"):
        resolve_project(store, "Images", viewer=team.ann)
    with pytest.raises(NotFoundError, match="no project"):
        resolve_project(store, "Nope", viewer=team.ann)
    with pytest.raises(SpecError, match="already has a project"):
        create_project(store, "images", viewer=team.ann, team="vision")
    with pytest.raises(PermissionDeniedError):
        create_project(store, "Text", viewer=team.ann, team="nlp")
