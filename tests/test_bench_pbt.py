"""``bench/pbt.py --quick`` runs in the suite and prints its figures (issue 30); their values
are measured by hand at full size (see the README's bench table), not asserted here."""

from __future__ import annotations

import pytest

from tests.test_bench_scale import _figures


@pytest.mark.slow
def test_pbt_bench_quick_prints_its_figures() -> None:
    printed, lines = _figures(["bench/pbt.py", "--quick"])
    assert float(printed["branch_first_point_s"]) > 0, lines
    assert float(printed["pbt_best_val_loss_mean"]) > 0 and float(printed["random_best_val_loss_mean"]) > 0
    assert any(line.startswith("seed 0: pbt best val_loss ") for line in lines)
    assert (
        lines[-1].startswith("pbt_vs_random_best_ratio: ") and float(printed["pbt_vs_random_best_ratio"]) > 0
    )
