"""What a salesperson writes in a call sheet's ``outcome`` column, and what it means as a contact.

A call sheet (bullseye.activation.call_sheets) comes back through ``contacts/`` as it stands: it carries
contact_id, campaign_id, channel (phone), sent_at (the planned call time), customer_id and phone, and three
columns the salesperson fills in: ``outcome``, ``called_at`` and ``order_id`` (and a free ``note``). The loader
turns the outcome into the contract's contact fields (:func:`stage_sql`) before it types the row:

============  ==========================  =========  ===============  ==================  =======  =========
outcome       also written as             delivered  responded_at     converted_order_id  opt_out  complaint
============  ==========================  =========  ===============  ==================  =======  =========
reached       接通, 已接通, answered        true
interested    有意向, 意向                  true       called_at
purchased     成交, 已成交, bought          true       called_at        order_id
refused       拒绝, 不需要, declined        true
opt_out       退订, 勿扰, do_not_call       true                                             true
complaint     投诉, complained              true                                                      true
no_answer     未接通, 未接, 无人接听          false
wrong_number  空号, 错号                   false
============  ==========================  =========  ===============  ==================  =======  =========

A value the sheet already carries in one of those columns is kept (a caller may tick ``opt_out`` by hand).
The contact's ``sent_at`` stays the planned call time, so the returned call matches the night's plan in the
contact ledger (bullseye.activation.ledger: same campaign, person and channel within ``ledger_match_days``)
and is counted once. ``responded_at`` falls back to ``sent_at`` when ``called_at`` is empty.

Rows the loader holds back (bullseye.ingest.rules): an empty outcome is a call not made, so no contact
("not called"); an outcome that is none of the above is quarantined with its file, line and value. A
``purchased`` row without an order id loads as a response and is warned about (no conversion to credit).

A "not called" row stays in the quarantine (visible with its file and line, counted in the night's
notes) and is read back from there (dbt model stg_meta__calls_not_made, by the reason's ``not called:``
prefix): the contact ledger frees the plan its contact_id names, so the call is no contact against caps
or waves and the person is a candidate again the next night. A sheet never returned says nothing: its
calls still count as made (bullseye.activation.ledger).
"""

from __future__ import annotations

# canonical outcome -> the spellings read as it (compared trimmed and lower-cased)
OUTCOMES: dict[str, tuple[str, ...]] = {
    "reached": ("reached", "接通", "已接通", "answered"),
    "interested": ("interested", "有意向", "意向"),
    "purchased": ("purchased", "成交", "已成交", "bought"),
    "refused": ("refused", "拒绝", "不需要", "declined"),
    "opt_out": ("opt_out", "opt-out", "退订", "勿扰", "do_not_call"),
    "complaint": ("complaint", "投诉", "complained"),
    "no_answer": ("no_answer", "未接通", "未接", "无人接听"),
    "wrong_number": ("wrong_number", "空号", "错号"),
}
# outcomes where the person was reached (delivered true); the others were not
REACHED = ("reached", "interested", "purchased", "refused", "opt_out", "complaint")
RESPONDED = ("interested", "purchased")

# The columns a call sheet leaves for the salesperson to fill in.
FILL_IN_COLUMNS = ("outcome", "called_at", "order_id", "note")
# stg_meta__calls_not_made finds these rows by the "not called:" prefix: keep it.
NOT_CALLED = ("not called: the call sheet's outcome is empty, so this row is no contact and its plan is "
              "freed (the person may be planned again)")


def allowed_text() -> str:
    """The allowed outcome values as one line, for the sheets' README and quarantine reasons."""
    return "; ".join(f"{k} ({', '.join(v[1:])})" for k, v in OUTCOMES.items())


def macro_sql() -> str:
    """DuckDB macro ``bz_call_outcome(text)``: the canonical outcome of a written one, NULL if unknown."""
    whens = " ".join(
        "WHEN lower(trim(s)) IN (" + ", ".join("'" + w.lower().replace("'", "''") + "'" for w in words)
        + f") THEN '{key}'" for key, words in OUTCOMES.items())
    return f"CREATE OR REPLACE MACRO bz_call_outcome(s) AS CASE {whens} END;"


def _in(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def stage_sql(columns: list[str]) -> tuple[list[str], list[str]]:
    """Statements that fill the contact fields of a staged call sheet (table ``_stage``) from its outcome.

    Returns (statements, the staged columns afterwards). Only for a ``contacts/`` file with an
    ``outcome`` column; the outcome itself stays (checked by the rules, kept among the extra columns)."""
    cols = list(columns)
    stmts = []
    for col in ("delivered", "responded_at", "converted_order_id", "opt_out", "complaint"):
        if col not in cols:
            stmts.append(f'ALTER TABLE _stage ADD COLUMN "{col}" VARCHAR')
            cols.append(col)
    o = "bz_call_outcome(\"outcome\")"
    called = "nullif(trim(CAST(\"called_at\" AS VARCHAR)), '')" if "called_at" in cols else "NULL"
    order = "nullif(trim(CAST(\"order_id\" AS VARCHAR)), '')" if "order_id" in cols else "NULL"

    def blank(col: str) -> str:
        return f"nullif(trim(CAST(\"{col}\" AS VARCHAR)), '')"

    stmts.append(f"""UPDATE _stage SET
        "delivered" = coalesce({blank('delivered')}, CASE WHEN {o} IN {_in(REACHED)} THEN 'true'
                                                          WHEN {o} IS NOT NULL THEN 'false' END),
        "responded_at" = coalesce({blank('responded_at')}, CASE WHEN {o} IN {_in(RESPONDED)}
                                  THEN coalesce({called}, CAST("sent_at" AS VARCHAR)) END),
        "converted_order_id" = coalesce({blank('converted_order_id')}, CASE WHEN {o} = 'purchased' THEN {order} END),
        "opt_out" = coalesce({blank('opt_out')}, CASE WHEN {o} = 'opt_out' THEN 'true' END),
        "complaint" = coalesce({blank('complaint')}, CASE WHEN {o} = 'complaint' THEN 'true' END)""")
    return stmts, cols
