"""Number fields whose range Launch checks, not the widget.

``st.number_input(min_value=..., max_value=...)`` refuses a typed value outside its range in the
browser and keeps sending the last valid one: typing 3000 epochs showed a range error there, and
Launch trained 10. These fields give the widget no bounds, so what is typed is what the page
reads; the field says at once when it is out of range, and :meth:`Ranges.check` refuses Launch,
naming every such field, before anything is stored.
"""

from __future__ import annotations

from typing import Any

from core.errors import SpecError


def _fmt(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:g}"


class Ranges:
    """The bounded number fields of one form, in one script run."""

    def __init__(self) -> None:
        self._fields: list[tuple[str, float, float, float]] = []

    def number(
        self, container: Any, label: str, low: float, high: float, value: float, *, key: str, **kwargs: Any
    ) -> Any:
        """A ``number_input`` without bounds (``value``'s type makes it int or float), its
        ``[low, high]`` remembered for :meth:`check`."""
        got = container.number_input(label, value=value, key=key, **kwargs)
        self._fields.append((label, low, high, got))
        if not low <= got <= high:
            container.error(f"{label}: between {_fmt(low)} and {_fmt(high)}.", icon=":material/error:")
        return got

    def check(self) -> None:
        """Raises:
        SpecError: A field is out of its range; the message names each such field, its range
            and what it holds.
        """
        bad = [
            f"{label} must be between {_fmt(low)} and {_fmt(high)}, but got {_fmt(got)}"
            for label, low, high, got in self._fields
            if not low <= got <= high
        ]
        if bad:
            raise SpecError(f"Out of range, so nothing was launched: {'; '.join(bad)}.")
