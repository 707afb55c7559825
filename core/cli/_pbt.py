"""``tune`` with a population config (``"type": "pbt"``): population-based training started on
the cluster, a line printed for every event (a round's segments, an exploit step, a person's
action), then the best member."""

from __future__ import annotations

import json
import time
from typing import Any

from core.cli._common import cluster_client
from core.cli._common import out
from core.cli._training import read_config


def pbt_from_config(store, data: dict[str, Any], viewer) -> tuple[Any, str]:  # type: ignore[no-untyped-def]
    from core.tuning import PBTSpec

    data, name = read_config(store, data, viewer)
    return PBTSpec.from_dict(data), name


def tune_pbt(store, config, args, viewer, data: dict[str, Any]) -> int:  # type: ignore[no-untyped-def]
    from core.compute import TERMINAL
    from core.store import SYSTEM
    from core.store import get_run
    from core.store import thaw
    from core.tuning import get_population
    from core.tuning import start_pbt

    spec, name = pbt_from_config(store, data, viewer)
    client = cluster_client(config)
    study_id, run_id = start_pbt(
        client, store, spec, name or f"cli {args.config.name}", viewer=viewer, team=args.team
    )
    out(
        f"population {study_id} submitted (driver run {run_id}): "
        f"{spec.members} members x {spec.epochs} epochs"
    )
    shown = 0
    while True:
        run = get_run(store, run_id, viewer=SYSTEM)  # first: once it has ended, the events are final
        for event in get_population(store, study_id, viewer=viewer).events:
            if event.id > shown and event.event not in ("start", "end"):
                out(event.text)
                shown = event.id
        if run.status in TERMINAL:
            break
        time.sleep(1.0)
    out(f"{run.status}: {run.status_reason}")
    if run.result.raw:
        out(json.dumps(thaw(run.result.raw)))
    return 0 if run.status == "succeeded" else 1
