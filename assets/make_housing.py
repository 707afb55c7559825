"""Writes assets/housing.csv: a synthetic regression set with missing values (seeded, CC0).

python assets/make_housing.py
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def make_housing(n: int = 1000, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    area = rng.gamma(9.0, 11.0, n).round(1)
    rooms = np.clip((area / 25 + rng.normal(0, 0.8, n)).round(), 1, 9).astype(int)
    age = rng.integers(0, 120, n)
    distance = rng.exponential(6.0, n).round(2)
    hood = rng.choice(
        ["riverside", "old town", "harbour", "hills", "suburbs"], n, p=[0.2, 0.15, 0.2, 0.15, 0.3]
    )
    garden = rng.random(n) < 0.4
    sold_on = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 1800, n), unit="D")
    premium = (
        pd.Series(hood)
        .map({"riverside": 1.25, "old town": 1.4, "harbour": 1.1, "hills": 1.15, "suburbs": 0.9})
        .to_numpy()
    )
    price = 2300 * area * premium * np.exp(-distance / 40) * (1 - age / 600) + 15000 * garden
    price = (price * rng.lognormal(0, 0.08, n)).round(-2)
    df = pd.DataFrame(
        {
            "area_m2": area,
            "rooms": rooms.astype(float),
            "age_years": age.astype(float),
            "distance_km": distance,
            "neighbourhood": hood,
            "has_garden": garden,
            "sold_on": sold_on.strftime("%Y-%m-%d"),
            "price": price,
        }
    )
    for column, rate in {
        "rooms": 0.05,
        "age_years": 0.08,
        "distance_km": 0.04,
        "neighbourhood": 0.03,
    }.items():
        df.loc[rng.random(n) < rate, column] = np.nan
    return df


if __name__ == "__main__":
    make_housing().to_csv(Path(__file__).with_name("housing.csv"), index=False)
