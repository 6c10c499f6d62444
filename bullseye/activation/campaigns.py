"""Campaign definitions (YAML) and the contact policy, loaded and checked before anything runs.

A campaign file says who (an audience condition over the marts, optionally a trigger),
how (channels in order of preference, offer, waves), when (start and end dates) and how
many (list cap, holdout share, priority). The contact policy (``contact_policy.yml`` in the
same folder) holds the rules every campaign obeys: frequency caps, quiet hours, blackout
dates and which channels are open without explicit consent.

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
OBJECTIVES = ("acquire", "retain", "win_back")
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
    default_consent: dict[str, frozenset[str]]  # customer_status -> channels open without an event
    max_campaigns_per_person_per_night: int = 1
    send_day_offset: int = 1  # lists of run date D are sent on D + this many days
    ledger_match_days: int = 3  # a sent contact within this many days of a plan is that plan

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


def parse_policy(raw: dict, where: str = POLICY_FILE) -> ContactPolicy:
    """Turn the policy YAML into a ContactPolicy, or raise CampaignError listing every problem."""
    problems: list[str] = []
    raw = raw or {}
    known = {"caps", "quiet_hours", "blackout_dates", "default_consent", "max_campaigns_per_person_per_night",
             "send_day_offset", "ledger_match_days"}
    problems += [f"{where}: unknown setting '{k}'" for k in raw if k not in known]
    caps: dict[str, dict[int, int]] = {}
    for ch, windows in (raw.get("caps") or {}).items():
        if ch != "total" and ch not in CHANNELS:
            problems.append(f"{where}: caps: unknown channel '{ch}' (channels: total, {', '.join(CHANNELS)})")
            continue
        try:
            caps[ch] = {int(d): int(n) for d, n in (windows or {}).items()}
        except (TypeError, ValueError):
            problems.append(f"{where}: caps.{ch}: give whole numbers, like {{7: 2, 30: 4}}")
            continue
        if any(d <= 0 or n < 0 for d, n in caps[ch].items()):
            problems.append(f"{where}: caps.{ch}: windows must be positive days and caps at least 0")
    quiet: dict[str, tuple[time, time]] = {}
    for ch in CHANNELS:
        win = (raw.get("quiet_hours") or {}).get(ch)
        if not win or len(win) != 2:
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
    for ch, days in (raw.get("blackout_dates") or {}).items():
        if ch != "all" and ch not in CHANNELS:
            problems.append(f"{where}: blackout_dates: unknown channel '{ch}'")
            continue
        parsed = [_date(d, f"{where}: blackout_dates.{ch}", problems) for d in (days or [])]
        blackout[ch] = frozenset(d for d in parsed if d)
    consent: dict[str, frozenset[str]] = {}
    for status in ("customer", "lead", "prospect"):
        chans = (raw.get("default_consent") or {}).get(status) or []
        bad = [c for c in chans if c not in CHANNELS]
        if bad:
            problems.append(f"{where}: default_consent.{status}: unknown channel(s) {bad}")
        consent[status] = frozenset(c for c in chans if c in CHANNELS)
    ints = {}
    for key, default in (("max_campaigns_per_person_per_night", 1), ("send_day_offset", 1),
                         ("ledger_match_days", 3)):
        try:
            ints[key] = int(raw.get(key, default))
            if ints[key] < 0 or (key == "max_campaigns_per_person_per_night" and ints[key] < 1):
                raise ValueError
        except (TypeError, ValueError):
            problems.append(f"{where}: {key}: '{raw.get(key)}' is not a valid whole number")
    if problems:
        raise CampaignError("invalid contact policy:\n" + "\n".join(f"  - {p}" for p in problems))
    return ContactPolicy(caps=caps, quiet_hours=quiet, blackout_dates=blackout, default_consent=consent, **ints)


def _check_sql(expr: str, columns: dict[str, str], what: str) -> str | None:
    """Bind ``expr`` against an empty table with the audience columns: names the unknown column or syntax error."""
    import duckdb

    cols = ", ".join(f"NULL::{t} AS {c}" for c, t in columns.items())
    con = duckdb.connect()
    try:
        con.execute(f"SELECT ({expr}) FROM (SELECT {cols}) AS a LIMIT 0")
    except duckdb.Error as e:
        first = str(e).splitlines()[0]
        return f"{what} `{expr}` does not work: {first}"
    finally:
        con.close()
    return None


_FIELDS = {"id", "name", "objective", "audience", "channels", "start", "end", "priority", "holdout_share",
           "max_list_size", "trigger", "waves", "offer", "rank_by", "reason", "send_window", "description", "owner"}


def parse_campaign(raw: dict, source: str, policy: ContactPolicy, text: str = "") -> tuple[Campaign | None, list[str]]:
    """One campaign from its YAML mapping; returns (campaign, problems). Problems name the file and campaign."""
    if not isinstance(raw, dict):
        return None, [f"{source}: a campaign file must be a mapping of settings (id, audience, channels ...)"]
    cid = str(raw.get("id", "")).strip()
    at = f"{source} (campaign '{cid or '?'}')"
    problems: list[str] = []
    problems += [f"{at}: unknown setting '{k}'" for k in raw if k not in _FIELDS]
    if not _ID.match(cid):
        problems.append(f"{at}: id must be 2-64 lower-case letters, digits, '_' or '-'")
    for req in ("name", "objective", "audience", "channels", "start", "end", "priority"):
        if raw.get(req) in (None, "", []):
            problems.append(f"{at}: '{req}' is required")
    objective = raw.get("objective")
    if objective and objective not in OBJECTIVES:
        problems.append(f"{at}: objective '{objective}' must be one of {', '.join(OBJECTIVES)}")
    channels = raw.get("channels") or []
    if isinstance(channels, str):
        channels = [channels]
    for ch in channels:
        if ch not in CHANNELS:
            problems.append(f"{at}: channel '{ch}' is not one of {', '.join(CHANNELS)}")
    if len(set(channels)) != len(channels):
        problems.append(f"{at}: a channel is listed twice in {channels}")
    start = _date(raw.get("start"), f"{at}: start", problems) if raw.get("start") else None
    end = _date(raw.get("end"), f"{at}: end", problems) if raw.get("end") else None
    if start and end and end < start:
        problems.append(f"{at}: end {end} is before start {start}")
    try:
        priority = int(raw.get("priority", 0))
    except (TypeError, ValueError):
        problems.append(f"{at}: priority '{raw.get('priority')}' must be a whole number (higher goes first)")
        priority = 0
    holdout = raw.get("holdout_share", 0.0)
    if not isinstance(holdout, int | float) or not 0 <= holdout < 1:
        problems.append(f"{at}: holdout_share '{holdout}' must be a number from 0 up to (not including) 1")
        holdout = 0.0
    cap = raw.get("max_list_size")
    if cap is not None and (not isinstance(cap, int) or cap <= 0):
        problems.append(f"{at}: max_list_size '{cap}' must be a positive whole number")
        cap = None
    trigger = None
    if raw.get("trigger") is not None:
        t = raw["trigger"] if isinstance(raw["trigger"], dict) else {"type": raw["trigger"]}
        unknown = set(t) - {"type", "days_ahead", "years", "categories", "steps", "include_overdue"}
        problems += [f"{at}: trigger: unknown setting '{k}'" for k in sorted(unknown)]
        if t.get("type") not in TRIGGERS:
            problems.append(f"{at}: trigger type '{t.get('type')}' must be one of {', '.join(TRIGGERS)}")
        else:
            try:
                trigger = Trigger(type=t["type"], days_ahead=int(t.get("days_ahead", 7)),
                                  years=tuple(int(y) for y in t.get("years") or ()),
                                  categories=tuple(str(c) for c in t.get("categories") or ()),
                                  steps=tuple(str(s) for s in t.get("steps") or ()),
                                  include_overdue=bool(t.get("include_overdue", False)))
            except (TypeError, ValueError):
                problems.append(f"{at}: trigger: days_ahead and years must be whole numbers")
    waves = []
    for i, w in enumerate(raw.get("waves") or [{"name": "main"}]):
        if not isinstance(w, dict) or not w.get("name"):
            problems.append(f"{at}: wave {i + 1} needs a name")
            continue
        after = w.get("after_days", 0)
        if not isinstance(after, int) or after < 0 or (i > 0 and after < 1):
            problems.append(f"{at}: wave '{w['name']}': after_days must be a whole number of days, at least 1 "
                            "after the first wave")
            after = 0
        waves.append(Wave(str(w["name"]), after, str(w.get("message", ""))))
    reason = str(raw.get("reason", "")).strip()
    if reason and not _REASON.match(reason):
        problems.append(f"{at}: reason '{reason}' must be lower-case letters, digits and '_' (it becomes "
                        f"'included:{reason}')")
    columns = {**AUDIENCE_COLUMNS, **(TRIGGER_COLUMNS if trigger else {})}
    audience = str(raw.get("audience", "")).strip()
    if audience:
        problem = _check_sql(audience, columns, "audience")
        if problem:
            problems.append(f"{at}: {problem}")
    rank_by = str(raw.get("rank_by") or "response_propensity").strip()
    problem = _check_sql(rank_by, columns, "rank_by")
    if problem:
        problems.append(f"{at}: {problem}")
    window = None
    if raw.get("send_window"):
        sw = raw["send_window"]
        if not isinstance(sw, list | tuple) or len(sw) != 2:
            problems.append(f"{at}: send_window must be [start, end], like ['10:00', '12:00']")
        else:
            a, b = _time(sw[0], f"{at}: send_window", problems), _time(sw[1], f"{at}: send_window", problems)
            if a and b:
                window = (a, b)
                for ch in channels:
                    q = policy.quiet_hours.get(ch)
                    if q and (a < q[0] or b > q[1] or a >= b):
                        problems.append(f"{at}: send_window {a:%H:%M}-{b:%H:%M} falls in {ch}'s quiet hours "
                                        f"(allowed {q[0]:%H:%M}-{q[1]:%H:%M})")
    offer = raw.get("offer") or {}
    if not isinstance(offer, dict):
        problems.append(f"{at}: offer must be a mapping like {{code: BDAY26, description: ...}}")
        offer = {}
    if problems:
        return None, problems
    digest = hashlib.sha256((text or json.dumps(raw, sort_keys=True, default=str)).encode("utf-8")).hexdigest()
    return Campaign(
        id=cid, name=str(raw["name"]), objective=objective, audience=audience, channels=tuple(channels),
        start=start, end=end, priority=priority, holdout_share=float(holdout), max_list_size=cap,
        trigger=trigger, waves=tuple(waves), offer=offer, rank_by=rank_by, reason=reason, send_window=window,
        source_file=source, definition_sha256=digest,
    ), []


def load_policy(folder: Path) -> ContactPolicy:
    path = Path(folder) / POLICY_FILE
    if not path.is_file():
        raise CampaignError(f"no contact policy: {path} is missing (copy campaigns/{POLICY_FILE} from the repo)")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise CampaignError(f"{path}: not valid YAML: {e}") from e
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
        text = path.read_text(encoding="utf-8")
        try:
            raw = yaml.safe_load(text)
        except yaml.YAMLError as e:
            problems.append(f"{path}: not valid YAML: {e}")
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
