"""Per customer: x, t_x, T (weeks, counted in days) and mean repeat spend (bullseye.clv.summarize)."""

import numpy as np
import pandas as pd

# Sums of money per customer, exact (DECIMAL) and made doubles only at the end: the same numbers, bit for bit,
# as the Spark step (bullseye.spark_clv) computes, so that both engines fit the CLV models on the same summary.
# Sums of doubles in pandas differed from these in the last bits, which moved Gamma-Gamma's gamma (about
# 185,786) by 1.4e-5 between the engines.
MONEY_SQL = """
WITH per_day AS (
    SELECT customer_id, order_date, sum(amount) AS value FROM d
    WHERE order_date <= CAST('{as_of}' AS DATE) GROUP BY customer_id, order_date
), per_customer AS (
    SELECT customer_id, count(*) AS n_days, sum(value) AS total, arg_min(value, order_date) AS first_value
    FROM per_day GROUP BY customer_id
), margins AS (
    SELECT customer_id, CAST(sum(margin) AS DOUBLE) AS m, CAST(sum(amount_with_margin) AS DOUBLE) AS awm
    FROM d GROUP BY customer_id
)
SELECT dense_rank() OVER (ORDER BY customer_id) - 1 AS customer_id,
       CASE WHEN n_days > 1 THEN CAST(total - first_value AS DOUBLE) / (n_days - 1) END AS mean_repeat_value,
       CAST(total AS DOUBLE) / n_days AS mean_value,
       CASE WHEN awm > 0 THEN m / awm END AS margin_rate
FROM margins LEFT JOIN per_customer USING (customer_id)
ORDER BY customer_id"""
OVERALL_SQL = "SELECT CAST(sum(margin) AS DOUBLE), CAST(sum(amount_with_margin) AS DOUBLE) FROM d"


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.clv import summarize
    from bullseye.config import run_date

    as_of = str(run_date(dbt.config.get("as_of")))
    # Customers as integer codes (0, 1, ... in the order of their ids) while summarizing: a string id per purchase
    # day was most of this model's memory at scale 100 (12.5M rows); the ids come back once per customer.
    purchase_days = dbt.ref("int_customer__purchase_days")
    days = purchase_days.query("d", """SELECT dense_rank() OVER (ORDER BY customer_id) - 1 AS customer_id, order_date,
        amount FROM d ORDER BY customer_id, order_date""").df()
    ids = purchase_days.query("d", "SELECT DISTINCT customer_id FROM d ORDER BY customer_id").df()["customer_id"]
    out = summarize(days, as_of, value_col="amount")
    money = purchase_days.query("d", MONEY_SQL.format(as_of=as_of)).df().set_index("customer_id")
    out["mean_repeat_value"] = money["mean_repeat_value"].reindex(out.index)
    out["mean_value"] = money["mean_value"].reindex(out.index)
    # Customers whose lines carry no cost take the margin rate of everyone else (over all their purchase days).
    m, awm = purchase_days.query("d", OVERALL_SQL).fetchall()[0]
    overall = (m or 0.0) / max(awm or 0.0, 1e-9)
    out["margin_rate"] = money["margin_rate"].reindex(out.index).fillna(overall if np.isfinite(overall) else 1.0)
    out.index = pd.Index(ids.to_numpy()[out.index.to_numpy()], name="customer_id")
    return out.reset_index()
