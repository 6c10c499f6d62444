"""Per customer: x, t_x, T (weeks, counted in days) and mean repeat spend (bullseye.clv.summarize)."""

import numpy as np


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.clv import summarize
    from bullseye.config import run_date

    days = dbt.ref("int_customer__purchase_days").df().sort_values(["customer_id", "order_date"], ignore_index=True)
    out = summarize(days, str(run_date(dbt.config.get("as_of"))), value_col="amount")
    margin = days.groupby("customer_id")[["margin", "amount_with_margin"]].sum(min_count=1)
    rate = (margin.margin / margin.amount_with_margin.where(margin.amount_with_margin > 0)).reindex(out.index)
    # Customers whose lines carry no cost take the margin rate of everyone else.
    overall = float(np.nansum(margin.margin)) / max(float(np.nansum(margin.amount_with_margin)), 1e-9)
    out["margin_rate"] = rate.fillna(overall if np.isfinite(overall) else 1.0)
    return out.reset_index()
