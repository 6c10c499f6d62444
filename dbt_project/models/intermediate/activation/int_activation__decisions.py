"""Tonight's decision for every candidate of every active campaign, with its reason code.

The campaigns and contact policy are those the load step validated and stored (source settings.campaigns); the
rules are in bullseye.activation.policy. dbt's relations are registered as views for this
model only, and the planner is told their names (PlanInputs).
"""


def model(dbt, session):
    dbt.config(materialized="table")

    from bullseye.activation.night_settings import from_relation
    from bullseye.activation.policy import PlanInputs, plan_night
    from bullseye.config import run_date

    campaigns, policy = from_relation(dbt.source("settings", "campaigns"), run_date(dbt.config.get("as_of")))
    inputs = {"audience": dbt.ref("int_activation__audience"), "triggers": dbt.ref("int_activation__triggers"),
              "consents": dbt.ref("int_contact__consent_events"), "list_terms": dbt.ref("int_contact__list_terms"),
              "ledger": dbt.ref("int_contact__ledger")}
    names = {key: f"__bz_plan_{key}" for key in inputs}
    for key, relation in inputs.items():
        relation.create_view(names[key], replace=True)
    try:
        decisions = plan_night(session, campaigns, policy, run_date(dbt.config.get("as_of")),
                               PlanInputs(**names))
    finally:
        for name in names.values():
            session.execute(f"DROP VIEW IF EXISTS {name}")
    return decisions
