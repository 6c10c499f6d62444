"""Why is this person on tonight's lists, or not? One answer per person and campaign.

"Why is she not on the list?" used to need SQL, and the people no audience selected had no answer at all
(marts.contact_decisions only holds candidates). For each campaign of a night this module says, per person:

- included (channel, wave, holdout or not), excluded or deferred, with the planner's reason and detail
  (marts.contact_decisions);
- not a candidate: the campaign was not active on the send date; or, for a trigger campaign, the person has
  no occasion of that trigger in its window; or which top-level AND clause of the campaign's audience
  condition failed, with the person's values for that clause's columns.

The campaigns are the ones the night planned with (settings.campaigns, bullseye.activation.night_settings),
not the YAML files as they are now. Audience conditions are evaluated on the night's audience rows
(intermediate.int_activation__audience, joined with int_activation__triggers for a trigger campaign) exactly as
the planner selects candidates (bullseye.activation.policy): each clause is split off the vetted condition with
sqlglot and evaluated alone, so a clause that is NULL (grade <> 'D' for a person without a grade) counts as
failed, as it does in the planner's WHERE.

The warehouse keeps only the latest night's audience and settings: for an earlier night the decisions are
answered and the people no audience selected are said to be unexplained, never guessed.

:func:`find_people` turns what an operator types (a phone in any written form, an email, a customer id or a
name) into customer ids; :func:`explain` answers for many people at once (the night report calls it).
Nothing here logs the person: the lookup value is personal data (PIPL).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import duckdb
import sqlglot
from sqlglot import exp

from bullseye import normalize
from bullseye.activation import night_settings
from bullseye.activation.campaigns import NOT_EXPORTABLE, Campaign, vet_campaign_sql

AUDIENCE = "intermediate.int_activation__audience"
TRIGGERS = "intermediate.int_activation__triggers"
DECISIONS = "marts.contact_decisions"
LINEAGE = "intermediate.int_identity__id_lineage"
IDENTITY_MAP = "marts.customer_identity_map"
IDENTITY_KEYS = "intermediate.int_identity__keys"
IDENTITY_RECORDS = "intermediate.int_identity__records"
_PHONE_TEXT = set("0123456789+-() ./")
# Audience columns whose values say who the person is or where they live: the night report shows "…" instead
# (the lists never export them either: campaigns.NOT_EXPORTABLE); `bullseye lists why` shows them to its operator.
PERSONAL_VALUES = NOT_EXPORTABLE | {"birth_date", "phone", "email", "address"}


class WhyError(ValueError):
    """The question cannot be answered (no night, nobody found); the message says what to do."""


@dataclass(frozen=True)
class Person:
    customer_id: str
    name: str | None


@dataclass(frozen=True)
class Answer:
    """One person and one campaign of the night: the outcome and why."""

    customer_id: str
    campaign_id: str
    outcome: str  # included, excluded, deferred, not a candidate, not active, unknown
    why: str


def _has(con: duckdb.DuckDBPyConnection, relation: str) -> bool:
    schema, table = relation.split(".")
    return con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                       [schema, table]).fetchall()[0][0] > 0


def latest_night(con: duckdb.DuckDBPyConnection) -> date:
    """The latest run date with decisions (or, before any decision, the stored settings' night)."""
    for relation, col in ((DECISIONS, "run_date"), (night_settings.TABLE, "as_of")):
        if _has(con, relation):
            row = con.execute(f"SELECT max({col}) FROM {relation}").fetchall()
            if row and row[0][0] is not None:
                return row[0][0] if isinstance(row[0][0], date) else date.fromisoformat(str(row[0][0])[:10])
    raise WhyError("this warehouse has no night with lists yet: run `bullseye run` first")


# --- who is meant --------------------------------------------------------------------------------------------

def lookup_kind(text: str) -> str:
    """How ``text`` names a person: email (has @), phone (only digits and phone punctuation, readable as a
    phone), else customer id or name (both are tried)."""
    value = text.strip()
    if "@" in value:
        return "email"
    if value and set(value) <= _PHONE_TEXT and normalize.phone_e164(value):
        return "phone"
    return "id_or_name"


def find_people(con: duckdb.DuckDBPyConnection, text: str) -> list[Person]:
    """Tonight's people a phone (any written form, normalised as the loader does), email, customer id or name
    names. A phone, email or name may name several people (a family's phone): all are returned."""
    kind = lookup_kind(text)
    ids: set[str] = set()
    if kind in ("phone", "email"):
        key = normalize.phone_e164(text) if kind == "phone" else normalize.email_norm(text)
        if key is None:
            raise WhyError(f"cannot read the {kind} given")
        ids = _ids_by_key(con, kind, key)
    else:
        ids = _ids_by_customer_id(con, text.strip())
        if not ids:
            name = normalize.person_name(text)
            if name:
                ids = _ids_by_name(con, name)
    if not ids:
        return []
    rows = con.execute(f"SELECT customer_id, name FROM {AUDIENCE} WHERE customer_id IN "
                       f"({', '.join('?' * len(ids))})", sorted(ids)).fetchall() if _has(con, AUDIENCE) else []
    names = dict(rows)
    return [Person(cid, names.get(cid)) for cid in sorted(ids)]


def _current(con: duckdb.DuckDBPyConnection, ids: set[str]) -> set[str]:
    """Tonight's ids of ``ids`` (an id merged away is followed to the person it is now part of)."""
    if not ids or not _has(con, LINEAGE):
        return ids
    marks = ", ".join("?" * len(ids))
    rows = con.execute(f"SELECT customer_id, current_customer_id FROM {LINEAGE} WHERE customer_id IN ({marks})",
                       sorted(ids)).fetchall()
    moved = dict(rows)
    return {moved.get(i) or i for i in ids}


def _ids_by_key(con: duckdb.DuckDBPyConnection, kind: str, key: str) -> set[str]:
    """People one of whose records carries the phone or email (identity keys and records, as loaded)."""
    ids: set[str] = set()
    if _has(con, IDENTITY_MAP):
        for relation, where in ((IDENTITY_KEYS, "k.key_type = ? AND k.key_value = ?"),
                                (IDENTITY_RECORDS, f"k.{kind} = ?")):
            if _has(con, relation):
                params = [kind, key] if relation == IDENTITY_KEYS else [key]
                ids |= {r[0] for r in con.execute(
                    f"SELECT DISTINCT m.customer_id FROM {relation} k JOIN {IDENTITY_MAP} m "
                    f"USING (source, source_record_id) WHERE {where}", params).fetchall()}
    if _has(con, AUDIENCE):
        ids |= {r[0] for r in con.execute(f"SELECT customer_id FROM {AUDIENCE} WHERE {kind} = ?", [key]).fetchall()}
    return _current(con, ids)


def _ids_by_customer_id(con: duckdb.DuckDBPyConnection, value: str) -> set[str]:
    ids = _current(con, {value}) if _has(con, LINEAGE) else {value}
    if not _has(con, AUDIENCE):
        return set()
    marks = ", ".join("?" * len(ids))
    return {r[0] for r in con.execute(f"SELECT customer_id FROM {AUDIENCE} WHERE customer_id IN ({marks})",
                                      sorted(ids)).fetchall()}


def _ids_by_name(con: duckdb.DuckDBPyConnection, name: str) -> set[str]:
    """People tonight's audience names so, or one of whose records was delivered with that name."""
    ids: set[str] = set()
    if _has(con, AUDIENCE):
        ids |= {r[0] for r in con.execute(f"SELECT customer_id FROM {AUDIENCE} WHERE name = ?", [name]).fetchall()}
    if _has(con, IDENTITY_RECORDS) and _has(con, IDENTITY_MAP):
        ids |= {r[0] for r in con.execute(
            f"SELECT DISTINCT m.customer_id FROM {IDENTITY_RECORDS} k JOIN {IDENTITY_MAP} m "
            f"USING (source, source_record_id) WHERE k.name = ?", [name]).fetchall()}
    return _current(con, ids)


# --- why -----------------------------------------------------------------------------------------------------

def audience_clauses(condition: str) -> list[str]:
    """The top-level AND clauses of an audience condition, as DuckDB SQL (sqlglot's parse tree; parentheses
    around the whole condition are looked through, an OR is one clause)."""
    tree = sqlglot.parse_one(condition, read="duckdb")
    while isinstance(tree, exp.Paren):
        tree = tree.this
    parts = tree.flatten(unnest=False) if isinstance(tree, exp.And) else [tree]
    return [p.sql(dialect="duckdb") for p in parts]


def _clause_columns(clause: str) -> list[str]:
    seen: list[str] = []
    for col in sqlglot.parse_one(clause, read="duckdb").find_all(exp.Column):
        if col.name not in seen:
            seen.append(col.name)
    return seen


def _decisions(con: duckdb.DuckDBPyConnection, night: date, ids: list[str]) -> dict[tuple[str, str], tuple]:
    if not _has(con, DECISIONS):
        return {}
    rows = con.execute(f"""SELECT customer_id, campaign_id, decision, reason, detail, channel, wave, wave_name,
            is_holdout FROM {DECISIONS} WHERE run_date = ? AND customer_id IN ({', '.join('?' * len(ids))})""",
                       [night, *ids]).fetchall()
    return {(r[0], r[1]): r for r in rows}


def _decision_text(row: tuple) -> tuple[str, str]:
    _, _, decision, reason, detail, channel, wave, wave_name, holdout = row
    if decision == "included":
        wave_text = f"wave {wave}" + (f" ({wave_name})" if wave_name else "") if wave is not None else ""
        holdout_text = "holdout: kept on the list, not contacted" if holdout else "contacted"
        return "included", "; ".join(t for t in (f"{channel}", wave_text, holdout_text, reason) if t)
    return decision, "; ".join(t for t in (reason, detail) if t)


def _show(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _failed(clause: str, cols: list[str], ok: object, values: dict[str, object], masked: bool = False) -> str:
    """One failed clause with the person's values of its columns; NULL fails as the planner's WHERE does.
    ``masked`` (the night report) hides the values of personal columns (name, age, gender, where they live)."""
    shown = ", ".join(f"{col}={'…' if masked and col in PERSONAL_VALUES else _show(values[col])}" for col in cols)
    return f"`{clause}` is {'unknown (NULL)' if ok is None else 'false'}" + (f" ({shown})" if shown else "")


def _source(c: Campaign) -> str:
    """The rows the planner evaluates a campaign's audience on (policy._candidates_sql): the audience, joined
    with the trigger's occasions in its window for a trigger campaign."""
    if c.trigger:
        return (f"(SELECT a.*, t.* EXCLUDE (customer_id) FROM {AUDIENCE} a JOIN {TRIGGERS} t "
                f"ON t.customer_id = a.customer_id AND {c.trigger.condition()})")
    return f"(SELECT a.* FROM {AUDIENCE} a)"


def _not_selected(con: duckdb.DuckDBPyConnection, c: Campaign, ids: list[str],
                  masked: bool = False) -> dict[str, tuple[str, str]]:
    """Why the audience of ``c`` did not select each of ``ids``: (outcome, why) per person."""
    vet_campaign_sql(c)  # the condition is pasted into SQL: the same gate as the planner's
    clauses = audience_clauses(c.audience)
    columns = [_clause_columns(cl) for cl in clauses]
    wanted = sorted({col for cols in columns for col in cols})
    marks = ", ".join("?" * len(ids))
    values = "".join(f", x.{col} AS __v_{col}" for col in wanted)
    order = "x.event_date NULLS LAST, x.occurrence_key" if c.trigger else "x.customer_id"

    def query(tests: list[str]) -> list[tuple]:
        tested = "".join(f", ({t}) AS __c{i}" for i, t in enumerate(tests))
        return con.execute(f"""SELECT x.customer_id, ({c.audience}) AS __all{tested}{values} FROM {_source(c)} AS x
            WHERE x.customer_id IN ({marks}) ORDER BY x.customer_id, {order}""", ids).fetchall()

    try:
        rows = query(clauses)
    except duckdb.Error:  # a clause sqlglot wrote back in a form DuckDB reads otherwise: the condition whole
        clauses, columns = [], []
        rows = query([])
    first: dict[str, tuple] = {}
    for r in rows:
        first.setdefault(r[0], r)  # a trigger campaign: the person's first occasion, as the planner takes it
    out: dict[str, tuple[str, str]] = {}
    for cid in ids:
        row = first.get(cid)
        if row is None:
            out[cid] = ("not a candidate", f"no {c.trigger.type} occasion in the window" if c.trigger
                        else "not in tonight's audience rows")
        elif row[1] is True:
            out[cid] = ("unknown", "the audience condition holds but the night made no decision for this person "
                                   "(the person's id changed after the night planned, or the campaign was planned "
                                   "without them)")
        else:
            vals = dict(zip(wanted, row[2 + len(clauses):], strict=True))
            tested = list(zip(clauses, columns, row[2:2 + len(clauses)], strict=True))
            if all(ok is True for _, _, ok in tested):  # the split did not find the culprit: the condition whole
                tested = [(c.audience, wanted, row[1])]
            out[cid] = ("not a candidate", "audience: " + "; ".join(
                _failed(clause, cols, ok, vals, masked) for clause, cols, ok in tested if ok is not True))
    return out


def explain(con: duckdb.DuckDBPyConnection, customer_ids: list[str], night: date | None = None,
            masked: bool = False) -> list[Answer]:
    """For each person and each campaign of the night (default: the latest), the outcome and why.

    Decisions come from marts.contact_decisions; people a campaign did not consider are explained from the
    night's campaign settings and audience rows (module docstring). Ordered by person, then campaign.
    ``masked`` (for the night report, a page many people read) hides personal values in the answers."""
    night = night or latest_night(con)
    ids = sorted(set(customer_ids))
    if not ids:
        return []
    decided = _decisions(con, night, ids)
    campaigns = _campaigns(con, night)
    send_date = night + timedelta(days=_send_offset(con, night))
    answers: list[Answer] = []
    if campaigns is None:  # an earlier night: its audience and settings are gone
        for (cid, camp), row in sorted(decided.items()):
            outcome, why = _decision_text(row)
            answers.append(Answer(cid, camp, outcome, why))
        for cid in ids:
            answers.append(Answer(cid, "(other campaigns)", "unknown",
                                  f"not a candidate of any other campaign on {night}; which audience condition "
                                  f"failed is only known for the latest night (the warehouse keeps one night's "
                                  f"audience and settings)"))
        return sorted(answers, key=lambda a: (a.customer_id, a.campaign_id))
    for c in sorted(campaigns, key=lambda c: (-c.priority, c.id)):
        undecided = [cid for cid in ids if (cid, c.id) not in decided]
        if not c.is_active(send_date):
            why = {cid: ("not active", f"runs {c.start} to {c.end}; tonight's lists are for {send_date}")
                   for cid in undecided}
        else:
            why = _not_selected(con, c, undecided, masked) if undecided else {}
        for cid in ids:
            if (cid, c.id) in decided:
                answers.append(Answer(cid, c.id, *_decision_text(decided[(cid, c.id)])))
            else:
                answers.append(Answer(cid, c.id, *why[cid]))
    return sorted(answers, key=lambda a: (a.customer_id, a.campaign_id))


def _campaigns(con: duckdb.DuckDBPyConnection, night: date) -> list[Campaign] | None:
    """The campaigns the night planned with, or None when the warehouse holds another night's settings."""
    try:
        campaigns, _ = night_settings.read(con, night)
    except RuntimeError:
        return None
    return campaigns if _has(con, AUDIENCE) else None


def _send_offset(con: duckdb.DuckDBPyConnection, night: date) -> int:
    try:
        _, policy = night_settings.read(con, night)
    except RuntimeError:
        return 1
    return policy.send_day_offset


# --- the whole night at once (the night report) ---------------------------------------------------------------

def unselected(con: duckdb.DuckDBPyConnection, night: date, limit: int) -> tuple[int, list[str]] | None:
    """How many of tonight's audience people no campaign made a decision on (on no list, excluded by none), and
    the first ``limit`` of them by customer id; None when the warehouse no longer holds that night's audience."""
    if _campaigns(con, night) is None:
        return None
    where, params = "", []
    if _has(con, DECISIONS):
        where = (f" WHERE NOT EXISTS (SELECT 1 FROM {DECISIONS} d WHERE d.run_date = ? "
                 "AND d.customer_id = a.customer_id)")
        params = [night]
    people = f"SELECT DISTINCT a.customer_id FROM {AUDIENCE} a{where}"
    total = con.execute(f"SELECT count(*) FROM ({people})", params).fetchall()[0][0]
    first = con.execute(f"{people} ORDER BY 1 LIMIT {int(limit)}", params).fetchall()
    return total, [r[0] for r in first]


def _step_counts(con: duckdb.DuckDBPyConnection, c: Campaign, clauses: list[str]) -> tuple:
    """(people with rows, candidates, people whose every clause holds on some row but never all on one row,
    then people failing each clause). A clause holds for a person if it holds on any of their rows (a trigger
    campaign has one row per occasion); NULL counts as failed, as in the planner's WHERE."""
    tests = "".join(f", bool_or(coalesce(({cl}), false)) AS __c{i}" for i, cl in enumerate(clauses))
    each = " AND ".join(f"__c{i}" for i in range(len(clauses))) or "true"
    return con.execute(f"""SELECT count(*), count(*) FILTER (WHERE __all),
        count(*) FILTER (WHERE NOT __all AND {each})
        {''.join(f', count(*) FILTER (WHERE NOT __c{i})' for i in range(len(clauses)))}
        FROM (SELECT x.customer_id, bool_or(coalesce(({c.audience}), false)) AS __all{tests}
              FROM {_source(c)} AS x GROUP BY x.customer_id)""").fetchall()[0]


def clause_misses(con: duckdb.DuckDBPyConnection, night: date) -> list[tuple[str, str, int, int]] | None:
    """Per campaign of the night: how many of tonight's audience people each step of its selection leaves out.

    Rows are (campaign_id, step, people left out, people in the audience). The steps are, in order, not
    active on the send date (everyone), no occasion of the trigger in its window (a trigger campaign), and
    each top-level AND clause of the audience condition; a person counts under every clause they fail (NULL
    fails, as in the planner's WHERE), so the counts overlap. A trigger campaign adds the people whose clauses
    each hold on some occasion but never all on the same one. The last row per campaign, ``all clauses hold``,
    counts the candidates the planner then decided on. None when the night's audience is gone."""
    campaigns = _campaigns(con, night)
    if campaigns is None:
        return None
    people = con.execute(f"SELECT count(DISTINCT customer_id) FROM {AUDIENCE}").fetchall()[0][0]
    send_date = night + timedelta(days=_send_offset(con, night))
    out: list[tuple[str, str, int, int]] = []
    for c in sorted(campaigns, key=lambda c: (-c.priority, c.id)):
        if not c.is_active(send_date):
            out.append((c.id, f"not active on {send_date} (runs {c.start} to {c.end})", people, people))
            continue
        vet_campaign_sql(c)
        clauses = audience_clauses(c.audience)
        try:
            counts = _step_counts(con, c, clauses)
        except duckdb.Error:  # a clause sqlglot wrote back in a form DuckDB reads otherwise: the condition whole
            clauses = [c.audience]
            counts = _step_counts(con, c, clauses)
        with_rows, candidates, apart = counts[0], counts[1], counts[2]
        if c.trigger:
            out.append((c.id, f"no {c.trigger.type} occasion in the window", people - with_rows, people))
        out.extend((c.id, f"`{cl}` is not true", n, people) for cl, n in zip(clauses, counts[3:], strict=True))
        if c.trigger:
            out.append((c.id, "each clause holds on some occasion, never all on one", apart, people))
        out.append((c.id, "all clauses hold (candidates)", candidates, people))
    return out
