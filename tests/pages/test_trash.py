"""The trash on the Projects page: a deleted run and dataset are listed with when they are purged,
and Restore brings them back to every list."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core.config import get_config
from core.data import delete_dataset
from core.data import list_datasets
from core.experiments import delete_runs
from core.sharing import local_viewer
from core.store import SYSTEM
from core.store import Dataset
from core.store import Run
from core.store import create_run
from core.store import list_runs
from core.store import new_id
from core.store import open_store
from tests.pages.conftest import open_page
from tests.pages.conftest import plain


def test_a_deleted_run_and_dataset_are_restored_from_the_trash(app: AppTest) -> None:
    store = open_store(get_config())
    me = local_viewer()
    at = open_page(app, "pages/projects.py")
    assert any("No deleted runs, studies, datasets" in c.value for c in at.caption)
    run = create_run(store, "smoke", {"type": "smoke"}, name="TRASHED-RUN", author=me.name)
    dataset_id = new_id()
    with store.session(SYSTEM) as s:
        s.get(Run, run.id).status = "succeeded"
        s.add(Dataset(id=dataset_id, name="TRASHED-DATA", content_hash="0" * 64, author=me.name))
    assert delete_runs(store, [run.id], viewer=me) == 1
    delete_dataset(store, dataset_id, viewer=me)
    assert run.id not in {r.id for r in list_runs(store, viewer=me)}

    at.run()
    assert not at.exception, [e.value for e in at.exception]
    shown = "\n".join(plain(m.value) for m in at.markdown)
    assert "Run **TRASHED-RUN**" in shown and "Dataset **TRASHED-DATA**" in shown and "purged after" in shown
    assert any("stay here 30 days" in c.value for c in at.caption)
    at.button(key=f"restore_run_{run.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("Restored run TRASHED-RUN" in plain(s.value) for s in at.success)
    assert run.id in {r.id for r in list_runs(store, viewer=me)}
    assert "TRASHED-RUN" not in "\n".join(plain(m.value) for m in at.markdown)
    at.button(key=f"restore_dataset_{dataset_id}").click().run()
    assert dataset_id in {d.id for d in list_datasets(store, viewer=me)}
    assert any("No deleted runs, studies, datasets" in c.value for c in at.caption)
