"""How well tonight's model would have predicted the recent past (bullseye.clv.holdout_check).

The model is refitted on orders up to (run date - clv_holdout_weeks) and its expected purchases
for the holdout weeks are compared with the purchases that happened. Empty when the history
is shorter than the holdout.
"""

import pandas as pd


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.clv import holdout_check
    from bullseye.config import run_date

    # Who and when only, customers as integer codes in the order of their ids: the check needs no ids, and a
    # string id per purchase day was most of its memory at scale 100 (12.5M rows).
    days = dbt.ref("int_customer__purchase_days").query(
        "purchase_days", "SELECT dense_rank() OVER (ORDER BY customer_id) AS customer_id, order_date FROM purchase_days"
    ).df()
    as_of = str(run_date(dbt.config.get("as_of")))
    res = holdout_check(days, as_of, float(dbt.config.get("holdout_weeks")),
                        int(dbt.config.get("min_customers"))) if len(days) else None
    cols = ["holdout_calibration_end", "holdout_weeks", "holdout_customers", "holdout_predicted_purchases",
            "holdout_actual_purchases", "holdout_mae_per_customer"]
    out = pd.DataFrame([res] if res else [], columns=cols)
    out["holdout_calibration_end"] = pd.to_datetime(out["holdout_calibration_end"]).dt.date
    for c in cols[1:]:
        out[c] = out[c].astype(float)
    out.insert(0, "run_date", pd.Timestamp(as_of).date())
    return out
