"""bullseye.clv is PyMC-Marketing: its answers equal the library's, called the ordinary way, on CDNOW.

bullseye.clv wraps the library for the nightly job (positional customer ids, parameters read
back from marts.clv_model_params, a model restated in 4-week periods for discounting, one
prediction per distinct history). These tests fit the library's own models on the CDNOW
sample (tests/data/cdnow_sample.txt, 2,357 customers, calibration 1997-01-01 .. 1997-09-30)
and require the wrappers to give the library's numbers to 1e-6 relative, and the papers'
formulas where the library has no single call for the nightly definition.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pymc_extras.prior import Prior
from pymc_marketing.clv import BetaGeoModel, GammaGammaModel, customer_lifetime_value, rfm_summary
from scipy import special

from bullseye import clv

CDNOW = Path(__file__).parent / "data" / "cdnow_sample.txt"
CALIBRATION_END = "1997-09-30"
REL = 1e-6


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    t = pd.read_csv(CDNOW, sep=r"\s+", header=None, dtype={"date": str},
                    names=["master_id", "customer_id", "date", "cds", "amount"])
    t["order_date"] = pd.to_datetime(t.date, format="%Y%m%d")
    return t


@pytest.fixture(scope="module")
def summary(transactions) -> pd.DataFrame:
    return clv.summarize(transactions, CALIBRATION_END)


@pytest.fixture(scope="module")
def library(summary):
    """BetaGeoModel and GammaGammaModel fitted by the library itself (MAP, flat priors), CDNOW's own ids."""
    data = pd.DataFrame({"customer_id": summary.index, "frequency": summary.x.astype(float),
                         "recency": summary.t_x, "T": summary["T"]})
    bg = BetaGeoModel(data=data, model_config={k: Prior("HalfFlat") for k in ("r", "alpha", "a", "b")})
    bg.fit(method="map", progressbar=False)
    rep = summary[summary.x > 0]
    gg = GammaGammaModel(data=pd.DataFrame({"customer_id": rep.index, "frequency": rep.x.astype(float),
                                            "monetary_value": rep.mean_repeat_value}),
                         model_config={k: Prior("HalfFlat") for k in ("p", "q", "v")})
    gg.fit(method="map", progressbar=False)
    point = {k: float(np.asarray(m.fit_result[k]).squeeze()) for m in (bg, gg) for k in m.fit_result.data_vars}
    bg_params = clv.BgNbdParams(point["r"], point["alpha"], point["a"], point["b"])
    gg_params = clv.GammaGammaParams(point["p"], point["q"], point["v"])
    return bg, gg, bg_params, gg_params, data


def flat(answer) -> np.ndarray:
    return np.asarray(answer).reshape(-1)


def test_summary_is_rfm_summary_with_first_last_day_and_mean_value(transactions, summary):
    lib = rfm_summary(transactions, "customer_id", "order_date", "amount", observation_period_end=CALIBRATION_END,
                      time_unit="D", time_scaler=7).set_index("customer_id").loc[summary.index]
    assert (summary.x.to_numpy() == lib.frequency.to_numpy()).all()
    assert (summary.t_x == lib.recency).all() and (summary["T"] == lib["T"]).all()
    rep = summary.x > 0
    np.testing.assert_allclose(summary.mean_repeat_value[rep], lib.monetary_value[rep], rtol=1e-12)
    assert summary.mean_repeat_value[~rep].isna().all()  # the library writes 0 for "no repeat purchase"
    cal = transactions[transactions.order_date <= CALIBRATION_END].groupby("customer_id")
    assert (summary.first_purchase == cal.order_date.min()).all()
    assert (summary.last_purchase == cal.order_date.max()).all()
    np.testing.assert_allclose(summary.mean_value, cal.amount.sum() / (summary.x + 1), rtol=1e-12)


def test_no_transactions_give_an_empty_summary_of_the_usual_columns(transactions, summary):
    empty = clv.summarize(transactions, "1996-12-31")  # before the first purchase
    assert len(empty) == 0
    assert empty.dtypes.to_dict() == summary.dtypes.to_dict()


def test_fit_gives_the_library_fit(summary, library):
    _, _, bg_params, gg_params, _ = library
    bg = clv.fit_bgnbd(summary.x, summary.t_x, summary["T"])
    gg = clv.fit_gamma_gamma(summary.x, summary.mean_repeat_value)
    np.testing.assert_allclose(list(bg.as_dict().values()), list(bg_params.as_dict().values()), rtol=REL)
    np.testing.assert_allclose(list(gg.as_dict().values()), list(gg_params.as_dict().values()), rtol=REL)


def test_p_alive_and_expected_purchases_are_the_librarys(summary, library):
    bg, _, bg_params, _, _ = library
    x, t_x, T = summary.x, summary.t_x, summary["T"]
    np.testing.assert_allclose(clv.p_alive(bg_params, x, t_x, T), flat(bg.expected_probability_alive()), rtol=REL)
    np.testing.assert_allclose(clv.expected_purchases(bg_params, 39, x, t_x, T),
                               flat(bg.expected_purchases(future_t=39)), rtol=REL)


def test_expected_order_value_is_the_librarys_expected_customer_spend(summary, library):
    _, gg, _, gg_params, _ = library
    data = pd.DataFrame({"customer_id": summary.index, "frequency": summary.x.astype(float),
                         "monetary_value": summary.mean_repeat_value.fillna(0.0)})  # no repeats: population mean
    ours = clv.expected_order_value(gg_params, summary.x, summary.mean_repeat_value)
    np.testing.assert_allclose(ours, flat(gg.expected_customer_spend(data)), rtol=REL)
    assert ours[summary.x.to_numpy() == 0] == pytest.approx(gg_params.p * gg_params.gamma / (gg_params.q - 1))


def test_discounted_purchases_is_customer_lifetime_value_in_the_librarys_conventions(library):
    """The library's CLV on weekly data: 12 "months" of 4.345 weeks, a monthly rate of 1%."""
    bg, _, bg_params, _, data = library
    monthly, weeks_per_month = 0.01, 4.345
    lib = flat(customer_lifetime_value(bg, data.assign(future_spend=1.0), future_t=12, discount_rate=monthly,
                                       time_unit="W"))
    ours = clv.discounted_purchases(bg_params, data.frequency, data.recency, data["T"],
                                    horizon_weeks=12 * weeks_per_month,
                                    annual_discount_rate=(1 + monthly) ** (52 / weeks_per_month) - 1,
                                    step_weeks=weeks_per_month)
    np.testing.assert_allclose(ours, lib, rtol=REL)


@pytest.mark.parametrize("horizon", [52.0, 26.0, 2.0])  # whole steps, a shorter last step, less than a step
def test_nightly_discounting_is_four_week_steps_at_the_annual_rate(library, horizon):
    """The nightly definition written out with the library's weekly expected purchases."""
    bg, _, bg_params, _, data = library
    steps = [s for s in (4.0 * k for k in range(1, 14)) if s <= horizon]
    steps += [horizon] if not steps or steps[-1] < horizon else []
    want, before = np.zeros(len(data)), np.zeros(len(data))
    for s in steps:
        cum = flat(bg.expected_purchases(future_t=s))
        want += (cum - before) / 1.10 ** (s / 52)
        before = cum
    ours = clv.discounted_purchases(bg_params, data.frequency, data.recency, data["T"], horizon, 0.10)
    np.testing.assert_allclose(ours, want, rtol=REL)


def test_score_predicts_once_per_history_and_returns_every_customer_in_order(summary, library):
    _, _, bg_params, gg_params, _ = library
    shuffled = summary.sample(frac=1.0, random_state=3)  # repeated histories scattered through the frame
    assert shuffled[["x", "t_x", "T"]].duplicated().sum() > 1000
    scored = clv.score(shuffled, bg_params, gg_params)
    assert scored.index.equals(shuffled.index)
    x, t_x, T = shuffled.x, shuffled.t_x, shuffled["T"]
    np.testing.assert_allclose(scored.p_alive, clv.p_alive(bg_params, x, t_x, T), rtol=1e-12)
    np.testing.assert_allclose(scored.expected_purchases_52w, clv.expected_purchases(bg_params, 52, x, t_x, T),
                               rtol=1e-12)
    disc = clv.discounted_purchases(bg_params, x, t_x, T)
    aov = clv.expected_order_value(gg_params, x, shuffled.mean_repeat_value)
    np.testing.assert_allclose(scored.expected_revenue_52w, disc * aov, rtol=1e-12)


def test_log_likelihoods_are_the_papers(summary, library):
    """FHL 2005 equation 6 (BG/NBD) and the Gamma-Gamma marginal likelihood, per customer."""
    _, _, bg_params, gg_params, _ = library
    r, alpha, a, b = bg_params.r, bg_params.alpha, bg_params.a, bg_params.b
    x, t_x, T = (summary[c].to_numpy(float) for c in ("x", "t_x", "T"))
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = special.betaln(a, b + x) - special.betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300)) - (r + x) * np.log(alpha + t_x),
                      -np.inf)
    fhl = a1 + a2 + np.logaddexp(a3, a4)
    np.testing.assert_allclose(clv.bgnbd_log_likelihood((r, alpha, a, b), x, t_x, T), fhl, rtol=REL)

    rep = x > 0
    p, q, g = gg_params.p, gg_params.q, gg_params.gamma
    xr, z = x[rep], summary.mean_repeat_value.to_numpy()[rep]
    gg = (special.gammaln(p * xr + q) - special.gammaln(p * xr) - special.gammaln(q) + q * np.log(g)
          + (p * xr - 1) * np.log(z) + p * xr * np.log(xr) - (p * xr + q) * np.log(g + xr * z))
    np.testing.assert_allclose(clv.gamma_gamma_log_likelihood((p, q, g), xr, z), gg, rtol=REL)


def test_fit_reports_the_log_likelihood_at_its_optimum(summary):
    bg = clv.fit_bgnbd(summary.x, summary.t_x, summary["T"])
    per_customer = clv.bgnbd_log_likelihood((bg.r, bg.alpha, bg.a, bg.b), summary.x, summary.t_x, summary["T"])
    assert bg.log_likelihood == pytest.approx(float(np.sum(per_customer)), rel=1e-12)


def test_a_population_without_a_mean_spend_gives_no_value_to_new_buyers():
    """Gamma-Gamma with q <= 1 has no population mean: one-time buyers get NaN, repeat buyers their own."""
    aov = clv.expected_order_value(clv.GammaGammaParams(2.0, 0.8, 10.0), [0, 2], [np.nan, 20.0])
    assert np.isnan(aov[0])
    assert aov[1] == pytest.approx(2.0 * (10.0 + 2 * 20.0) / (2.0 * 2 + 0.8 - 1))
