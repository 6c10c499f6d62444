"""Per customer: x, t_x, T (weeks, counted in days) and mean repeat spend (bullseye.clv.summarize)."""

import numpy as np
import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.clv import summarize
    from bullseye.config import run_date

    # Customers as integer codes (0, 1, ... in the order of their ids) while summarizing: a string id per purchase
    # day was most of this model's memory at scale 100 (12.5M rows); the ids come back once per customer.
    purchase_days = dbt.ref("int_customer__purchase_days")
    days = purchase_days.query("d", """SELECT dense_rank() OVER (ORDER BY customer_id) - 1 AS customer_id, order_date,
        amount, margin, amount_with_margin FROM d ORDER BY customer_id, order_date""").df()
    ids = purchase_days.query("d", "SELECT DISTINCT customer_id FROM d ORDER BY customer_id").df()["customer_id"]
    out = summarize(days, str(run_date(dbt.config.get("as_of"))), value_col="amount")
    margin = days.groupby("customer_id")[["margin", "amount_with_margin"]].sum(min_count=1)
    rate = (margin.margin / margin.amount_with_margin.where(margin.amount_with_margin > 0)).reindex(out.index)
    # Customers whose lines carry no cost take the margin rate of everyone else.
    overall = float(np.nansum(margin.margin)) / max(float(np.nansum(margin.amount_with_margin)), 1e-9)
    out["margin_rate"] = rate.fillna(overall if np.isfinite(overall) else 1.0)
    out.index = pd.Index(ids.to_numpy()[out.index.to_numpy()], name="customer_id")
    return out.reset_index()
