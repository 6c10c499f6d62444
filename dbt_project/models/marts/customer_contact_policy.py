"""Per person and channel: the latest consent state and whether the person is suppressed everywhere.

The same SQL the list planner applies (bullseye.activation.policy.consent_state_sql), so the
answer to "may we call her?" here is the answer every list obeys.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.activation.policy import consent_state_sql

    dbt.ref("int_contact__consent_events").create_view("_consent_events", replace=True)
    state = session.sql(consent_state_sql("_consent_events")).df()
    session.execute("DROP VIEW IF EXISTS _consent_events")
    return state
