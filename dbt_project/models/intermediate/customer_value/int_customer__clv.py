"""Contract table: each customer's predicted next 52 weeks (bullseye.clv.score).

clv_52w is the discounted expected margin (expected purchases x expected order value x the
customer's margin rate); expected_revenue_52w is the same before margin.
"""

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.clv import BgNbdParams, GammaGammaParams, score
    from bullseye.config import run_date

    s = dbt.ref("int_customer__clv_summary").df().set_index("customer_id")
    params = dbt.ref("int_customer__clv_params").df()
    p = {(m, k): v for m, k, v in params[["model", "parameter", "value"]].itertuples(index=False)}
    cols = ["p_alive", "expected_purchases_52w", "expected_avg_order_value", "expected_revenue_52w", "clv_52w"]
    if ("bg_nbd", "r") not in p:
        out = pd.DataFrame(columns=["customer_id", *cols]).astype({c: float for c in cols})
        out["customer_id"] = out["customer_id"].astype(str)
    else:
        bg = BgNbdParams(*(p[("bg_nbd", k)] for k in ("r", "alpha", "a", "b")))
        gg = (GammaGammaParams(*(p[("gamma_gamma", k)] for k in ("p", "q", "gamma")))
              if ("gamma_gamma", "p") in p else None)
        out = score(s, bg, gg, float(dbt.config.get("horizon_weeks")),
                    float(dbt.config.get("annual_discount_rate"))).reset_index()
    out = out.merge(s[["x", "t_x", "T", "margin_rate"]].reset_index(), on="customer_id", how="left")
    out = out.rename(columns={"x": "repeat_purchases", "t_x": "t_x_weeks", "T": "t_weeks"})
    out["as_of_date"] = pd.Timestamp(str(run_date(dbt.config.get("as_of")))).date()
    return out
