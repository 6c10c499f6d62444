"""The contact ledger: every contact that counts against frequency caps and wave progress.

It joins two records of contact pressure: what was sent (``contacts/`` files coming back) and
what bullseye planned on earlier nights (the included rows of ``history.contact_decisions``). A plan counts from the
night it was exported, before its send is reported back, so two campaigns on consecutive
nights cannot both fill the same week. A sent contact that matches a plan (same campaign,
person and channel, sent within ``match_days`` of the plan's send date) is that plan, not a
second contact. Holdout plans are kept (they move a person through a campaign's waves)
but never count against caps: nobody contacted them. A sent contact keeps the address it went
to (address_key), so caps can count each number and email as well as each person.

A plan the salesperson's returned call sheet says was not made (the row came back with an empty
outcome: held in the quarantine as "not called", read back by stg_meta__calls_not_made) is freed: it is
no contact, so it leaves the ledger (no cap used, no wave done) and the person is a candidate again the
next night, as a ``deferred:capacity`` call is. A sheet never returned says nothing: its plans still
count as made. A freed plan that a sent contact matches after all (the call was made and reported on a
later sheet) is that contact again and counts.
"""

from __future__ import annotations

LEDGER_COLUMNS = ("customer_id", "campaign_id", "channel", "contact_date", "occurrence_key", "wave",
                  "counts_toward_caps", "source", "address_key")

_ADDRESS_OF = ("CASE {t}.channel WHEN 'sms' THEN {a}.phone WHEN 'phone' THEN {a}.phone "
               "WHEN 'email' THEN lower(trim({a}.email)) END")


def ledger_sql(contacts: str, plans: str, match_days: int, carriers: str | None = None,
               not_made: bool = False) -> str:
    """SQL for the ledger from a contacts relation and a prior-plans relation.

    ``contacts``: customer_id, campaign_id, channel, sent_at, address_key (the number or email it
    was sent to, normalized; NULL when the file did not say). A contact that names no person we
    know but names its address (a number two people share) stays in the ledger with a NULL
    customer_id: it counts against that address's caps.
    ``plans``: send_date, campaign_id, customer_id, channel, occurrence_key, wave, is_holdout.
    ``carriers`` (optional): customer_id, phone, email, the addresses people carry tonight, so that
    a sent contact known only by its address is matched to the plan that sent to that address.
    ``not_made``: the plans carry a boolean column ``not_made`` (a returned call sheet says the call
    was not made); such a plan leaves the ledger unless a sent contact matches it.
    """
    by_address = ""
    if carriers:
        by_address = f"""
            OR (c.customer_id IS NULL AND c.address_key IS NOT NULL AND EXISTS (
                SELECT 1 FROM {carriers} k WHERE k.customer_id = p.customer_id
                AND c.address_key = {_ADDRESS_OF.format(t="p", a="k")}))"""
    match = f"""p.campaign_id = c.campaign_id AND p.channel = c.channel
              AND (p.customer_id = c.customer_id {by_address})
              AND NOT p.is_holdout
              AND CAST(c.sent_at AS DATE) BETWEEN p.send_date - INTERVAL {int(match_days)} DAY
                                             AND p.send_date + INTERVAL {int(match_days)} DAY"""
    freed = f"p.not_made AND NOT EXISTS (SELECT 1 FROM c WHERE {match})" if not_made else "false"
    return f"""
    WITH p AS (SELECT * FROM {plans}),
    c AS (SELECT * FROM {contacts} WHERE customer_id IS NOT NULL OR address_key IS NOT NULL),
    unmatched AS (
        SELECT c.* FROM c
        WHERE NOT EXISTS (SELECT 1 FROM p WHERE {match})
    )
    SELECT customer_id, campaign_id, channel, CAST(send_date AS DATE) AS contact_date, occurrence_key,
           wave, NOT is_holdout AS counts_toward_caps,
           CASE WHEN is_holdout THEN 'holdout' ELSE 'planned' END AS source, NULL::VARCHAR AS address_key
    FROM p WHERE NOT coalesce({freed}, false)
    UNION ALL
    SELECT customer_id, campaign_id, channel, CAST(sent_at AS DATE), NULL, NULL, TRUE, 'sent', address_key
    FROM unmatched
    """


def build_ledger(con, contacts: str, plans: str, match_days: int, carriers: str | None = None,
                 not_made: bool = False):
    """The ledger as a DuckDB relation (see module docstring)."""
    return con.sql(ledger_sql(contacts, plans, match_days, carriers, not_made))
