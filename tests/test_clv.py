"""BG/NBD and Gamma-Gamma: the published CDNOW estimates, and hand-checked summaries.

tests/data/cdnow_sample.txt is the CDNOW sample of Fader & Hardie (2,357 customers of the
1997 Q1 cohort; customer id, date, CDs, dollars), as shipped with the lifetimes package.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bullseye import clv

CDNOW = Path(__file__).parent / "data" / "cdnow_sample.txt"


def sig3(v: float) -> float:
    return float(f"{v:.3g}")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    t = pd.read_csv(CDNOW, sep=r"\s+", header=None, dtype={"date": str},
                    names=["master_id", "customer_id", "date", "cds", "amount"])
    t["order_date"] = pd.to_datetime(t.date, format="%Y%m%d")
    # 39 calibration weeks: 1997-01-01 .. 1997-09-30
    return clv.summarize(t, "1997-09-30")


def test_cdnow_summary_matches_the_published_one(cdnow):
    assert len(cdnow) == 2357
    assert int(cdnow.x.sum()) == 2457  # repeat purchase days in calibration
    first = cdnow.loc[1]
    assert first.x == 2 and round(first.t_x, 2) == 30.43 and round(first["T"], 2) == 38.86


def test_bgnbd_reproduces_fader_hardie_lee_2005(cdnow):
    p = clv.fit_bgnbd(cdnow.x, cdnow.t_x, cdnow["T"])
    assert [sig3(v) for v in (p.r, p.alpha, p.a, p.b)] == [0.243, 4.41, 0.793, 2.43]
    assert round(p.alpha, 3) == 4.414 and round(p.b, 3) == 2.426
    assert round(p.log_likelihood, 1) == -9582.4


def test_gamma_gamma_reproduces_the_published_spend_model(cdnow):
    p = clv.fit_gamma_gamma(cdnow.x, cdnow.mean_repeat_value)
    assert p.n_customers == 946
    assert [sig3(v) for v in (p.p, p.q, p.gamma)] == [6.25, 3.74, 15.4]
    assert round(p.gamma, 2) == 15.44


def test_conditional_expectation_of_the_papers_example_customer(cdnow):
    p = clv.fit_bgnbd(cdnow.x, cdnow.t_x, cdnow["T"])
    # FHL 2005: x=2, t_x=30.43, T=38.86 expects 1.226 purchases in the next 39 weeks
    assert round(float(clv.expected_purchases(p, 39, 2, 30.43, 38.86)), 3) == 1.226


def test_p_alive_falls_with_silence_and_is_one_without_repeats():
    p = clv.BgNbdParams(0.243, 4.414, 0.793, 2.426)
    recent, silent, never = clv.p_alive(p, [3, 3, 0], [38.0, 5.0, 0.0], [39.0, 39.0, 39.0])
    assert never == 1.0
    # by hand: 1 / (1 + a/(b+x-1) * ((alpha+T)/(alpha+t_x))**(r+x))
    assert round(float(recent), 3) == 0.838
    assert round(float(silent), 3) == 0.038


def test_summary_counts_days_not_orders_and_stops_at_calibration_end():
    t = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b"],
        "order_date": ["2026-01-01", "2026-01-01", "2026-01-15", "2026-03-01", "2026-01-08"],
        "amount": [10.0, 5.0, 30.0, 99.0, 20.0],
    })
    s = clv.summarize(t, "2026-01-29")
    a, b = s.loc["a"], s.loc["b"]
    assert (a.x, a.t_x, a["T"]) == (1, 2.0, 4.0)  # two orders on Jan 1 are one purchase; Mar 1 is after
    assert a.mean_repeat_value == 30.0  # the first day is not a repeat purchase
    assert a.mean_value == 22.5
    assert (b.x, b["T"]) == (0, 3.0) and np.isnan(b.mean_repeat_value)


def test_fit_recovers_the_parameters_it_was_drawn_with():
    truth = clv.BgNbdParams(0.5, 6.0, 0.6, 3.0)
    s = clv.simulate(60_000, truth, clv.GammaGammaParams(6.25, 3.74, 15.44), seed=7)
    p = clv.fit_bgnbd(s.x, s.t_x, s["T"])
    for got, want in zip((p.r, p.alpha, p.a, p.b), (0.5, 6.0, 0.6, 3.0), strict=True):
        assert got == pytest.approx(want, rel=0.12)
    g = clv.fit_gamma_gamma(s.x, s.mean_repeat_value)
    assert g.q == pytest.approx(3.74, rel=0.1)


def test_too_little_data_is_a_clear_error():
    with pytest.raises(clv.ClvFitError, match="at least 50 customers"):
        clv.fit_bgnbd([1, 0], [2.0, 0.0], [5.0, 5.0], min_customers=50)
    with pytest.raises(clv.ClvFitError, match="repeat purchase"):
        clv.fit_bgnbd([0, 0, 0], [0.0, 0.0, 0.0], [5.0, 5.0, 5.0])


def test_clv_discounts_and_applies_margin():
    bg = clv.BgNbdParams(0.243, 4.414, 0.793, 2.426)
    gg = clv.GammaGammaParams(6.25, 3.74, 15.44)
    s = pd.DataFrame({"x": [2.0], "t_x": [30.43], "T": [38.86], "mean_repeat_value": [22.35],
                      "mean_value": [24.7], "margin_rate": [0.5]})
    no_discount = clv.score(s, bg, gg, annual_discount_rate=0.0).iloc[0]
    discounted = clv.score(s, bg, gg, annual_discount_rate=0.2).iloc[0]
    assert no_discount.expected_revenue_52w == pytest.approx(
        no_discount.expected_purchases_52w * no_discount.expected_avg_order_value)
    assert no_discount.clv_52w == pytest.approx(0.5 * no_discount.expected_revenue_52w)
    assert discounted.clv_52w < no_discount.clv_52w


def test_holdout_check_needs_history_before_the_holdout():
    t = pd.DataFrame({"customer_id": ["a", "b"], "order_date": ["2026-11-01", "2026-11-02"]})
    assert clv.holdout_check(t, "2026-11-24", 26) is None
