"""Per person and channel: may we contact them, for marketing and for service, on what basis, or why not.

The same SQL the list planner applies (bullseye.activation.policy.contact_state_sql), so the
answer to "may we call her?" here is the answer every list obeys, and the salesperson's
service_overdue_alerts read it too. One row for every person and channel. do_not_contact and
consent_status are the person's own events; address_do_not_contact and address_consent_status
are those given for the number or email this channel would use, whoever gave them.
suppression_reason is set when nothing may go out on the channel (a do-not-contact or a
withdrawal); marketing_basis / service_basis say what a contact for that purpose would rely on
(consent, a basis the policy names, list_licence:<basis>), with the reason when there is none.
Frequency caps and blackout dates are the planner's, per night, and are not in this table.
"""

STATE_COLUMNS = ["customer_id", "channel", "consent_status", "consent_at", "do_not_contact", "dnc_at", "dnc_reason",
                 "address_do_not_contact", "address_consent_status", "address_dnc_reason", "suppression_reason",
                 "marketing_basis", "marketing_reason", "service_basis", "service_reason"]


def model(dbt, session):
    dbt.config(materialized="table")
    from datetime import timedelta

    from bullseye.activation.campaigns import CHANNELS
    from bullseye.activation.night_settings import from_relation
    from bullseye.activation.policy import contact_state_sql
    from bullseye.config import run_date

    _, policy = from_relation(dbt.source("settings", "campaigns"), run_date(dbt.config.get("as_of")))
    send_date = run_date(dbt.config.get("as_of")) + timedelta(days=policy.send_day_offset)
    inputs = {"_ccp_audience": dbt.ref("int_activation__audience"),
              "_ccp_consents": dbt.ref("int_contact__consent_events"),
              "_ccp_list_terms": dbt.ref("int_contact__list_terms")}
    for name, relation in inputs.items():
        relation.create_view(name, replace=True)
    channels = ", ".join(f"('{c}')" for c in CHANNELS)
    try:
        session.execute(f"CREATE OR REPLACE TEMP VIEW _policy_pairs AS SELECT a.customer_id, c.channel "
                        f"FROM _ccp_audience a CROSS JOIN (VALUES {channels}) c(channel)")
        state = session.sql(f"""SELECT *, coalesce(dnc_code, withdrawn_code) AS suppression_reason
            FROM ({contact_state_sql(policy, "_policy_pairs", send_date, *inputs)})
            ORDER BY customer_id, channel""").df()
    finally:
        session.execute("DROP VIEW IF EXISTS _policy_pairs")
        for name in inputs:
            session.execute(f"DROP VIEW IF EXISTS {name}")
    return state[STATE_COLUMNS]
