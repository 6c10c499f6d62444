"""The contact ledger before tonight: contacts sent, plus lists exported on earlier nights.

Earlier nights' plans are read from the source history.contact_decisions (bullseye.history: the
included rows are the lists); only run dates before tonight count, so a backfill sees what
that night saw. Every night in that history was exported: a night's history is committed
only once its export succeeded (bullseye.night), so a failed or superseded plan never counts.
An earlier plan's customer_id is read through int_identity__id_lineage, so a plan for an id
that has since been merged away counts for the person it belongs to tonight. A sent contact keeps
the number or email it went to (address_key): one known only by a number that several people
share stays here with no customer_id and counts against that number's caps.
A phone plan whose call-sheet row came back with an empty outcome (stg_meta__calls_not_made: the
contact_id the sheet carried, rebuilt here from the plan) was not made: it is freed (not here) unless a
sent contact matches it. See bullseye.activation.ledger for the matching rules.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.activation.call_sheets import contact_id_sql
    from bullseye.activation.ledger import build_ledger
    from bullseye.activation.night_settings import from_relation
    from bullseye.config import run_date

    as_of = str(run_date(dbt.config.get("as_of")))
    _, policy = from_relation(dbt.source("settings", "campaigns"), run_date(dbt.config.get("as_of")))
    contacts = dbt.ref("int_campaign__contacts")
    contacts.create_view("_ledger_contacts", replace=True)
    dbt.ref("int_identity__id_lineage").create_view("_ledger_lineage", replace=True)
    dbt.source("history", "contact_decisions").create_view("_ledger_plans", replace=True)
    dbt.ref("stg_meta__calls_not_made").create_view("_ledger_not_made", replace=True)
    sheet_id = contact_id_sql("t.run_date", "t.campaign_id", "t.customer_id", "t.wave")
    not_made = (f"(t.channel = 'phone' AND NOT t.is_holdout AND EXISTS (SELECT 1 FROM _ledger_not_made n "
                f"WHERE n.contact_id = {sheet_id}))")
    plans = (f"(SELECT t.send_date, t.campaign_id, coalesce(l.current_customer_id, t.customer_id) AS customer_id, "
             f"t.channel, t.occurrence_key, t.wave, t.is_holdout, {not_made} AS not_made FROM _ledger_plans t "
             f"LEFT JOIN _ledger_lineage l ON l.customer_id = t.customer_id "
             f"WHERE t.decision = 'included' AND t.run_date < DATE '{as_of}')")
    contacts_sql = f"(SELECT customer_id, campaign_id, channel, sent_at, address_key FROM _ledger_contacts " \
                   f"WHERE sent_at < DATE '{as_of}' + INTERVAL 1 DAY)"
    dbt.ref("int_customer__profile").create_view("_ledger_people", replace=True)
    carriers = "(SELECT customer_id, phone, email FROM _ledger_people)"
    try:
        ledger = build_ledger(session, contacts_sql, plans, policy.ledger_match_days, carriers,
                              not_made=True).df()
    finally:
        for view in ("_ledger_contacts", "_ledger_lineage", "_ledger_plans", "_ledger_people", "_ledger_not_made"):
            session.execute(f"DROP VIEW IF EXISTS {view}")
    return ledger
