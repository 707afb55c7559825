"""The ``pbt`` driver job: a population of members trained in rounds of ``interval`` epochs.

Each round, every live member trains one *segment* (a training run, a Dask task of its own)
from its last checkpoint to the round's epoch. When all have ended the driver ranks them by the
metric's last value; each bottom-quantile member copies a top-quantile member's checkpoint
(exploit: its next segment is a branch of the winner's run) with the winner's settings changed
(explore). A segment whose worker died is resumed from its last kept checkpoint, so a member
loses at most the epochs since then. A person's kill, clone and freeze (``_pbt.pbt_action``)
arrive as events and are applied within a poll.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

from core.errors import JobStopped
from core.store import SYSTEM
from core.tuning._driver import _client
from core.tuning._driver import _ended
from core.tuning._driver import _Tasks
from core.tuning._paths import apply
from core.tuning._pbt import read_pbt_events
from core.tuning._pbt_spec import PBTSpec
from core.tuning._pbt_spec import branch_changes
from core.tuning._pbt_spec import exploit_pairs
from core.tuning._pbt_spec import explore
from core.tuning._pbt_spec import initial_values
from core.tuning._steering import dataset_of
from core.tuning._steering import get_study
from core.tuning._steering import set_study_status

if TYPE_CHECKING:
    from core.compute import JobContext

__all__ = ["run_pbt"]

_POLL_SECONDS = 0.5
_REAP_SECONDS = 3.0


@dataclass
class _Member:
    number: int
    values: dict[str, Any]
    run: str | None = None  # its last finished segment
    epoch: int = 0  # the epochs that segment ends at
    score: float = math.nan
    alive: bool = True
    current: str | None = None  # the segment in flight
    source: tuple[str, int] | None = None  # the checkpoint its next segment starts from
    retries: int = 0
    history: list[str] = field(default_factory=list)
    why: str = "start"  # why its next segment is submitted

    def epoch_from(self) -> int:
        """The epoch the member's next segment starts from."""
        return self.source[1] if self.source else self.epoch


class _Population:
    def __init__(self, ctx: JobContext, spec: PBTSpec, study: Any) -> None:
        from core.compute import SubmitOptions

        self.ctx, self.store, self.spec, self.study = ctx, ctx.store, spec, study
        self.space = spec.search_space
        self.rng = random.Random(spec.seed)
        self.client = _client()
        self.tasks = _Tasks()
        self.options = SubmitOptions(resources={"GPU": 1} if spec.gpu else None)
        self.members: dict[int, _Member] = {}
        self.frozen: set[str] = set()
        self.seen = 0  # the last event read
        self.target = 0  # the epoch the round in flight trains to
        self.last_reap = time.monotonic()

    # --- events ---------------------------------------------------------------------------------

    def note(self, event: str, member: int | None = None, **data: Any) -> None:
        self.ctx.note("pbt", {"event": event, "who": "population", "member": member, **data})

    def steer(self) -> None:
        """Apply the people's actions recorded since the last look."""
        from core.compute import stop_run

        for event in read_pbt_events(self.store, self.ctx.run_id, self.seen):
            self.seen = event.id
            member = self.members.get(event.member) if event.member is not None else None
            if event.event == "freeze":
                self.frozen.add(str(event.data.get("path")))
            elif event.event == "kill" and member is not None and member.alive:
                member.alive = False
                if member.current:
                    stop_run(self.store, member.current, self.client, by=event.who, viewer=SYSTEM)
            elif event.event == "clone" and member is not None:
                number = max(self.members) + 1
                clone = _Member(number, {**member.values, **event.data.get("values", {})})
                clone.source = (member.run, member.epoch) if member.run else None
                clone.why = "clone"
                self.members[number] = clone
                if self.target and clone.epoch_from() < self.target:
                    self.submit(clone, self.target, why="clone", from_member=member.number)
                    clone.why = "continue"

    # --- segments -------------------------------------------------------------------------------

    def submit(self, m: _Member, target: int, why: str, **extra: Any) -> None:
        from core.compute import submit_run
        from core.store import get_run
        from core.training import TrainSpec
        from core.training import branch_spec
        from core.training import epoch_checkpoints
        from core.training import read_training_run

        source = m.source or ((m.run, m.epoch) if m.run else None)
        if source is None:
            train = apply({**self.spec.base, "branch": None, "resume_from": None}, m.values)
            train["epochs"] = target
            spec = TrainSpec.from_dict(train)
            parent, start = None, 0
        else:
            parent, start = source
            kept = {c.epoch: c for c in epoch_checkpoints(self.store, parent)}
            parent_spec = read_training_run(get_run(self.store, parent, viewer=SYSTEM)).spec
            # A segment seeds Keras afresh; seeded by its first epoch, it shuffles the batches
            # anew as an unbroken run would, rather than repeating the first segment's orders.
            seed = int(self.spec.base.get("seed") or 0) + start
            spec = branch_spec(
                parent_spec,  # type: ignore[arg-type]
                parent,
                start,
                kept[start].step,
                {**branch_changes(m.values), "epochs": target, "seed": seed},
            )
        links: dict[str, Any] = {"parent_id": parent, "parent_kind": "branched"} if parent else {}
        run_id = submit_run(
            self.client,
            self.store,
            "train",
            spec.to_dict(),
            viewer=SYSTEM,
            author=self.study.author,
            team=self.study.team,
            name=f"member {m.number} · epochs {start + 1}-{target}",
            options=self.options,
            on_submitted=self.tasks.watch,
            dataset_id=dataset_of(spec.to_dict()),
            study_id=self.study.id,
            **links,
        )
        m.current, m.source = run_id, (parent, start) if parent else None
        self.note(
            "retry" if why == "retry" else "segment",
            m.number,
            run=run_id,
            start=start,
            end=target,
            parent=parent,
            values=m.values,
            why=why,
            from_epoch=start,
            **extra,
        )

    def score(self, run_id: str) -> float:
        from core.store import get_metrics

        series = get_metrics(self.store, run_id, viewer=SYSTEM).get(f"epoch/{self.spec.metric}")
        return float(series.values[-1]) if series and series.values else math.nan

    def ended(self, run: Any, target: int) -> None:
        from core.training import epoch_checkpoints

        m = next(m for m in self.members.values() if m.current == run.id)
        self.tasks.forget(run.id)
        m.current = None
        if not m.alive:
            return
        if run.status == "succeeded":
            m.run, m.epoch, m.source, m.score = run.id, target, None, self.score(run.id)
            m.history.append(run.id)
            return
        kept = [c.epoch for c in epoch_checkpoints(self.store, run.id)]
        if run.status == "interrupted" and m.retries < self.spec.retries:
            m.retries += 1
            if kept and max(kept) >= target:  # it died after its last epoch: nothing lost
                m.run, m.epoch, m.source, m.score = run.id, target, None, self.score(run.id)
                return
            if kept:
                m.source = (run.id, max(kept))
            self.submit(m, target, why="retry", after=run.id)
            return
        m.alive = False
        self.note("lost", m.number, run=run.id, why=f"{run.status}: {run.status_reason}"[:300])

    def wait_round(self, target: int) -> None:
        from core.compute import reap
        from core.compute import stop_run

        while True:
            self.tasks.arm()
            self.steer()
            flying = {m.current: m for m in self.members.values() if m.current}
            for run, _ in _ended(self.store, list(flying)):
                self.ended(run, target)
            if not any(m.current for m in self.members.values()):
                return
            if self.ctx.should_stop():
                for m in self.members.values():
                    if m.current:
                        stop_run(self.store, m.current, self.client, viewer=SYSTEM)
                        m.alive = False
            if time.monotonic() - self.last_reap > _REAP_SECONDS:
                # A segment whose worker died is marked interrupted here too, not only by the
                # app's reaper: the population must not wait on a run nobody will end.
                self.last_reap = time.monotonic()
                cfg = self.store.config
                reap(self.store, heartbeat_timeout=cfg.heartbeat_timeout, client=self.client)
            self.tasks.wait(_POLL_SECONDS)

    def exploit(self, epoch: int) -> None:
        alive = {n: m for n, m in self.members.items() if m.alive and m.run and m.epoch == epoch}
        pairs = exploit_pairs(
            {n: m.score for n, m in alive.items()}, self.spec.quantile, self.spec.direction, self.rng
        )
        for loser, winner in pairs:
            w, lo = alive[winner], alive[loser]
            new = explore(
                w.values,
                self.space,
                self.spec.explore,
                self.rng,
                frozenset(self.frozen),
                self.spec.resample_probability,
            )
            changes = {p: [lo.values.get(p), new[p]] for p in new if lo.values.get(p) != new[p]}
            self.note(
                "exploit",
                loser,
                from_member=winner,
                from_epoch=epoch,
                from_run=w.run,
                changes=changes,
                values=new,
                from_values=w.values,
                frozen=sorted(self.frozen),
                scores=[lo.score, w.score],
            )
            lo.values, lo.source, lo.why = new, (w.run, epoch), "exploit"  # type: ignore[assignment]

    def run(self) -> dict[str, Any]:
        spec = self.spec
        for i, values in enumerate(initial_values(self.space, spec.members, self.rng)):
            self.members[i] = _Member(i, values)
        self.note("start", None, members=spec.members, interval=spec.interval, epochs=spec.epochs)
        ends = list(range(spec.interval, spec.epochs + 1, spec.interval))
        if ends[-1] != spec.epochs:
            ends.append(spec.epochs)
        for target in ends:
            self.steer()
            self.target = target
            for m in list(self.members.values()):
                if m.alive and m.epoch_from() < target:
                    self.submit(m, target, why=m.why)
                    m.why = "continue"
            self.wait_round(target)
            if self.ctx.should_stop():
                raise JobStopped("stopped on request; the members' segments were stopped")
            self.ctx.set_progress(target / spec.epochs)
            if target != spec.epochs:
                self.exploit(target)
        done = {n: m for n, m in self.members.items() if m.alive and m.run and math.isfinite(m.score)}
        sign = 1.0 if spec.direction == "minimize" else -1.0
        summary: dict[str, Any] = {"members": len(self.members), "finished": len(done)}
        if done:
            best = min(done.values(), key=lambda m: sign * m.score)
            summary |= {
                "best_member": best.number,
                "best_value": best.score,
                "best_run": best.run,
                "best_values": best.values,
            }
        self.note("end", None, **{k: v for k, v in summary.items() if k != "best_values"})
        return summary


def run_pbt(ctx: JobContext, data: dict[str, Any]) -> dict[str, Any]:
    """The ``pbt`` driver job body."""
    from core.tuning._pbt import parse_pbt

    study = get_study(ctx.store, data["study"], viewer=SYSTEM)
    spec = parse_pbt(study)
    set_study_status(ctx.store, study.id, "running")
    try:
        summary = _Population(ctx, spec, study).run()
    except JobStopped:
        set_study_status(ctx.store, study.id, "stopped")
        raise
    except BaseException:
        set_study_status(ctx.store, study.id, "failed")
        raise
    set_study_status(ctx.store, study.id, "finished")
    return summary
