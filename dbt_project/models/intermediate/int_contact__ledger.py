"""The contact ledger before tonight: contacts sent, plus lists exported on earlier nights.

Earlier nights' plans are read from marts.target_lists, this project's own history (the table
tonight's run appends to later); only run dates before tonight count, so a backfill sees what
that night saw. See bullseye.activation.ledger for the matching rules.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    from bullseye.activation.campaigns import campaigns_folder, load_policy
    from bullseye.activation.ledger import build_ledger

    as_of = str(dbt.config.get("as_of"))
    policy = load_policy(campaigns_folder(dbt.config.get("campaigns_dir")))
    contacts = dbt.ref("int_campaign__contacts")
    contacts.create_view("_ledger_contacts", replace=True)
    exists = session.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'marts' "
        "AND table_name = 'target_lists' AND column_name = 'occurrence_key'").fetchall()[0][0]
    plans = (f"(SELECT send_date, campaign_id, customer_id, channel, occurrence_key, wave, is_holdout "
             f"FROM marts.target_lists WHERE run_date < DATE '{as_of}')" if exists else
             "(SELECT NULL::DATE AS send_date, NULL AS campaign_id, NULL AS customer_id, NULL AS channel, "
             "NULL AS occurrence_key, NULL::INTEGER AS wave, NULL::BOOLEAN AS is_holdout WHERE FALSE)")
    contacts_sql = f"(SELECT customer_id, campaign_id, channel, sent_at FROM _ledger_contacts " \
                   f"WHERE sent_at < DATE '{as_of}' + INTERVAL 1 DAY)"
    return build_ledger(session, contacts_sql, plans, policy.ledger_match_days).df()
