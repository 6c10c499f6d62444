"""Customer lifetime value: BG/NBD for repeat buying, Gamma-Gamma for spend.

The models are those of Fader, Hardie & Lee, "Counting your customers the easy way"
(2005) and "RFM and CLV" (2005). Time is in weeks counted in days (days / 7), and a
customer's purchases on one day count as one purchase, as in the papers.

Fitting uses PyMC-Marketing (``BetaGeoModel``, ``GammaGammaModel``): a MAP fit under
flat (HalfFlat) priors is the maximum-likelihood estimate, and it reproduces the
published CDNOW estimates (tests/test_clv.py). ``lifetimes`` is no longer maintained.
Scoring (P(alive), conditional expected purchases, expected order value) uses the
papers' closed forms, vectorized over a million customers; the log-likelihood reported
with each fit is the closed-form one, evaluated at the library's optimum.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import special

DAYS_PER_WEEK = 7.0


class ClvFitError(RuntimeError):
    """The data cannot support a fit (too few customers or repeat buyers)."""


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float = float("nan")
    n_customers: int = 0

    def as_dict(self) -> dict[str, float]:
        return {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b}


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float
    log_likelihood: float = float("nan")
    n_customers: int = 0

    def as_dict(self) -> dict[str, float]:
        return {"p": self.p, "q": self.q, "gamma": self.gamma}


# --------------------------------------------------------------------------- summaries
def summarize(transactions: pd.DataFrame, calibration_end, customer_col: str = "customer_id",
              date_col: str = "order_date", value_col: str | None = "amount") -> pd.DataFrame:
    """Per customer: x (repeat purchase days), t_x and T in weeks, and mean repeat-day value.

    Only transactions on or before ``calibration_end`` count. Purchases on the same day are
    one purchase whose value is the day's total. ``mean_repeat_value`` excludes the first
    day, as the Gamma-Gamma model of Fader, Hardie & Lee is fitted on repeat purchases.
    """
    end = pd.Timestamp(calibration_end).normalize()
    t = transactions[[customer_col, date_col] + ([value_col] if value_col else [])].copy()
    t[date_col] = pd.to_datetime(t[date_col]).dt.normalize()
    # a fixed row order makes float sums (and so every output) identical run to run
    t = t[t[date_col] <= end].sort_values([customer_col, date_col], kind="stable")
    agg = {value_col: "sum"} if value_col else {}
    days = (t.groupby([customer_col, date_col], sort=True).agg(agg) if agg
            else t.groupby([customer_col, date_col], sort=True).size().to_frame("n"))
    days = days.reset_index()
    g = days.groupby(customer_col, sort=True)
    first = g[date_col].min()
    last = g[date_col].max()
    out = pd.DataFrame({
        "x": g.size() - 1,
        "t_x": (last - first).dt.days / DAYS_PER_WEEK,
        "T": (end - first).dt.days / DAYS_PER_WEEK,
        "first_purchase": first,
        "last_purchase": last,
    })
    if value_col:
        total = g[value_col].sum()
        first_value = days.loc[g[date_col].idxmin(), [customer_col, value_col]].set_index(customer_col)[value_col]
        repeat_total = total - first_value
        out["mean_repeat_value"] = np.where(out.x > 0, repeat_total / out.x.where(out.x > 0), np.nan)
        out["mean_value"] = total / (out.x + 1)
    out.index.name = customer_col
    return out


def _weighted(x: np.ndarray, t_x: np.ndarray, T: np.ndarray):
    """Collapse identical (x, t_x, T) rows: a million customers share far fewer histories."""
    keys = np.stack([x, t_x, T], axis=1)
    uniq, counts = np.unique(keys, axis=0, return_counts=True)
    return uniq[:, 0], uniq[:, 1], uniq[:, 2], counts.astype(float)


# --------------------------------------------------------------------------- BG/NBD
def bgnbd_log_likelihood(params, x, t_x, T) -> np.ndarray:
    """Per-customer log-likelihood of BG/NBD (FHL 2005, equation 6)."""
    r, alpha, a, b = params
    x = np.asarray(x, dtype=float)
    a1 = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha)
    a2 = (special.gammaln(a + b) + special.gammaln(b + x)
          - special.gammaln(b) - special.gammaln(a + b + x))
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                      - (r + x) * np.log(alpha + t_x), -np.inf)
    return a1 + a2 + np.logaddexp(a3, a4)


def _map_fit(model: str, data: pd.DataFrame, names: tuple[str, ...]) -> dict[str, float]:
    """MAP under flat priors, i.e. maximum likelihood, with PyMC-Marketing; kept quiet.

    PyMC, PyTensor and ArviZ warn and log about sampling and their own refactors; none of
    it concerns a point fit, and the nightly output must stay readable."""
    import logging
    import warnings

    for name in ("pymc", "pytensor", "pymc_marketing", "arviz"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pymc_extras.prior import Prior
        from pymc_marketing import clv as pmc

        fitted = getattr(pmc, model)(data=data, model_config={k: Prior("HalfFlat") for k in names})
        try:
            fitted.fit(method="map", progressbar=False)
        except Exception as exc:  # the optimizer or the model refused the data
            raise ClvFitError(f"{model} could not be fitted: {str(exc).splitlines()[0]}") from exc
    values = {k: float(np.asarray(fitted.fit_result[k]).squeeze()) for k in names}
    if not all(np.isfinite(v) and v > 0 for v in values.values()):
        raise ClvFitError(f"{model} fit did not converge to positive parameters: {values}")
    return values


def fit_bgnbd(x, t_x, T, min_customers: int = 1) -> BgNbdParams:
    """Maximum-likelihood BG/NBD parameters (r, alpha, a, b)."""
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    n = len(x)
    if n < min_customers:
        raise ClvFitError(f"BG/NBD needs at least {min_customers} customers, got {n}")
    if not (x > 0).any():
        raise ClvFitError("BG/NBD needs at least one repeat purchase; every customer bought once")
    data = pd.DataFrame({"customer_id": np.arange(n), "frequency": x, "recency": t_x, "T": T})
    v = _map_fit("BetaGeoModel", data, ("r", "alpha", "a", "b"))
    params = (v["r"], v["alpha"], v["a"], v["b"])
    ux, ut, uT, w = _weighted(x, t_x, T)
    return BgNbdParams(*params, float(np.dot(w, bgnbd_log_likelihood(params, ux, ut, uT))), n)


def p_alive(params: BgNbdParams, x, t_x, T) -> np.ndarray:
    """Probability the customer has not dropped out by T (FHL 2005, equation 11)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                     + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        odds = np.where(x > 0, np.exp(np.minimum(log_ratio, 700)), 0.0)
    return 1.0 / (1.0 + odds)


def expected_purchases(params: BgNbdParams, t, x, t_x, T) -> np.ndarray:
    """Expected purchases in the next ``t`` weeks given the history (FHL 2005, equation 10)."""
    r, alpha, a, b = params.r, params.alpha, params.a, params.b
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    t = np.asarray(t, dtype=float)
    z = t / (alpha + T + t)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
        head = (a + b + x - 1) / (a - 1)
        body = 1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp
        out = head * body * p_alive(params, x, t_x, T)
    return np.where(t > 0, out, 0.0)


# --------------------------------------------------------------------------- Gamma-Gamma
def gamma_gamma_log_likelihood(params, x, mean_value) -> np.ndarray:
    """Per-customer log-likelihood of the mean spend (FHL, "RFM and CLV", 2005)."""
    p, q, g = params
    x = np.asarray(x, dtype=float)
    z = np.asarray(mean_value, dtype=float)
    px = p * x
    return (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(g)
            + (px - 1) * np.log(z) + px * np.log(x) - (px + q) * np.log(g + x * z))


def fit_gamma_gamma(x, mean_value, min_customers: int = 1) -> GammaGammaParams:
    """Maximum-likelihood Gamma-Gamma parameters from repeat buyers (x > 0, mean value > 0)."""
    x = np.asarray(x, dtype=float)
    z = np.asarray(mean_value, dtype=float)
    keep = (x > 0) & np.isfinite(z) & (z > 0)
    x, z = x[keep], z[keep]
    if len(x) < min_customers:
        raise ClvFitError(f"Gamma-Gamma needs at least {min_customers} repeat buyers, got {len(x)}")
    data = pd.DataFrame({"customer_id": np.arange(len(x)), "frequency": x, "monetary_value": z})
    v = _map_fit("GammaGammaModel", data, ("p", "q", "v"))
    params = (v["p"], v["q"], v["v"])
    return GammaGammaParams(*params, float(np.sum(gamma_gamma_log_likelihood(params, x, z))), len(x))


def expected_order_value(params: GammaGammaParams, x, mean_value) -> np.ndarray:
    """E[value of a purchase | x repeat purchases averaging mean_value]; population mean when x = 0."""
    p, q, g = params.p, params.q, params.gamma
    x = np.asarray(x, dtype=float)
    z = np.nan_to_num(np.asarray(mean_value, dtype=float), nan=0.0)
    population = p * g / (q - 1) if q > 1 else np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        conditional = p * (g + x * z) / (p * x + q - 1)
    return np.where(x > 0, conditional, population)


# --------------------------------------------------------------------------- CLV
def discounted_purchases(params: BgNbdParams, x, t_x, T, horizon_weeks: float = 52.0,
                         annual_discount_rate: float = 0.10, step_weeks: float = 4.0) -> np.ndarray:
    """Expected purchases over the horizon, each 4-week step discounted to today."""
    steps = np.arange(step_weeks, horizon_weeks + 1e-9, step_weeks)
    if len(steps) == 0 or steps[-1] < horizon_weeks:
        steps = np.append(steps, horizon_weeks)
    total = np.zeros(len(np.asarray(x)), dtype=float)
    prev = np.zeros_like(total)
    for s in steps:
        cum = expected_purchases(params, s, x, t_x, T)
        total += (cum - prev) / (1 + annual_discount_rate) ** (s / 52.0)
        prev = cum
    return total


def score(summary: pd.DataFrame, bg: BgNbdParams, gg: GammaGammaParams | None,
          horizon_weeks: float = 52.0, annual_discount_rate: float = 0.10) -> pd.DataFrame:
    """Per customer: p_alive, expected purchases, expected order value and discounted CLV.

    ``summary`` comes from :func:`summarize` (an optional ``margin_rate`` column turns the
    value into margin). Without a Gamma-Gamma fit the customer's own mean value is used.
    """
    x, t_x, T = summary.x.to_numpy(float), summary.t_x.to_numpy(float), summary["T"].to_numpy(float)
    if gg is not None:
        aov = expected_order_value(gg, x, summary.mean_repeat_value.to_numpy(float))
    else:
        aov = summary.mean_value.to_numpy(float)
    disc = discounted_purchases(bg, x, t_x, T, horizon_weeks, annual_discount_rate)
    margin = summary["margin_rate"].to_numpy(float) if "margin_rate" in summary else 1.0
    return pd.DataFrame({
        "p_alive": p_alive(bg, x, t_x, T),
        "expected_purchases_52w": expected_purchases(bg, horizon_weeks, x, t_x, T),
        "expected_avg_order_value": aov,
        "expected_revenue_52w": disc * aov,
        "clv_52w": disc * aov * margin,
    }, index=summary.index)


def holdout_check(transactions: pd.DataFrame, calibration_end, holdout_weeks: float,
                  min_customers: int = 1, **cols) -> dict[str, float] | None:
    """Fit on data up to ``calibration_end - holdout``, compare predicted and actual purchases after.

    Returns None when the data does not reach back far enough to leave a holdout period.
    """
    end = pd.Timestamp(calibration_end).normalize()
    cal_end = end - pd.Timedelta(days=round(holdout_weeks * DAYS_PER_WEEK))
    date_col = cols.get("date_col", "order_date")
    customer_col = cols.get("customer_col", "customer_id")
    dates = pd.to_datetime(transactions[date_col]).dt.normalize()
    if dates.min() > cal_end - pd.Timedelta(days=7):
        return None
    cal = summarize(transactions, cal_end, customer_col, date_col, None)
    try:
        params = fit_bgnbd(cal.x, cal.t_x, cal["T"], min_customers)
    except ClvFitError:
        return None
    after = transactions[(dates > cal_end) & (dates <= end)]
    actual_days = (after.assign(_d=dates[after.index]).groupby([customer_col, "_d"]).size()
                   .groupby(level=0).size())
    actual = actual_days.reindex(cal.index, fill_value=0)
    predicted = expected_purchases(params, holdout_weeks, cal.x, cal.t_x, cal["T"])
    return {
        "holdout_calibration_end": cal_end.date().isoformat(),
        "holdout_weeks": holdout_weeks,
        "holdout_customers": float(len(cal)),
        "holdout_predicted_purchases": float(np.sum(predicted)),
        "holdout_actual_purchases": float(actual.sum()),
        "holdout_mae_per_customer": float(np.mean(np.abs(predicted - actual.to_numpy()))),
    }


# --------------------------------------------------------------------------- simulation
def simulate(n: int, bg: BgNbdParams, gg: GammaGammaParams | None = None, max_T: float = 78.0,
             seed: int = 0) -> pd.DataFrame:
    """Draw n customer histories from the BG/NBD (and Gamma-Gamma) generative story.

    Each customer is observed for T ~ U(1, max_T) weeks. Used by the benchmark and the
    parameter-recovery test: a fit on this data should return the parameters it was drawn with.
    """
    rng = np.random.default_rng(seed)
    T = rng.uniform(1.0, max_T, n)
    lam = rng.gamma(bg.r, 1.0 / bg.alpha, n)
    p = rng.beta(bg.a, bg.b, n)
    n_events = rng.poisson(lam * T)  # purchases of a customer who never dropped out
    lives = rng.geometric(p)  # repeat purchases up to and including the one after which they drop
    x = np.minimum(n_events, lives)
    # t_x: the x-th smallest of n_events uniform times on [0, T]
    with np.errstate(invalid="ignore"):
        t_x = np.where(x > 0, rng.beta(np.maximum(x, 1), n_events - x + 1) * T, 0.0)
    out = pd.DataFrame({"x": x.astype(float), "t_x": t_x, "T": T})
    if gg is not None:
        nu = rng.gamma(gg.q, 1.0 / gg.gamma, n)
        z = rng.gamma(gg.p * np.maximum(x, 1), 1.0 / (nu * np.maximum(x, 1)))  # mean of x Gamma(p, nu) draws
        out["mean_repeat_value"] = np.where(x > 0, z, np.nan)
        out["mean_value"] = np.where(x > 0, z, rng.gamma(gg.p, 1.0 / nu))
    out.index = pd.Index([f"C{i:08d}" for i in range(n)], name="customer_id")
    return out
