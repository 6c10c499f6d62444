"""Campaign definitions (YAML) and the contact policy, loaded and checked before anything runs.

A campaign file says who (an audience condition over the marts, optionally a trigger),
how (channels in order of preference, offer, waves), when (start and end dates) and how
many (list cap, holdout share, priority). The contact policy (``contact_policy.yml`` in the
same folder) holds the rules every campaign obeys: frequency caps, quiet hours, blackout
dates, which channels are open without a recorded consent and on what legal basis (per
purpose: marketing or service), which list licences count, the minimum age for marketing, and
the SMS signature and opt-out text.

Every problem is reported with the file and campaign it is in, all at once, so a marketer
can fix a folder of definitions in one go instead of one error per night.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import date, time
from pathlib import Path

import yaml

CHANNELS = ("sms", "phone", "email", "wechat", "mail")
# What each channel's export file carries besides customer_id: only what the channel needs.
CHANNEL_FIELDS = {
    "sms": ["phone"],
    "phone": ["name", "phone"],
    "email": ["name", "email"],
    "wechat": ["wechat_unionid"],
    "mail": ["name", "province", "city", "district", "address"],
}
# The one field a channel cannot do without: a person lacking it is excluded:no_<field>.
CONTACT_FIELD = {"sms": "phone", "phone": "phone", "email": "email", "wechat": "wechat_unionid", "mail": "address"}
# The address a channel sends to: caps, the one-message-a-night rule and address-level suppression
# (a do-not-contact or opt-out given for a number or email binds it for everyone who carries it)
# apply to it as well as to the person. Mail goes to a household (one piece per household).
ADDRESS_FIELD = {"sms": "phone", "phone": "phone", "email": "email", "wechat": "wechat_unionid"}
OBJECTIVES = ("acquire", "retain", "win_back")
# Why a message is sent. Service serves a contract the customer already has (a service-plan step, a
# safety check of an appliance they own); everything else (offers, greetings, win-backs) is marketing.
PURPOSES = ("marketing", "service")
# PIPL Art. 13(1) bases other than consent that the policy may name to open a channel without a
# recorded consent: (2) necessary to conclude or perform a contract the person is party to;
# (3) a statutory duty; (6) information the person made public, processed within a reasonable scope;
# (7) another law or administrative regulation. Consent itself is never a policy default: it is
# recorded per person (consents/) or shown by a list's licence.
NON_CONSENT_BASES = ("contract", "legal_duty", "public", "other_law")
STATUSES = ("customer", "lead", "prospect")
TRIGGERS = ("birthday", "wedding_anniversary", "purchase_anniversary", "service_step")
POLICY_FILE = "contact_policy.yml"

# Columns an audience condition or rank_by expression may use (int_activation__audience).
# tests/test_activation_pipeline.py checks that the model has exactly these columns.
AUDIENCE_COLUMNS: dict[str, str] = {
    "customer_id": "VARCHAR", "customer_status": "VARCHAR", "is_customer": "BOOLEAN",
    "name": "VARCHAR", "gender": "VARCHAR", "age": "INTEGER", "province": "VARCHAR", "city": "VARCHAR",
    "district": "VARCHAR", "value_tier": "VARCHAR", "mvc_subtype": "VARCHAR", "grade": "VARCHAR",
    "lifecycle_stage": "VARCHAR", "stage_since": "DATE", "rfm_segment": "VARCHAR", "r_score": "INTEGER",
    "f_score": "INTEGER", "m_score": "INTEGER", "recency_days": "INTEGER", "frequency": "INTEGER",
    "monetary": "DOUBLE", "p_alive": "DOUBLE", "clv_52w": "DOUBLE", "profit_12m": "DOUBLE",
    "share_of_wallet": "DOUBLE", "lookalike_score": "DOUBLE", "lookalike_percentile": "DOUBLE",
    "interest_categories": "VARCHAR[]", "price_style": "VARCHAR", "next_best_category": "VARCHAR",
    "list_ids": "VARCHAR[]", "is_on_purchased_list": "BOOLEAN", "last_enquiry_at": "TIMESTAMP",
    "days_since_enquiry": "INTEGER", "home_store_id": "VARCHAR", "salesperson_id": "VARCHAR",
    "response_propensity": "DOUBLE",
}
# Columns a trigger adds (int_activation__triggers), usable when the campaign has a trigger.
TRIGGER_COLUMNS: dict[str, str] = {
    "trigger_type": "VARCHAR", "occurrence_key": "VARCHAR", "event_date": "DATE", "days_until": "INTEGER",
    "category": "VARCHAR", "years": "INTEGER", "step": "VARCHAR", "order_id": "VARCHAR",
}

_ID = re.compile(r"^[a-z0-9][a-z0-9_\-]{1,63}$")
_REASON = re.compile(r"^[a-z0-9_]{1,40}$")


class CampaignError(ValueError):
    """One or more definitions are invalid; the message lists every problem with its file and campaign."""


@dataclass(frozen=True)
class Wave:
    name: str
    after_days: int = 0  # days after the previous wave was sent
    message: str = ""
    purpose: str | None = None  # marketing or service; None: the campaign's purpose


@dataclass(frozen=True)
class Trigger:
    type: str
    days_ahead: int = 7
    years: tuple[int, ...] = ()
    categories: tuple[str, ...] = ()
    steps: tuple[str, ...] = ()
    include_overdue: bool = False

    def condition(self) -> str:
        """SQL over int_activation__triggers (alias t) selecting this trigger's occurrences."""
        parts = [f"t.trigger_type = '{self.type}'"]
        low = "-100000" if self.include_overdue else "0"
        parts.append(f"t.days_until BETWEEN {low} AND {int(self.days_ahead)}")
        if self.years:
            parts.append(f"t.years IN ({', '.join(str(int(y)) for y in self.years)})")
        if self.categories:
            parts.append("t.category IN (" + ", ".join(_sql_str(c) for c in self.categories) + ")")
        if self.steps:
            parts.append("t.step IN (" + ", ".join(_sql_str(s) for s in self.steps) + ")")
        return " AND ".join(parts)


@dataclass(frozen=True)
class Campaign:
    id: str
    name: str
    objective: str
    audience: str
    channels: tuple[str, ...]
    start: date
    end: date
    priority: int
    holdout_share: float = 0.0
    max_list_size: int | None = None
    trigger: Trigger | None = None
    waves: tuple[Wave, ...] = (Wave("main"),)
    offer: dict = field(default_factory=dict)
    rank_by: str = "response_propensity"
    reason: str = ""
    send_window: tuple[time, time] | None = None
    source_file: str = ""
    definition_sha256: str = ""
    purpose: str = "marketing"

    def wave_purpose(self, index: int) -> str:
        """The purpose of wave ``index`` (0-based): its own, else the campaign's."""
        w = self.waves[min(index, len(self.waves) - 1)]
        return w.purpose or self.purpose

    @property
    def reason_code(self) -> str:
        return f"included:{self.reason or self.id.replace('-', '_')}"

    @property
    def offer_code(self) -> str | None:
        code = (self.offer or {}).get("code")
        return str(code).strip().upper() if code else None

    def is_active(self, send_date: date) -> bool:
        return self.start <= send_date <= self.end


@dataclass(frozen=True)
class ContactPolicy:
    """Rules every list obeys, every night (see campaigns/contact_policy.yml)."""

    caps: dict[str, dict[int, int]]  # channel or "total" -> {window days: max contacts}
    quiet_hours: dict[str, tuple[time, time]]  # channel -> allowed window [start, end]
    blackout_dates: dict[str, frozenset[date]]  # channel or "all" -> dates nothing goes out
    # purpose -> customer_status -> channel -> the non-consent legal basis that opens it without a
    # recorded consent (NON_CONSENT_BASES). Absent: the channel needs recorded consent (or a list licence).
    open_without_consent: dict[str, dict[str, dict[str, str]]]
    sms_signature: str = ""  # 签名 every SMS carries, e.g. 【品牌】
    sms_opt_out_text: str = ""  # how to refuse, e.g. 回T退订
    # Gateway replies to an SMS that are a refusal: the number is opted out (compared trimmed, upper-cased).
    sms_opt_out_replies: tuple[str, ...] = ("T", "TD", "N", "退订", "UNSUBSCRIBE", "STOP")
    # A list licence opens a list's permitted channels for marketing when its legal_basis is one of these.
    list_licence_bases: tuple[str, ...] = ("consent_with_transfer",)
    marketing_min_age: int = 14  # PIPL Art. 28/31: under 14 is sensitive; never on a marketing list
    marketing_unknown_age: str = "allow"  # allow or exclude people whose age is unknown
    max_campaigns_per_person_per_night: int = 1
    send_day_offset: int = 1  # lists of run date D are sent on D + this many days
    ledger_match_days: int = 3  # a sent contact within this many days of a plan is that plan

    def basis_without_consent(self, purpose: str, status: str, channel: str) -> str | None:
        """The non-consent basis the policy names for this purpose, status and channel, if any."""
        return self.open_without_consent.get(purpose, {}).get(status, {}).get(channel)

    @property
    def cap_windows(self) -> list[int]:
        return sorted({d for caps in self.caps.values() for d in caps})


def _sql_str(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


def _time(value, where: str, problems: list[str]) -> time | None:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: '{value}' is not a time of day like 09:00")
        return None


def _date(value, where: str, problems: list[str]) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.append(f"{where}: '{value}' is not a date like 2026-12-31")
        return None


def _mapping(raw: dict, key: str, where: str, problems: list[str]) -> dict:
    """A setting that must be a mapping (``key: {a: ..., b: ...}``); anything else is a problem."""
    value = raw.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        problems.append(f"{where}: {key} must be a mapping like {{sms: ..., email: ...}}, not {value!r:.80}")
        return {}
    return value


def parse_policy(raw: dict, where: str = POLICY_FILE) -> ContactPolicy:
    """Turn the policy YAML into a ContactPolicy, or raise CampaignError listing every problem."""
    problems: list[str] = []
    if raw is not None and not isinstance(raw, dict):
        raise CampaignError(f"invalid contact policy:\n  - {where}: the file must be a mapping of settings "
                            "(caps, quiet_hours, ...)")
    raw = raw or {}
    known = {"caps", "quiet_hours", "blackout_dates", "open_without_consent", "sms_signature", "sms_opt_out_text",
             "sms_opt_out_replies", "list_licence_bases", "marketing_min_age", "marketing_unknown_age",
             "max_campaigns_per_person_per_night", "send_day_offset", "ledger_match_days"}
    legacy = {"default_consent"}
    problems += [f"{where}: unknown setting '{k}'" for k in raw if k not in known | legacy]
    caps: dict[str, dict[int, int]] = {}
    for ch, windows in _mapping(raw, "caps", where, problems).items():
        if ch != "total" and ch not in CHANNELS:
            problems.append(f"{where}: caps: unknown channel '{ch}' (channels: total, {', '.join(CHANNELS)})")
            continue
        try:
            if not isinstance(windows, dict) or any(isinstance(v, bool | float) for v in (*windows, *windows.values())):
                raise TypeError(windows)
            caps[ch] = {int(d): int(n) for d, n in windows.items()}
        except (TypeError, ValueError):
            problems.append(f"{where}: caps.{ch}: give whole numbers, like {{7: 2, 30: 4}}")
            continue
        if any(d <= 0 or n < 0 for d, n in caps[ch].items()):
            problems.append(f"{where}: caps.{ch}: windows must be positive days and caps at least 0")
    quiet: dict[str, tuple[time, time]] = {}
    quiet_raw = _mapping(raw, "quiet_hours", where, problems)
    for ch in CHANNELS:
        win = quiet_raw.get(ch)
        if not isinstance(win, list) or len(win) != 2:
            problems.append(f"{where}: quiet_hours.{ch}: give the allowed send window as [start, end], "
                            "like ['09:00', '20:00']")
            continue
        a, b = _time(win[0], f"{where}: quiet_hours.{ch}", problems), _time(win[1], f"{where}: quiet_hours.{ch}",
                                                                           problems)
        if a and b:
            if a >= b:
                problems.append(f"{where}: quiet_hours.{ch}: the window start {a} must be before its end {b}")
            quiet[ch] = (a, b)
    blackout: dict[str, frozenset[date]] = {}
    for ch, days in _mapping(raw, "blackout_dates", where, problems).items():
        if ch != "all" and ch not in CHANNELS:
            problems.append(f"{where}: blackout_dates: unknown channel '{ch}'")
            continue
        parsed = [_date(d, f"{where}: blackout_dates.{ch}", problems)
                  for d in _texts(days, f"{where}: blackout_dates.{ch}", problems)]
        blackout[ch] = frozenset(d for d in parsed if d)
    if "default_consent" in raw:
        _legacy_default_consent(raw, where, problems)
    opened = _parse_open_without_consent(raw, where, problems)
    sms = _parse_sms_settings(raw, where, problems)
    bases = _texts(raw.get("list_licence_bases", ["consent_with_transfer"]), f"{where}: list_licence_bases", problems)
    unknown_age = _text(raw.get("marketing_unknown_age", "allow"), f"{where}: marketing_unknown_age", problems)
    if unknown_age not in ("allow", "exclude"):
        problems.append(f"{where}: marketing_unknown_age '{unknown_age}' must be allow or exclude")
    min_age = _whole(raw.get("marketing_min_age", 14), f"{where}: marketing_min_age", problems,
                     " (PIPL Art. 28/31: under 14 needs a guardian's consent)", minimum=14)
    ints = {}
    for key, default in (("max_campaigns_per_person_per_night", 1), ("send_day_offset", 1),
                         ("ledger_match_days", 3)):
        value = _whole(raw.get(key, default), f"{where}: {key}:", problems,
                       minimum=1 if key == "max_campaigns_per_person_per_night" else 0)
        ints[key] = default if value is None else value
    if problems:
        raise CampaignError("invalid contact policy:\n" + "\n".join(f"  - {p}" for p in problems))
    return ContactPolicy(caps=caps, quiet_hours=quiet, blackout_dates=blackout, open_without_consent=opened,
                         list_licence_bases=tuple(b.lower() for b in bases), marketing_min_age=min_age or 14,
                         marketing_unknown_age=unknown_age, **sms, **ints)


def _legacy_default_consent(raw: dict, where: str, problems: list[str]) -> None:
    """default_consent opened channels for marketing on nobody's say-so; it is refused with the way out."""
    consent_raw = _mapping(raw, "default_consent", where, problems)
    for status in STATUSES:
        chans = _texts(consent_raw.get(status), f"{where}: default_consent.{status}", problems)
        bad = [c for c in chans if c not in CHANNELS]
        if bad:
            problems.append(f"{where}: default_consent.{status}: unknown channel(s) {bad}")
    problems.append(f"{where}: default_consent is no longer read: marketing needs recorded consent; to open a "
                    "channel without it, name the legal basis under open_without_consent, e.g. "
                    "open_without_consent: {service: {customer: {sms: contract}}}")


def _parse_open_without_consent(raw: dict, where: str, problems: list[str]) -> dict[str, dict[str, dict[str, str]]]:
    """purpose -> status -> channel -> basis; every key and basis checked against its enumeration."""
    out: dict[str, dict[str, dict[str, str]]] = {p: {} for p in PURPOSES}
    at = f"{where}: open_without_consent"
    for purpose, by_status in _mapping(raw, "open_without_consent", where, problems).items():
        if purpose not in PURPOSES:
            problems.append(f"{at}: unknown purpose '{purpose}' (purposes: {', '.join(PURPOSES)})")
            continue
        if by_status is None:
            continue
        if not isinstance(by_status, dict):
            problems.append(f"{at}.{purpose} must map a status to channels and bases, like "
                            "{customer: {sms: contract}}")
            continue
        for status, chans in by_status.items():
            if status not in STATUSES:
                problems.append(f"{at}.{purpose}: unknown status '{status}' (statuses: {', '.join(STATUSES)})")
                continue
            if chans is None:
                continue
            if not isinstance(chans, dict):
                problems.append(f"{at}.{purpose}.{status} must map channels to a legal basis, like "
                                "{sms: contract}")
                continue
            for ch, basis in chans.items():
                if ch not in CHANNELS:
                    problems.append(f"{at}.{purpose}.{status}: unknown channel '{ch}'")
                elif not isinstance(basis, str) or basis.strip() not in NON_CONSENT_BASES:
                    problems.append(f"{at}.{purpose}.{status}.{ch}: basis {basis!r:.40} must be one of "
                                    f"{', '.join(NON_CONSENT_BASES)} (consent is recorded per person, never "
                                    "assumed)")
                else:
                    out[purpose].setdefault(status, {})[ch] = basis.strip()
    return out


_SIGNATURE = re.compile(r"^【[^【】\s]{2,16}】$")


def _parse_sms_settings(raw: dict, where: str, problems: list[str]) -> dict:
    """Signature (【品牌】) and refusal text every SMS carries, and the replies that are refusals."""
    signature = _text(raw.get("sms_signature", ""), f"{where}: sms_signature", problems)
    if not _SIGNATURE.match(signature):
        problems.append(f"{where}: sms_signature '{signature}' must be the sender's name in 【】, like 【品牌】: "
                        "every commercial SMS names its sender")
    text = _text(raw.get("sms_opt_out_text", ""), f"{where}: sms_opt_out_text", problems)
    if "退订" not in text:
        problems.append(f"{where}: sms_opt_out_text '{text}' must tell how to refuse, like 回T退订")
    replies = _texts(raw.get("sms_opt_out_replies", list(ContactPolicy.sms_opt_out_replies)),
                     f"{where}: sms_opt_out_replies", problems)
    return {"sms_signature": signature, "sms_opt_out_text": text,
            "sms_opt_out_replies": tuple(sorted({r.strip().upper() for r in replies if r.strip()}))}


# ---------------------------------------------------------------------------------------------
# Audience SQL: one plain expression over the declared columns, checked where it can touch nothing.
#
# A campaign's ``audience`` and ``rank_by`` are pasted into the planner's SELECT (policy.py) on the
# warehouse connection, so the check here is the gate: the text must parse as exactly one
# expression (no second statement, no comment, no FROM, no subquery, no table function), every
# function in it must be a side-effect-free scalar function of DuckDB's own, and every column one
# of the declared ones. Only then is it bound, on a connection with file access, extensions and
# configuration changes switched off, against an empty row of the declared columns.

SQL_MAX_CHARS = 2000
_SAFE_CONFIG = {"enable_external_access": False, "autoload_known_extensions": False,
                "autoinstall_known_extensions": False, "allow_community_extensions": False,
                "lock_configuration": True}
# Expression node classes a condition may contain (DuckDB's parse tree, json_serialize_sql).
_SAFE_CLASSES = {"CONJUNCTION", "COMPARISON", "OPERATOR", "CONSTANT", "COLUMN_REF", "FUNCTION", "CAST", "CASE",
                 "BETWEEN", "LAMBDA", "COLLATE", "TYPE"}
# Scalar functions that read the session rather than the row (settings, variables, catalog).
_SESSION_FUNCTIONS = {"current_setting", "getvariable", "current_database", "current_schema", "current_schemas",
                      "in_search_path", "txid_current", "json_serialize_sql", "json_deserialize_sql",
                      "parse_duckdb_log_message", "generate_series", "range"}
# Built-in macros that are plain value functions (the other macros describe the session: pg_*, has_*, user ...).
_VALUE_MACROS = re.compile(r"^(list_\w+|array_\w+|map_contains_\w+|if|nullif|date_add|days_in_month|split_part|fdiv)$")


def _safe_connection():
    """An in-memory DuckDB that cannot read or write files, load extensions or change its own settings."""
    import duckdb

    return duckdb.connect(":memory:", config=dict(_SAFE_CONFIG))


_allowed_functions: frozenset[str] | None = None


def allowed_functions() -> frozenset[str]:
    """DuckDB's deterministic, side-effect-free scalar functions (and value macros): all a condition may call."""
    global _allowed_functions
    if _allowed_functions is None:
        con = _safe_connection()
        try:
            rows = con.execute("""SELECT DISTINCT function_name, function_type FROM duckdb_functions()
                WHERE (function_type = 'scalar' AND NOT coalesce(has_side_effects, false)
                       AND stability IN ('CONSISTENT', 'CONSISTENT_WITHIN_QUERY'))
                   OR function_type = 'macro'""").fetchall()
        finally:
            con.close()
        _allowed_functions = frozenset(
            name for name, kind in rows
            if name not in _SESSION_FUNCTIONS and (kind == "scalar" or _VALUE_MACROS.match(name)))
    return _allowed_functions


def _token_problem(expr: str) -> str | None:
    """Comments, statement separators and unbalanced parentheses: ways to leave the expression."""
    import duckdb

    try:
        tokens = duckdb.tokenize(expr)
    except duckdb.Error as e:
        return str(e).splitlines()[0]
    raw = expr.encode("utf-8")  # token positions are byte offsets
    depth = 0
    for i, (pos, kind) in enumerate(tokens):
        end = tokens[i + 1][0] if i + 1 < len(tokens) else len(raw)
        text = raw[pos:end].decode("utf-8", errors="replace").strip()
        if kind == duckdb.token_type.comment:
            return "comments are not allowed in a condition"
        if kind in (duckdb.token_type.string_const, duckdb.token_type.numeric_const):
            continue
        if ";" in text:
            return "';' is not allowed: a condition is one expression, not statements"
        depth += text.count("(") - text.count(")")
        if depth < 0:
            return "a ')' closes a parenthesis that was never opened"
    return "a '(' is never closed" if depth else None


def _tree_problem(node, allowed: frozenset[str]) -> str | None:
    """Walk the parse tree: only expression nodes of the safe classes, functions from ``allowed``."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        if item.get("type") in ("SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE") or "subquery" in item:
            return "a subquery (SELECT inside the condition) is not allowed"
        cls = item.get("class")
        if cls is not None and cls not in _SAFE_CLASSES:
            what = {"SUBQUERY": "a subquery", "STAR": "'*' or COLUMNS(...)", "WINDOW": "a window or aggregate",
                    "PARAMETER": "a parameter"}.get(cls, f"a {cls.lower()} expression")
            return f"{what} is not allowed in a condition"
        if cls in ("FUNCTION", "TYPE") and (item.get("schema") or item.get("catalog")):
            name = item.get("function_name") or item.get("type_name")
            return f"'{item.get('catalog') or item.get('schema')}.{name}' is not allowed: " \
                   "use DuckDB's built-in functions and types by their plain name"
        if cls == "FUNCTION":
            name = str(item.get("function_name", ""))
            if name.lower() not in allowed:
                return f"function '{name}' is not allowed (only side-effect-free scalar functions)"
            if item.get("filter") or (item.get("order_bys") or {}).get("orders") or item.get("distinct"):
                return f"'{name}' is used as an aggregate; a condition is evaluated per person"
        if cls == "COLUMN_REF" and len(item.get("column_names") or []) != 1:
            return f"column '{'.'.join(item['column_names'])}' must be named without a table or schema"
        stack.extend(v for k, v in item.items() if isinstance(v, dict | list))
    return None


def _parse_problem(expr: str, con) -> str | None:
    """Parse ``SELECT (expr)`` (the text passed as a value, never run) and insist on one bare expression."""
    wrapped = f"SELECT (\n{expr}\n)"
    tree = json.loads(con.execute("SELECT json_serialize_sql(?)", [wrapped]).fetchall()[0][0])
    if tree.get("error"):
        return str(tree.get("error_message", "cannot be parsed")).splitlines()[0]
    statements = tree.get("statements") or []
    if len(statements) != 1:
        return "must be one expression, not several statements"
    node = statements[0].get("node") or {}
    if node.get("type") != "SELECT_NODE":
        return "must be one expression (no UNION or other set operation)"
    extras = [k for k in ("where_clause", "having", "qualify", "sample") if node.get(k)]
    if (len(node.get("select_list") or []) != 1 or (node.get("from_table") or {}).get("type") != "EMPTY"
            or extras or node.get("group_expressions") or node.get("modifiers")
            or (node.get("cte_map") or {}).get("map")):
        return "must be one expression (no FROM, WHERE, ORDER BY, ',' or other clauses around it)"
    if node["select_list"][0].get("alias"):
        return "must be one expression (no AS alias)"
    return _tree_problem(node["select_list"][0], allowed_functions())


_NUMERIC = re.compile(r"^(BOOLEAN|TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|"
                      r"UHUGEINT|FLOAT|DOUBLE|DECIMAL\(\d+,\d+\))$")


def _type_problem(expr: str, columns: dict[str, str], what: str, con) -> str | None:
    """Bind the (already vetted) expression over an empty row of ``columns``: unknown columns, wrong types.

    An audience must be true or false per person; rank_by must be a number the planner can sort by.
    """
    import duckdb

    cols = ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items())
    try:
        kind = con.execute(f"DESCRIBE SELECT (\n{expr}\n) AS v FROM (SELECT {cols}) AS x").fetchall()[0][1]
    except duckdb.Error as e:
        return str(e).splitlines()[0]
    if what == "audience" and kind != "BOOLEAN":
        return f"it gives {kind}, but an audience must be true or false for each person"
    if what == "rank_by" and not _NUMERIC.match(kind):
        return f"it gives {kind}, but rank_by must be a number (higher ranks first)"
    return None


def _check_sql(expr: str, columns: dict[str, str], what: str) -> str | None:
    """Why ``expr`` may not be used as the campaign's ``what`` (audience or rank_by), or None when it may.

    The expression is parsed, never run, until it is known to be one plain expression; then it is
    bound (DESCRIBE, nothing evaluated) on a locked-down connection whose only data is an empty
    row of ``columns``, to name unknown columns and check its type.
    """
    if not expr.strip():
        return f"{what} is empty"
    if len(expr) > SQL_MAX_CHARS:
        return f"{what} is {len(expr):,} characters long; at most {SQL_MAX_CHARS:,} are allowed"
    con = _safe_connection()
    try:
        problem = _token_problem(expr) or _parse_problem(expr, con) or _type_problem(expr, columns, what, con)
    finally:
        con.close()
    return f"{what} `{expr}` does not work: {problem}" if problem else None


def vet_campaign_sql(c: Campaign) -> None:
    """Check a campaign's audience and rank_by again just before they are pasted into SQL; raise if unsafe.

    ``parse_campaign`` already checks them, but a Campaign can be built in code; the planner calls
    this so that nothing but a vetted expression ever reaches the warehouse connection.
    """
    columns = {**AUDIENCE_COLUMNS, **(TRIGGER_COLUMNS if c.trigger else {})}
    problems = [p for p in (_check_sql(c.audience, columns, "audience"), _check_sql(c.rank_by, columns, "rank_by"))
                if p]
    if problems:
        raise CampaignError("\n".join(f"{c.source_file or '?'} (campaign '{c.id}'): {p}" for p in problems))


_FIELDS = {"id", "name", "objective", "audience", "channels", "start", "end", "priority", "holdout_share",
           "max_list_size", "trigger", "waves", "offer", "rank_by", "reason", "send_window", "description", "owner",
           "purpose"}


def _whole(value, where: str, problems: list[str], hint: str = "", minimum: int | None = None) -> int | None:
    """A whole number (or a string of one); a bool, fraction, list or text is a problem naming ``where``."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
        value, ok = int(value), True
    if not ok or (minimum is not None and value < minimum):
        floor = f" of at least {minimum}" if minimum is not None else ""
        problems.append(f"{where} '{value}' must be a whole number{floor}{hint}")
        return None
    return value


def _text(value, where: str, problems: list[str]) -> str:
    """A setting that must be a single piece of text (a number or true/false reads as its text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value).strip()
    problems.append(f"{where} must be a single value, not {type(value).__name__} {value!r:.80}")
    return ""


def _texts(value, where: str, problems: list[str]) -> list[str]:
    """A list of plain values (one value alone counts as a list of one)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    bad = [v for v in items if isinstance(v, list | dict | bool) or v is None]
    if bad:
        problems.append(f"{where} must be a list of plain values, like [a, b]; {bad[0]!r:.80} is not one")
        return []
    return [str(v).strip() for v in items]


def _parse_channels(raw: dict, at: str, problems: list[str]) -> list[str]:
    channels = _texts(raw.get("channels"), f"{at}: channels", problems)
    for ch in channels:
        if ch not in CHANNELS:
            problems.append(f"{at}: channel '{ch}' is not one of {', '.join(CHANNELS)}")
    if len(set(channels)) != len(channels):
        problems.append(f"{at}: a channel is listed twice in {channels}")
    return channels


def _parse_trigger(value, at: str, problems: list[str]) -> Trigger | None:
    t = value if isinstance(value, dict) else {"type": value}
    unknown = set(map(str, t)) - {"type", "days_ahead", "years", "categories", "steps", "include_overdue"}
    problems += [f"{at}: trigger: unknown setting '{k}'" for k in sorted(unknown)]
    kind = t.get("type")
    if not isinstance(kind, str) or kind not in TRIGGERS:
        problems.append(f"{at}: trigger type '{kind}' must be one of {', '.join(TRIGGERS)}")
        return None
    n = len(problems)
    days = _whole(t.get("days_ahead", 7), f"{at}: trigger.days_ahead", problems, minimum=0)
    years = [_whole(y, f"{at}: trigger.years:", problems, minimum=1)
             for y in (t["years"] if isinstance(t.get("years"), list) else [t["years"]] if t.get("years") else [])]
    categories = _texts(t.get("categories"), f"{at}: trigger.categories", problems)
    steps = _texts(t.get("steps"), f"{at}: trigger.steps", problems)
    overdue = t.get("include_overdue", False)
    if not isinstance(overdue, bool):
        problems.append(f"{at}: trigger.include_overdue '{overdue}' must be true or false")
    if len(problems) > n:
        return None
    return Trigger(type=kind, days_ahead=days, years=tuple(years), categories=tuple(categories), steps=tuple(steps),
                   include_overdue=overdue)


def _parse_waves(value, at: str, problems: list[str]) -> list[Wave]:
    if value is None:
        return [Wave("main")]
    if not isinstance(value, list):
        problems.append(f"{at}: waves must be a list like [{{name: first}}, {{name: reminder, after_days: 7}}]")
        return []
    waves = []
    for i, w in enumerate(value):
        if not isinstance(w, dict) or not w.get("name") or isinstance(w.get("name"), list | dict):
            problems.append(f"{at}: wave {i + 1} needs a name")
            continue
        after = w.get("after_days", 0)
        if isinstance(after, bool) or not isinstance(after, int) or after < 0 or (i > 0 and after < 1):
            problems.append(f"{at}: wave '{w['name']}': after_days must be a whole number of days, at least 1 "
                            "after the first wave")
            after = 0
        purpose = w.get("purpose")
        if purpose is not None and purpose not in PURPOSES:
            problems.append(f"{at}: wave '{w['name']}': purpose '{purpose}' must be one of {', '.join(PURPOSES)}")
            purpose = None
        waves.append(Wave(str(w["name"]), after, _text(w.get("message", ""), f"{at}: wave '{w['name']}': message",
                                                        problems), purpose))
    return waves


def _parse_numbers(raw: dict, at: str, problems: list[str]) -> tuple[int, float, int | None]:
    """priority, holdout_share and max_list_size, each checked for its type and range."""
    priority = _whole(raw.get("priority", 0), f"{at}: priority", problems, " (higher goes first)")
    holdout = raw.get("holdout_share", 0.0)
    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or not 0 <= holdout < 1:
        problems.append(f"{at}: holdout_share '{holdout}' must be a number from 0 up to (not including) 1")
        holdout = 0.0
    cap = raw.get("max_list_size")
    if cap is not None and (isinstance(cap, bool) or not isinstance(cap, int) or cap <= 0):
        problems.append(f"{at}: max_list_size '{cap}' must be a positive whole number")
        cap = None
    return priority or 0, float(holdout), cap


def _parse_window(value, channels: list[str], policy: ContactPolicy, at: str,
                  problems: list[str]) -> tuple[time, time] | None:
    if not isinstance(value, list | tuple) or len(value) != 2:
        problems.append(f"{at}: send_window must be [start, end], like ['10:00', '12:00']")
        return None
    a, b = _time(value[0], f"{at}: send_window", problems), _time(value[1], f"{at}: send_window", problems)
    if not (a and b):
        return None
    for ch in channels:
        q = policy.quiet_hours.get(ch)
        if q and (a < q[0] or b > q[1] or a >= b):
            problems.append(f"{at}: send_window {a:%H:%M}-{b:%H:%M} falls in {ch}'s quiet hours "
                            f"(allowed {q[0]:%H:%M}-{q[1]:%H:%M})")
    return a, b


def parse_campaign(raw: dict, source: str, policy: ContactPolicy, text: str = "") -> tuple[Campaign | None, list[str]]:
    """One campaign from its YAML mapping; returns (campaign, problems). Problems name the file and campaign."""
    if not isinstance(raw, dict):
        return None, [f"{source}: a campaign file must be a mapping of settings (id, audience, channels ...)"]
    cid = str(raw.get("id", "")).strip()[:80]
    at = f"{source} (campaign '{cid or '?'}')"
    problems: list[str] = []
    problems += [f"{at}: unknown setting '{k}'" for k in raw if k not in _FIELDS]
    if not _ID.match(cid):
        problems.append(f"{at}: id must be 2-64 lower-case letters, digits, '_' or '-'")
    for req in ("name", "objective", "audience", "channels", "start", "end", "priority"):
        if raw.get(req) is None or raw.get(req) == "" or raw.get(req) == []:
            problems.append(f"{at}: '{req}' is required")
    name = _text(raw.get("name", ""), f"{at}: name", problems)
    objective = _text(raw.get("objective", ""), f"{at}: objective", problems)
    if objective and objective not in OBJECTIVES:
        problems.append(f"{at}: objective '{objective}' must be one of {', '.join(OBJECTIVES)}")
    channels = _parse_channels(raw, at, problems)
    start = _date(raw.get("start"), f"{at}: start", problems) if raw.get("start") else None
    end = _date(raw.get("end"), f"{at}: end", problems) if raw.get("end") else None
    if start and end and end < start:
        problems.append(f"{at}: end {end} is before start {start}")
    priority, holdout, cap = _parse_numbers(raw, at, problems)
    trigger = _parse_trigger(raw["trigger"], at, problems) if raw.get("trigger") is not None else None
    waves = _parse_waves(raw.get("waves"), at, problems)
    reason = _text(raw.get("reason", ""), f"{at}: reason", problems)
    if reason and not _REASON.match(reason):
        problems.append(f"{at}: reason '{reason}' must be lower-case letters, digits and '_' (it becomes "
                        f"'included:{reason}')")
    columns = {**AUDIENCE_COLUMNS, **(TRIGGER_COLUMNS if trigger else {})}
    audience = _text(raw.get("audience", ""), f"{at}: audience", problems)
    if audience:
        problem = _check_sql(audience, columns, "audience")
        if problem:
            problems.append(f"{at}: {problem}")
    rank_by = _text(raw.get("rank_by") or "response_propensity", f"{at}: rank_by", problems)
    problem = _check_sql(rank_by, columns, "rank_by") if rank_by else None
    if problem:
        problems.append(f"{at}: {problem}")
    window = _parse_window(raw["send_window"], channels, policy, at, problems) if raw.get("send_window") else None
    # Without a purpose a campaign is marketing: the stricter class (it needs consent or a named basis).
    purpose = _text(raw.get("purpose", "marketing"), f"{at}: purpose", problems)
    if purpose not in PURPOSES:
        problems.append(f"{at}: purpose '{purpose}' must be marketing or service (service: a message that serves a "
                        "contract the customer has, like a service-plan step or a safety check; the rest is "
                        "marketing)")
    offer = raw.get("offer") or {}
    if not isinstance(offer, dict):
        problems.append(f"{at}: offer must be a mapping like {{code: BDAY26, description: ...}}")
        offer = {}
    if problems:
        return None, problems
    digest = hashlib.sha256((text or json.dumps(raw, sort_keys=True, default=str)).encode("utf-8")).hexdigest()
    return Campaign(
        id=cid, name=name, objective=objective, audience=audience, channels=tuple(channels),
        start=start, end=end, priority=priority, holdout_share=holdout, max_list_size=cap,
        trigger=trigger, waves=tuple(waves), offer=offer, rank_by=rank_by, reason=reason, send_window=window,
        source_file=source, definition_sha256=digest, purpose=purpose,
    ), []


MAX_FILE_BYTES = 256 * 1024  # a campaign or policy file is a page of settings, never megabytes
MAX_ALIASES = 50  # anchors (&x) and aliases (*x) may share a block or two, not multiply a document
MAX_NODES = 20_000  # values in the document once every alias is expanded


class _CampaignYamlLoader(yaml.SafeLoader):
    """SafeLoader that counts aliases while composing and leaves dates as text.

    A "billion laughs" file is a few hundred bytes whose aliases expand to billions of values;
    PyYAML builds it as a shared graph, and the first str() or json.dumps of it takes gigabytes.
    Counting aliases as they are read and the expanded size before anything is constructed stops
    it in a few kilobytes. Dates stay strings so a bad one (2026-13-01) is reported by ``_date``
    with its file and field instead of a bare ValueError from the YAML constructor.
    """

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}

    def __init__(self, stream) -> None:
        super().__init__(stream)
        self.aliases_seen = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            self.aliases_seen += 1
            if self.aliases_seen > MAX_ALIASES:
                raise CampaignError(f"uses more than {MAX_ALIASES} aliases (*name); write the settings out")
        return super().compose_node(parent, index)


def _expanded_size(root: yaml.Node) -> int:
    """How many values the document holds with every alias expanded (a shared node counts each time).

    Capped at MAX_NODES + 1; an alias that refers to its own ancestor (``&a [*a]``) is infinite.
    """
    done: dict[int, int] = {}
    open_nodes: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:  # depth-first without recursion; a node's size is summed when it is left
        node, leaving = stack.pop()
        if leaving:
            open_nodes.discard(id(node))
            done[id(node)] = min(1 + sum(done[id(c)] for c in _children(node)), MAX_NODES + 1)
        elif id(node) in open_nodes:
            return MAX_NODES + 1
        elif id(node) not in done:
            open_nodes.add(id(node))
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node))
    return done[id(root)]


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def read_yaml(path: Path):
    """Load one campaign or policy file safely: size, aliases and nesting limited; errors name the file."""
    with open(path, "rb") as f:
        data = f.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise CampaignError(f"{path}: the file is larger than {MAX_FILE_BYTES // 1024} KB; a campaign file is a "
                            "page of settings")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CampaignError(f"{path}: not UTF-8 text (byte {e.start}): save it as UTF-8") from e
    loader = _CampaignYamlLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None and _expanded_size(node) > MAX_NODES:
            raise CampaignError(f"expands to more than {MAX_NODES:,} values through anchors and aliases")
        return (loader.construct_document(node) if node is not None else None), text
    except CampaignError as e:
        raise CampaignError(f"{path}: {e}") from None
    except yaml.YAMLError as e:
        raise CampaignError(f"{path}: not valid YAML: {e}") from e
    except RecursionError:
        raise CampaignError(f"{path}: nested too deeply to be a campaign file") from None
    except (ValueError, TypeError, OverflowError) as e:  # a value the constructor cannot build (!!timestamp ...)
        raise CampaignError(f"{path}: a value cannot be read: {e}") from e
    finally:
        loader.dispose()


def load_policy(folder: Path) -> ContactPolicy:
    path = Path(folder) / POLICY_FILE
    if not path.is_file():
        raise CampaignError(f"no contact policy: {path} is missing (copy campaigns/{POLICY_FILE} from the repo)")
    raw, _ = read_yaml(path)
    return parse_policy(raw, str(path))


def load_campaigns(folder: Path | str) -> tuple[list[Campaign], ContactPolicy]:
    """Every ``*.yml``/``*.yaml`` campaign in ``folder`` (policy file aside), checked; raises CampaignError."""
    folder = Path(folder)
    if not folder.is_dir():
        raise CampaignError(f"campaign folder {folder} does not exist")
    policy = load_policy(folder)
    campaigns: list[Campaign] = []
    problems: list[str] = []
    for path in sorted([*folder.glob("*.yml"), *folder.glob("*.yaml")]):
        if path.name == POLICY_FILE:
            continue
        try:
            raw, text = read_yaml(path)
        except CampaignError as e:
            problems.append(str(e))
            continue
        campaign, found = parse_campaign(raw, str(path), policy, text)
        problems += found
        if campaign:
            campaigns.append(campaign)
    seen: dict[str, str] = {}
    for c in campaigns:
        if c.id in seen:
            problems.append(f"{c.source_file} (campaign '{c.id}'): the same id is already used in {seen[c.id]}")
        seen[c.id] = c.source_file
    if problems:
        raise CampaignError(f"{len(problems)} problem(s) in the campaign definitions:\n"
                            + "\n".join(f"  - {p}" for p in problems))
    return sorted(campaigns, key=lambda c: (-c.priority, c.id)), policy


def campaigns_folder(configured: str | Path | None = None) -> Path:
    """The campaign folder: the configured one (var campaigns_dir), else $BULLSEYE_CAMPAIGNS, else the repo's."""
    import os

    configured = configured if configured and str(configured).strip() else os.environ.get("BULLSEYE_CAMPAIGNS")
    if configured and str(configured).strip():
        return Path(configured).expanduser().resolve()
    from bullseye.config import PROJECT_ROOT

    return PROJECT_ROOT / "campaigns"
