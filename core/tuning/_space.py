"""Search spaces: which training settings a study varies, and over what ranges.

A :class:`SearchSpace` is data like every other spec: frozen, validated on construction and
round-tripped through JSON. Each :class:`Param` addresses one field of a training-spec dict by a
dotted path (``optimizer.learning_rate``, ``model.layers.0.units``). Optuna records a trial's
values under those same paths, so :func:`apply` turns any trial's params back into the exact
training spec it ran.

Each :class:`Param` lives in ``_param``; the paths and :func:`apply` in ``_paths``; the default
ranges of :func:`tunable` in ``_tunable``.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal
from typing import TypedDict
from typing import cast

from core.errors import SpecError
from core.specs import spec_hash
from core.tuning._param import Choice
from core.tuning._param import Param
from core.tuning._param import ParamDict
from core.tuning._param import _same

if TYPE_CHECKING:
    from optuna.distributions import BaseDistribution
    from optuna.trial import BaseTrial

__all__ = ["SearchSpace", "SearchSpaceDict"]


class SearchSpaceDict(TypedDict):
    type: Literal["search_space"]
    params: list[ParamDict]


@dataclass(frozen=True)
class SearchSpace:
    """The settings a study tunes; stored with the study and hashed.

    Args:
        params: One :class:`Param` per setting, each path at most once.

    Raises:
        SpecError: The space is empty, a path appears twice, or an entry is not a Param.
    """

    params: tuple[Param, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.params, tuple | list) or not all(isinstance(p, Param) for p in self.params):
            raise SpecError(f"`params` must be a list of Param, but got params={self.params!r}.")
        object.__setattr__(self, "params", tuple(self.params))
        if not self.params:
            raise SpecError("The search space is empty: tick at least one setting to tune.")
        seen: set[str] = set()
        for param in self.params:
            if param.path in seen:
                raise SpecError(f"Each setting can be tuned once, but got {param.path} twice.")
            seen.add(param.path)

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(p.path for p in self.params)

    @property
    def hash(self) -> str:
        return spec_hash(self.to_dict())

    def param(self, path: str) -> Param:
        """The parameter for ``path``.

        Raises:
            SpecError: The space does not tune ``path``; the message lists what it tunes.
        """
        for param in self.params:
            if param.path == path:
                return param
        raise SpecError(f"{path} is not in the search space; it tunes: {', '.join(self.paths)}.")

    def distributions(self) -> dict[str, BaseDistribution]:
        """Optuna distributions by path, e.g. for ``optuna.trial.create_trial`` (imports Optuna)."""
        return {p.path: p.distribution() for p in self.params}

    def suggest(self, trial: BaseTrial) -> dict[str, Any]:
        """Draw every parameter for ``trial``; Optuna records each under its path.

        Returns:
            Values by path, ready for :func:`apply`.
        """
        return {p.path: p.suggest(trial) for p in self.params}

    def check(self, values: dict[str, Any]) -> dict[str, Any]:
        """Hand-picked values, e.g. for ``study.enqueue_trial``, checked against the space.

        Settings left out are drawn by the sampler as usual. Optuna itself only warns about an
        out-of-range enqueued value and then runs it, so check first.

        Args:
            values: Values by path, for some or all of the space's paths.

        Returns:
            The values, each as its parameter's kind (a whole float for an int becomes an int).

        Raises:
            SpecError: A path is not in the space, or a value is out of range, not a choice or not a
                whole number.
        """
        if not isinstance(values, dict):
            raise SpecError(f"Values are a mapping of path to value, but got {values!r}.")
        return {path: self.param(path).check(value) for path, value in values.items()}

    def narrowed(
        self,
        path: str,
        *,
        low: float | None = None,
        high: float | None = None,
        choices: list[Choice] | tuple[Choice, ...] | None = None,
    ) -> SearchSpace:
        """A new space where ``path`` takes a sub-range or a subset of its choices.

        Optuna refuses other choices for a categorical name already in a study, so a space with
        narrowed choices needs a new study; narrowed ranges can continue the same one.

        Args:
            path: The setting to narrow.
            low: The new lower bound. Defaults to None (keep it).
            high: The new upper bound. Defaults to None (keep it).
            choices: The choices to keep (categorical). Defaults to None (keep them).

        Returns:
            The new, validated space; this one is unchanged.

        Raises:
            SpecError: ``path`` is not in the space, the bounds leave the current range, the
                choices are not a subset, or bounds are given for choices (or the reverse).
        """
        old = self.param(path)
        if old.kind == "categorical":
            if low is not None or high is not None:
                raise SpecError(f"{path} is categorical: narrow it with `choices`, not `low`/`high`.")
            if choices is None:
                return self
            new = replace(old, choices=tuple(choices))
            extra = [c for c in new.choices if not any(_same(c, o) for o in old.choices)]
            if extra:
                raise SpecError(
                    f"Narrowing keeps to the current choices {list(old.choices)!r}, but got {extra!r} "
                    f"for {path}."
                )
        else:
            if choices is not None:
                raise SpecError(
                    f"{path} is a {old.kind} range: narrow it with `low` and `high`, not `choices`."
                )
            new = replace(old, low=old.low if low is None else low, high=old.high if high is None else high)
            if cast(float, new.low) < cast(float, old.low) or cast(float, new.high) > cast(float, old.high):
                raise SpecError(
                    f"Narrowing keeps within the current range: `{old.low} <= low <= high <= {old.high}` "
                    f"must hold, but got low={new.low}, high={new.high} for {path}."
                )
        return SearchSpace(tuple(new if p.path == path else p for p in self.params))

    def to_dict(self) -> SearchSpaceDict:
        return {"type": "search_space", "params": [p.to_dict() for p in self.params]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchSpace:
        if not isinstance(data, dict) or data.get("type") != "search_space":
            raise SpecError(
                f'A search space is a JSON object with "type": "search_space" and "params", but got {data!r}.'
            )
        params = data.get("params", [])
        if not isinstance(params, list):
            raise SpecError(f'"params" must be a list, but got params={params!r}.')
        return cls(tuple(Param.from_dict(p) for p in params))
