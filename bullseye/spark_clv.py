"""CLV on Spark DataFrames (issue 18): the Spark-native steps of two of the CLV dbt Python models.

- :func:`clv_summary` is ``int_customer__clv_summary`` (dbt_project/models/intermediate/customer_value/): the
  per-customer summary of ``bullseye.clv.summarize`` (PyMC-Marketing's ``rfm_summary`` with daily periods and
  weeks of 7 days) and the margin rate, as Spark aggregations over int_customer__purchase_days. The purchase days
  stay on the executors: one row per customer is the output.
- :func:`clv_scores` is ``int_customer__clv``: ``bullseye.clv.score`` with the night's fitted parameters, run in
  ``mapInPandas`` on batches of the summary (each customer's prediction depends on its own row and the
  parameters only). Only the parameters (a few rows) come to the driver.

The fit between them (``int_customer__clv_params``) is a maximum-likelihood fit over all customers at once: it
runs as the generic step on the driver (bullseye.spark_steps), over the summary's one row per customer.

Sums of money are Spark's exact DECIMAL sums, turned into doubles at the end, as the Python model's SQL does in
DuckDB: the two summaries are the same doubles (tests/test_spark_parity.py compares them exactly), so the fit on
each engine sees the same numbers.
"""

from __future__ import annotations

from datetime import date

from bullseye.spark_steps import Node

DAYS_PER_WEEK = 7.0
SCORE_COLUMNS = ["p_alive", "expected_purchases_52w", "expected_avg_order_value", "expected_revenue_52w", "clv_52w"]
CLV_SCHEMA = ("customer_id string, p_alive double, expected_purchases_52w double, expected_avg_order_value double, "
              "expected_revenue_52w double, clv_52w double, repeat_purchases bigint, t_x_weeks double, "
              "t_weeks double, margin_rate double, as_of_date date")


def _parent(node: Node, nodes: dict[str, Node], name: str) -> str:
    """The Spark relation of the node's parent called ``name`` (a ref of the model)."""
    for uid in node.parents:
        if nodes[uid].name == name:
            return f"`{nodes[uid].schema}`.`{nodes[uid].identifier}`"
    raise KeyError(f"{node.name} has no parent {name} in the manifest")


def clv_summary(spark, node: Node, nodes: dict[str, Node], as_of: date):
    """int_customer__clv_summary on Spark: x (repeat purchase days), t_x and T in weeks, first and last purchase
    (timestamps, as the Python model's pandas dates), mean repeat-day value (NULL without repeats), mean value
    over all purchase days, and the margin rate (the customer's margin over the amount of lines with a cost;
    customers without such lines, or with that amount not above zero, take everyone's rate)."""
    from pyspark.sql import functions as F

    days = spark.table(_parent(node, nodes, "int_customer__purchase_days"))
    kept = days.where(F.col("order_date") <= F.lit(as_of))  # summarize counts days up to the run date only
    per_day = kept.groupBy("customer_id", "order_date").agg(F.sum("amount").alias("value"))
    first = per_day.groupBy("customer_id").agg(
        F.min("order_date").alias("first_day"), F.max("order_date").alias("last_day"),
        F.count("*").alias("n_days"), F.sum("value").alias("total"))
    first_value = (per_day.join(first.select("customer_id", "first_day"), "customer_id")
                   .where(F.col("order_date") == F.col("first_day"))
                   .select("customer_id", F.col("value").alias("first_value")))
    x = F.col("n_days") - 1
    summary = first.join(first_value, "customer_id").select(
        "customer_id",
        x.cast("bigint").alias("x"),
        (F.datediff("last_day", "first_day").cast("double") / DAYS_PER_WEEK).alias("t_x"),
        (F.datediff(F.lit(as_of), "first_day").cast("double") / DAYS_PER_WEEK).alias("T"),
        F.col("first_day").cast("timestamp_ntz").alias("first_purchase"),
        F.col("last_day").cast("timestamp_ntz").alias("last_purchase"),
        F.when(x > 0, (F.col("total") - F.col("first_value")).cast("double") / x).alias("mean_repeat_value"),
        (F.col("total").cast("double") / F.col("n_days")).alias("mean_value"))
    return summary.join(_margin_rates(days), "customer_id", "left").select(
        *summary.columns, F.col("margin_rate")).orderBy("customer_id")


def _margin_rates(days):
    """customer_id, margin_rate over all the customer's purchase days (as the Python model: not only those up to
    the run date), with everyone's rate where the customer's own is undefined."""
    from pyspark.sql import functions as F

    own = days.groupBy("customer_id").agg(F.sum("margin").cast("double").alias("m"),
                                          F.sum("amount_with_margin").cast("double").alias("awm"))
    # np.nansum over no values is 0; the Python model divides by at least 1e-9, so the rate is always finite
    overall = days.agg((F.coalesce(F.sum("margin").cast("double"), F.lit(0.0))
                        / F.greatest(F.coalesce(F.sum("amount_with_margin").cast("double"), F.lit(0.0)),
                                     F.lit(1e-9))).alias("overall"))
    rate = F.when(F.col("awm") > 0, F.col("m") / F.col("awm"))
    return own.crossJoin(overall).select("customer_id", F.coalesce(rate, F.col("overall")).alias("margin_rate"))


def clv_scores(spark, node: Node, nodes: dict[str, Node], as_of: date):
    """int_customer__clv on Spark: bullseye.clv.score per batch of the summary (mapInPandas), with the
    parameters of int_customer__clv_params; no rows when the night fitted no BG/NBD model."""
    from bullseye.clv import BgNbdParams, GammaGammaParams

    rows = spark.table(_parent(node, nodes, "int_customer__clv_params")).select("model", "parameter", "value")
    p = {(m, k): float(v) for m, k, v in rows.collect()}
    summary = spark.table(_parent(node, nodes, "int_customer__clv_summary")).select(
        "customer_id", "x", "t_x", "T", "mean_repeat_value", "mean_value", "margin_rate")
    if ("bg_nbd", "r") not in p:
        return spark.createDataFrame([], CLV_SCHEMA)
    bg = BgNbdParams(*(p[("bg_nbd", k)] for k in ("r", "alpha", "a", "b")))
    gg = GammaGammaParams(*(p[("gamma_gamma", k)] for k in ("p", "q", "gamma"))) if ("gamma_gamma", "p") in p else None
    score = _scorer(bg, gg, float(node.config["horizon_weeks"]), float(node.config["annual_discount_rate"]), as_of)
    return summary.mapInPandas(score, CLV_SCHEMA)


def _scorer(bg, gg, horizon_weeks: float, annual_discount_rate: float, as_of: date):
    """The function mapInPandas runs on each executor's batches: the Python model's scoring and columns."""

    def run(batches):
        from bullseye.clv import score

        for batch in batches:
            s = batch.set_index("customer_id")
            out = score(s, bg, gg, horizon_weeks, annual_discount_rate)
            out["repeat_purchases"] = s["x"].astype("int64")
            out["t_x_weeks"] = s["t_x"]
            out["t_weeks"] = s["T"]
            out["margin_rate"] = s["margin_rate"]
            out["as_of_date"] = as_of
            yield out.reset_index()

    return run
