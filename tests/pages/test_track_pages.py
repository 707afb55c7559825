"""A script's run (core.track) on the Jobs and Experiments pages: marked external, with the
steering row while it runs, its system metrics in a chart of their own, listed by default."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core import track
from core.config import get_config
from tests.pages.conftest import open_page


def _figures(app: AppTest) -> list[dict]:
    import json

    return [json.loads(c.proto.spec) for c in app.get("plotly_chart")]


def test_an_external_run_is_marked_steerable_and_listed(app: AppTest) -> None:
    with track.run("from a script", {"lr": 0.1}, app_config=get_config(), system_metrics=False) as run:
        for step in range(50):
            run.log({"loss": 1 / (step + 1), "system/rss_mb": 100.0 + step}, step=step)
        run.context.flush()
        open_page(app, "pages/jobs.py", run=run.id)
        assert not app.exception, [e.value for e in app.exception]
        assert any("external: logged by a script" in m.value for m in app.markdown)
        keys = {b.key for b in app.button if b.key}
        assert {f"stop_{run.id}", f"pause_{run.id}", f"set_lr_{run.id}"} <= keys
        assert len(app.get("plotly_chart")) == 2  # "loss" against steps, "system/..." against seconds
        # Drawn like a Loom run's: titled, x titled by its unit, memory on a linear axis in MB.
        figures = {f["layout"]["title"]["text"]: f["layout"] for f in _figures(app)}
        assert figures["Metrics"]["xaxis"]["title"]["text"] == "step"
        assert figures["System"]["yaxis"]["title"]["text"] == "memory (MB)"
        assert figures["System"]["yaxis"]["type"] == "linear"
        # Its total is unknown: steps and time so far, no "0 %" progress bar.
        assert not app.get("progress")
        assert any("Step 49 · " in c.value and "total unknown" in c.value for c in app.caption)
        # ?smooth= (the slider's value): the smoothed curve over its faded raw values; none for
        # the system chart (machine readings are drawn as read).
        open_page(app, "pages/jobs.py", run=run.id, smooth="0.6")
        assert app.slider(key=f"smooth_{run.id}").value == 0.6
        names = {f["layout"]["title"]["text"]: [t["name"] for t in f["data"]] for f in _figures(app)}
        assert names["Metrics"] == ["loss (raw)", "loss"] and names["System"] == ["system/rss_mb"]
        app.slider(key=f"smooth_{run.id}").set_value(0.3).run()
        assert app.query_params["smooth"] in ("0.3", ["0.3"])  # the slider writes the URL
        app.slider(key=f"smooth_{run.id}").set_value(0.0).run()
        assert "smooth" not in app.query_params and len(_figures(app)[0]["data"]) == 1
    open_page(app, "pages/experiments.py")
    assert not app.exception, [e.value for e in app.exception]
    frame = next(d for d in app.dataframe if (d.key or "").startswith("exp_table")).value
    assert list(frame["name"]) == ["from a script"] and list(frame["source"]) == ["external"]


def test_two_script_runs_compare(app: AppTest) -> None:
    ids = []
    for lr in (0.1, 0.01):
        with track.run(f"lr {lr}", {"lr": lr}, app_config=get_config(), system_metrics=False) as run:
            for step in range(20):
                run.log({"epoch/val_loss": lr / (step + 1)}, step=step + 1)
        ids.append(run.id)
    open_page(app, "pages/compare.py", runs=",".join(ids), metric="epoch/val_loss")
    assert not app.exception, [e.value for e in app.exception]
    assert app.get("plotly_chart")  # both curves
    shown = " ".join(str(d.value) for d in app.dataframe)
    assert "config.lr" in shown and "0.01" in shown  # the settings that differ, from the config
