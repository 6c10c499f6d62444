"""The contact ledger: every contact that counts against frequency caps and wave progress.

It joins two records of contact pressure: what was sent (``contacts/`` files coming back) and
what bullseye planned on earlier nights (``marts.target_lists``). A plan counts from the
night it was exported, before its send is reported back, so two campaigns on consecutive
nights cannot both fill the same week. A sent contact that matches a plan (same campaign,
person and channel, sent within ``match_days`` of the plan's send date) is that plan, not a
second contact. Holdout plans are kept (they move a person through a campaign's waves)
but never count against caps: nobody contacted them.
"""

from __future__ import annotations

LEDGER_COLUMNS = ("customer_id", "campaign_id", "channel", "contact_date", "occurrence_key", "wave",
                  "counts_toward_caps", "source")


def ledger_sql(contacts: str, plans: str, match_days: int) -> str:
    """SQL for the ledger from a contacts relation and a prior-plans relation.

    ``contacts``: customer_id, campaign_id, channel, sent_at.
    ``plans``: send_date, campaign_id, customer_id, channel, occurrence_key, wave, is_holdout.
    """
    return f"""
    WITH p AS (SELECT * FROM {plans}),
    c AS (SELECT * FROM {contacts} WHERE customer_id IS NOT NULL),
    unmatched AS (
        SELECT c.* FROM c
        WHERE NOT EXISTS (
            SELECT 1 FROM p
            WHERE p.campaign_id = c.campaign_id AND p.customer_id = c.customer_id AND p.channel = c.channel
              AND NOT p.is_holdout
              AND CAST(c.sent_at AS DATE) BETWEEN p.send_date - INTERVAL {int(match_days)} DAY
                                             AND p.send_date + INTERVAL {int(match_days)} DAY)
    )
    SELECT customer_id, campaign_id, channel, CAST(send_date AS DATE) AS contact_date, occurrence_key,
           wave, NOT is_holdout AS counts_toward_caps,
           CASE WHEN is_holdout THEN 'holdout' ELSE 'planned' END AS source
    FROM p
    UNION ALL
    SELECT customer_id, campaign_id, channel, CAST(sent_at AS DATE), NULL, NULL, TRUE, 'sent'
    FROM unmatched
    """


def build_ledger(con, contacts: str, plans: str, match_days: int):
    """The ledger as a DuckDB relation (see module docstring)."""
    return con.sql(ledger_sql(contacts, plans, match_days))
