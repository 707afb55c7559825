"""Smoothing as TensorBoard's scalar dashboard does it: a debiased exponential moving average."""

from __future__ import annotations

import math
from collections.abc import Sequence

from core.errors import SpecError


def smooth(values: Sequence[float], weight: float) -> list[float]:
    """TensorBoard's debiased exponential moving average of ``values``.

    ``s_n = w * s_{n-1} + (1 - w) * v_n`` from ``s_0 = 0``, shown as ``s_n / (1 - w**n)`` so the
    first points are not pulled towards 0; NaN and infinite values pass through and do not count.

    Args:
        values: The curve's values, in step order.
        weight: 0 (no smoothing) up to, not including, 1.

    Returns:
        The smoothed values, as many as ``values``.

    Raises:
        SpecError: ``weight`` is outside ``[0, 1)``.
    """
    if not 0 <= weight < 1:
        raise SpecError(f"`0 <= smoothing < 1` must hold, but got smoothing={weight}.")
    out, last, n = [], 0.0, 0
    for v in values:
        if not math.isfinite(v):
            out.append(v)
            continue
        n += 1
        last = last * weight + (1 - weight) * v
        out.append(last / (1 - weight**n) if weight else v)
    return out
