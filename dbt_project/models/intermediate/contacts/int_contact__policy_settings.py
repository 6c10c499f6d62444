"""Tonight's contact policy settings as one row, for SQL models that need them.

contact_policy.yml is validated once a night by the load step and stored (source settings.campaigns); this
model hands its scalar settings to SQL, so that campaign_results matches a sent contact to
a plan with the same ledger_match_days as the ledger does, int_campaign__contacts reads a
gateway reply as a refusal with the same list the policy names, and the value in force on a
night can be looked up afterwards.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    import pandas as pd

    from bullseye.activation.night_settings import from_relation
    from bullseye.config import run_date

    _, policy = from_relation(dbt.source("settings", "campaigns"), run_date(dbt.config.get("as_of")))
    return pd.DataFrame([{
        "ledger_match_days": int(policy.ledger_match_days),
        "send_day_offset": int(policy.send_day_offset),
        "max_campaigns_per_person_per_night": int(policy.max_campaigns_per_person_per_night),
        "sms_opt_out_replies": list(policy.sms_opt_out_replies),
        "sms_signature": policy.sms_signature,
        "sms_opt_out_text": policy.sms_opt_out_text,
        "marketing_min_age": int(policy.marketing_min_age),
        "list_licence_bases": list(policy.list_licence_bases),
    }])
