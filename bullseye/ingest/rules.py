"""Plausibility rules per source and column, with a severity each: the one place to read and tune them.

Parsing decides whether a value can be read at all (``loader``); these rules
decide whether a readable value is believable. Each rule has a severity:

- ``quarantine``: the row is held back in ``meta.quarantine`` (action
  ``row_held``) with the reason; the night goes on without it.
- ``block``: as ``quarantine``, and the night must not publish
  (:func:`blocking_issues`); for values only a broken feed produces.
- ``warn``: the row is loaded; the issue is listed in ``meta.quarantine`` with
  action ``warned`` and counted in the ledger's ``rows_warned``.
- ``drop_value``: the value is dropped (NULL), the row goes on (``value_dropped``).

Conditions are DuckDB SQL. ``{col}`` is the column's typed value (NULL when
absent or unreadable), ``{raw:col}`` its text as delivered. A rule whose
column is absent from a file does not fire.

Thresholds (CNY; the demo's largest order is about 36,000):

- ``orders.amount``: over 200,000 warns; over 1,000,000 is held (one such
  order would move the Gamma-Gamma fit and every customer's expected order
  value); 100,000,000 or more blocks publishing (only a broken feed produces
  it: 9,999,999,999,999,999.99 is DECIMAL(18,2)'s largest value). Negative
  only when ``status`` says refunded or returned.
- money columns with more than 2 decimals (``0.001``) would round silently to
  cents: held for ``orders.amount`` and ``orders.discount_amount``, a warning
  for the other decimal columns (loaded rounded, the original in the quarantine).
- ``order_lines``: unit price or cost below zero held; line amount over
  1,000,000 held; quantity 0 or below, or over 10,000, warns.
- ``service.cost``: below zero held; over 100,000 warns.
- ``store_targets.revenue_target``: below zero held.
- dates: orders before 1990 held; birth dates outside 1900..today dropped;
  list ages outside 0..120 dropped.
- ``crm_customers.lunar_birthday`` (an optional extra column) that
  bullseye.normalize.lunar_birthday cannot read (08-15, 闰04-10, 八月十五, 农历正月初一,
  腊月廿三 ... all read) is dropped like an unreadable date: staging reads it as no lunar
  birthday, and the quarantine names its file, line and value (value_dropped).
- an unreadable optional value is dropped (the row goes on without it), except
  where reading it wrongly would contact someone who said no: ``contacts.opt_out``
  and ``contacts.complaint`` that cannot be read hold the row (:data:`UNREADABLE`).
  Read as yes: true, t, 1, yes, y, 是, td, 退订, unsubscribe(d), opt-out, stop,
  投诉 ...; as no: false, f, 0, no, n, 否; empty is no value (NULL).
- a call sheet coming back through ``contacts/`` (a file with an ``outcome`` column,
  bullseye.ingest.call_outcomes): an empty outcome is a call not made, held as "not called"
  (no contact); an outcome none of the allowed values is held with its value; ``purchased``
  without an order id warns (loaded as a response, nothing to credit).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from bullseye.ingest.call_outcomes import NOT_CALLED, OUTCOMES
from bullseye.normalize import lunar_birthday_issue

SEVERITIES = ("quarantine", "block", "warn", "drop_value")
HOLDING = ("quarantine", "block")
REFUND_STATUSES = ("refunded", "returned", "refund", "return", "退款", "退货", "已退款", "已退货")
# Free-text columns where a line break inside a quoted value is normal.
MULTILINE_OK = frozenset({"address", "properties", "reason", "title", "company", "name", "page_url", "referrer"})
MAX_ORDER_AMOUNT = 1_000_000
BLOCK_ORDER_AMOUNT = 100_000_000
WARN_ORDER_AMOUNT = 200_000


@dataclass(frozen=True)
class Rule:
    column: str
    condition: str  # true when the value is implausible
    reason: str
    severity: str


_REFUNDS = "(" + ", ".join(f"'{s}'" for s in REFUND_STATUSES) + ")"

RULES: dict[str, tuple[Rule, ...]] = {
    "orders": (
        Rule("amount", f"{{amount}} >= {BLOCK_ORDER_AMOUNT}",
             f"order amount of {BLOCK_ORDER_AMOUNT:,} or more: a broken feed, not an order", "block"),
        Rule("amount", f"{{amount}} > {MAX_ORDER_AMOUNT} AND {{amount}} < {BLOCK_ORDER_AMOUNT}",
             f"order amount over the plausible maximum of {MAX_ORDER_AMOUNT:,}", "quarantine"),
        Rule("amount", f"{{amount}} > {WARN_ORDER_AMOUNT} AND {{amount}} <= {MAX_ORDER_AMOUNT}",
             f"unusually large order amount (over {WARN_ORDER_AMOUNT:,})", "warn"),
        Rule("amount", f"{{amount}} < 0 AND coalesce(lower(trim({{raw:status}})), '') NOT IN {_REFUNDS}",
             "negative amount on an order that is not refunded or returned", "quarantine"),
        Rule("discount_amount", "{discount_amount} < 0", "negative discount amount", "quarantine"),
        Rule("discount_amount", "{discount_amount} > abs({amount})", "discount larger than the order amount",
             "warn"),
        Rule("order_ts", "{order_ts} < TIMESTAMP '1990-01-01'", "order before 1990", "quarantine"),
    ),
    "order_lines": (
        Rule("unit_price", "{unit_price} < 0", "negative unit price", "quarantine"),
        Rule("unit_cost", "{unit_cost} < 0", "negative unit cost", "quarantine"),
        Rule("amount", f"abs({{amount}}) > {MAX_ORDER_AMOUNT}",
             f"line amount beyond the plausible maximum of {MAX_ORDER_AMOUNT:,}", "quarantine"),
        Rule("quantity", "{quantity} <= 0 OR {quantity} > 10000", "implausible quantity (0 or less, or over 10,000)",
             "warn"),
    ),
    "service": (
        Rule("cost", "{cost} < 0", "negative service cost", "quarantine"),
        Rule("cost", "{cost} > 100000", "unusually large service cost (over 100,000)", "warn"),
    ),
    "store_targets": (
        Rule("revenue_target", "{revenue_target} < 0", "negative revenue target", "quarantine"),
    ),
    "contacts": (
        Rule("outcome", "{raw:outcome} IS NULL", NOT_CALLED, "quarantine"),
        Rule("outcome", "{raw:outcome} IS NOT NULL AND bz_call_outcome({raw:outcome}) IS NULL",
             f"unknown call outcome (expected one of {', '.join(OUTCOMES)} or their Chinese names; "
             "see call_sheets/README.md)", "quarantine"),
        Rule("outcome", "bz_call_outcome({raw:outcome}) = 'purchased' AND {converted_order_id} IS NULL",
             "call outcome purchased without an order id: loaded as a response, no order to credit", "warn"),
    ),
    "crm_customers": (
        Rule("birth_date", "NOT ({birth_date} BETWEEN DATE '1900-01-01' AND current_date)",
             "implausible birth date", "drop_value"),
        Rule("lunar_birthday", "bz_lunar_birthday_issue({raw:lunar_birthday}) IS NOT NULL",
             "unreadable lunar birthday (read: 08-15, 8/15, 闰04-10, L4-10, 1980-08-15, 八月十五, 农历正月初一, "
             "腊月廿三, 闰四月初十): no lunar birthday greeting", "drop_value"),
    ),
    "lists": (
        Rule("birth_date", "NOT ({birth_date} BETWEEN DATE '1900-01-01' AND current_date)",
             "implausible birth date", "drop_value"),
        Rule("age", "NOT ({age} BETWEEN 0 AND 120)", "implausible age", "drop_value"),
    ),
}

# More than 2 decimals in a DECIMAL(18,2) column: severity per (source, column); others warn.
EXTRA_DECIMALS: dict[tuple[str, str], str] = {
    ("orders", "amount"): "quarantine",
    ("orders", "discount_amount"): "quarantine",
}
EXTRA_DECIMALS_DEFAULT = "warn"

# An optional value that cannot be read: severity per (source, column); others ``drop_value``.
# An unreadable opt-out dropped to NULL would read as "no opt-out" and the person be contacted
# again, so the row is held until the sender fixes the value.
UNREADABLE: dict[tuple[str, str], str] = {
    ("contacts", "opt_out"): "quarantine",
    ("contacts", "complaint"): "quarantine",
}

# Python functions the rules call (registered on the loading connection by register_functions).
FUNCTIONS = {"bz_lunar_birthday_issue": lunar_birthday_issue}


def register_functions(con: duckdb.DuckDBPyConnection) -> None:
    """Register FUNCTIONS (VARCHAR -> VARCHAR) on ``con``: a rule that reads a value the way staging will
    (bullseye.normalize) names what staging could not read, with the file and line staging no longer has."""
    for name, fn in FUNCTIONS.items():
        try:
            con.remove_function(name)
        except Exception:  # noqa: BLE001 - not registered on this connection yet
            pass
        con.create_function(name, fn, ["VARCHAR"], "VARCHAR", null_handling="special", side_effects=False)


_REF = re.compile(r"\{(raw:)?([a-z_][a-z0-9_]*)\}")


def render(condition: str, typed: dict[str, str], raw: dict[str, str]) -> str | None:
    """Fill a rule's placeholders; None when a column it needs is absent from the file."""
    missing = False

    def sub(m: re.Match) -> str:
        nonlocal missing
        name = m.group(2)
        table = raw if m.group(1) else typed
        if name not in table:
            missing = True
            return "NULL"
        return table[name]

    out = _REF.sub(sub, condition)
    return None if missing else out


def blocking_issues(con: duckdb.DuckDBPyConnection, run_id: str) -> list[str]:
    """Why the night loaded as ``run_id`` must not publish: one message per blocking problem.

    A problem stops blocking once a later delivery of the same file (same path,
    new content) has loaded: the feed was fixed and redelivered.
    """
    have = con.execute("""SELECT count(*) FROM information_schema.columns
        WHERE table_schema = 'meta' AND table_name = 'quarantine' AND column_name = 'severity'""").fetchall()[0][0]
    if not have:
        return []
    rows = con.execute("""
        SELECT q.path, q.line, q.column_name, left(q.value, 80), q.reason
        FROM meta.quarantine q JOIN meta.load_ledger l USING (delivery_id)
        WHERE l.run_id = ? AND q.severity = 'block'
          AND NOT EXISTS (SELECT 1 FROM meta.load_ledger later WHERE later.path = l.path
                          AND later.delivery_id > l.delivery_id
                          AND later.outcome IN ('loaded', 'loaded_with_issues'))
        ORDER BY q.path, q.line""", [run_id]).fetchall()
    return [f"{path} line {line}: {col} {value!r}: {reason}" for path, line, col, value, reason in rows]
