"""Contract table: BG/NBD and Gamma-Gamma parameters fitted by maximum likelihood tonight.

Calibration data is every paid order up to the run date (bullseye.clv). No rows when the
data cannot support a fit (too few customers or repeat buyers); customer_clv is then empty.
"""

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.clv import ClvFitError, fit_bgnbd, fit_gamma_gamma
    from bullseye.config import run_date

    s = dbt.ref("int_customer__clv_summary").df()
    as_of = str(run_date(dbt.config.get("as_of")))
    min_customers = int(dbt.config.get("min_customers"))
    rows = []
    try:
        bg = fit_bgnbd(s.x, s.t_x, s["T"], min_customers)
        rows += [("bg_nbd", k, v, bg.n_customers, bg.log_likelihood) for k, v in bg.as_dict().items()]
        gg = fit_gamma_gamma(s.x, s.mean_repeat_value, int(dbt.config.get("min_repeat_buyers")))
        rows += [("gamma_gamma", k, v, gg.n_customers, gg.log_likelihood) for k, v in gg.as_dict().items()]
    except ClvFitError as exc:
        print(f"clv: not fitted tonight: {exc}")
    out = pd.DataFrame(rows, columns=["model", "parameter", "value", "n_customers", "log_likelihood"])
    out["value"] = out["value"].astype(float)
    out["log_likelihood"] = out["log_likelihood"].astype(float)
    out["n_customers"] = out["n_customers"].astype("int64")
    out.insert(4, "calibration_end", pd.Timestamp(as_of).date())
    out["time_unit"] = "week"
    return out
