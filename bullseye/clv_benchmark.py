"""`bullseye bench clv`: summarize, fit and score N simulated customers, timing each step.

Histories are drawn from BG/NBD and Gamma-Gamma with the CDNOW parameters, turned into
dated purchase days (the shape of int_customer__purchase_days), and put through the same
functions the nightly models call. The fit should recover the parameters it was drawn with.
Importing PyMC-Marketing (and PyMC, PyTensor) takes seconds that a night pays once; it is
timed on its own, before the steps, so that it does not land in whichever step comes first.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bullseye import clv
from bullseye.identity.benchmark import PeakRss

CDNOW_BG = clv.BgNbdParams(0.243, 4.414, 0.793, 2.426)
CDNOW_GG = clv.GammaGammaParams(6.25, 3.74, 15.44)


@dataclass
class ClvBench:
    customers: int
    purchase_days: int
    seconds: dict[str, float] = field(default_factory=dict)
    fitted: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0

    @property
    def fit_and_score_seconds(self) -> float:
        return sum(v for k, v in self.seconds.items() if k not in ("simulate", "import_library"))


def purchase_days(n: int, as_of: str = "2026-11-24", seed: int = 0) -> pd.DataFrame:
    """Simulated purchase days of n customers, observed for up to 78 weeks before ``as_of``."""
    rng = np.random.default_rng(seed)
    s = clv.simulate(n, CDNOW_BG, CDNOW_GG, max_T=78.0, seed=seed)
    end = pd.Timestamp(as_of)
    T_days = np.round(s["T"].to_numpy() * 7).astype(int)
    tx_days = np.minimum(np.round(s.t_x.to_numpy() * 7).astype(int), T_days)
    x = s.x.to_numpy().astype(int)
    x = np.where(tx_days == 0, 0, np.minimum(x, tx_days))  # at most one purchase a day
    cust = np.arange(n)
    first = end - pd.to_timedelta(T_days, unit="D")
    # purchase days: the first, x-1 distinct days strictly between, and the last at t_x
    rows_c = [cust, cust[x > 0]]
    rows_d = [np.zeros(n, int), tx_days[x > 0]]
    mid = np.repeat(cust, np.maximum(x - 1, 0))
    if len(mid):
        u = rng.random(len(mid))
        rows_c.append(mid)
        rows_d.append(1 + (u * np.maximum(tx_days[mid] - 1, 1)).astype(int))
    c = np.concatenate(rows_c)
    d = np.concatenate(rows_d)
    value = np.where(np.isfinite(s.mean_value.to_numpy()[c]), s.mean_value.to_numpy()[c], 10.0)
    days = pd.DataFrame({"customer_id": s.index.to_numpy()[c],
                         "order_date": first.to_numpy()[c] + pd.to_timedelta(d, unit="D").to_numpy(),
                         "amount": np.round(value * rng.uniform(0.8, 1.2, len(c)), 2)})
    return days.drop_duplicates(["customer_id", "order_date"], ignore_index=True)


def run_bench(n: int, as_of: str = "2026-11-24", seed: int = 0) -> ClvBench:
    with PeakRss() as rss:
        t0 = time.perf_counter()
        days = purchase_days(n, as_of, seed)
        res = ClvBench(customers=n, purchase_days=len(days))
        res.seconds["simulate"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        import pymc_marketing.clv  # noqa: F401

        res.seconds["import_library"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        summary = clv.summarize(days, as_of)
        res.seconds["summarize"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        bg = clv.fit_bgnbd(summary.x, summary.t_x, summary["T"])
        res.seconds["fit_bg_nbd"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        gg = clv.fit_gamma_gamma(summary.x, summary.mean_repeat_value)
        res.seconds["fit_gamma_gamma"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        scored = clv.score(summary, bg, gg)
        res.seconds["score"] = time.perf_counter() - t0
        res.fitted = {**bg.as_dict(), **gg.as_dict(), "scored_rows": float(len(scored))}
    res.peak_rss_mb = rss.peak_mb
    return res
