"""Campaign definitions (YAML) and the contact policy, loaded and checked before anything runs.

A campaign file says who (an audience condition over the marts, optionally a trigger),
how (channels in order of preference, offer, waves), when (start and end dates) and how
many (list cap, holdout share, priority). The contact policy (``contact_policy.yml`` in the
same folder) holds the rules every campaign obeys: frequency caps, quiet hours, blackout
dates, which channels are open without a recorded consent and on what legal basis (per
purpose: marketing or service), which list licences count, the minimum age for marketing, and
the SMS signature and opt-out text.

Both files are validated by pydantic models of the files as written (_CampaignFile, _PolicyFile).
Every problem is reported with the file, the campaign and the setting's path (``waves[1].after_days``),
all at once, so a marketer can fix a folder of definitions in one go instead of one error per night.
A night validates the folder once and can hand the result on as JSON (settings_json,
settings_from_json) instead of reading the YAML again.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Annotated, Any, NoReturn

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    JsonValue,
    PlainSerializer,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    create_model,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from bullseye.activation.calendar import FESTIVALS
from bullseye.config import setting

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
TRIGGERS = ("birthday", "wedding_anniversary", "purchase_anniversary", "service_step", "festival", "lunar_birthday")
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
    "customer_profit_12m": "DOUBLE",
    "share_of_wallet": "DOUBLE", "lookalike_score": "DOUBLE", "lookalike_percentile": "DOUBLE",
    "interest_categories": "VARCHAR[]", "price_style": "VARCHAR", "next_best_category": "VARCHAR",
    "list_ids": "VARCHAR[]", "is_on_purchased_list": "BOOLEAN", "last_enquiry_at": "TIMESTAMP",
    "days_since_enquiry": "INTEGER", "home_store_id": "VARCHAR", "salesperson_id": "VARCHAR",
    "response_propensity": "DOUBLE", "last_responded_at": "TIMESTAMP", "last_response_campaign": "VARCHAR",
    "last_response_channel": "VARCHAR", "last_response_converted": "BOOLEAN", "days_since_response": "INTEGER",
}
# Columns a trigger adds (int_activation__triggers), usable when the campaign has a trigger.
TRIGGER_COLUMNS: dict[str, str] = {
    "trigger_type": "VARCHAR", "occurrence_key": "VARCHAR", "event_date": "DATE", "days_until": "INTEGER",
    "category": "VARCHAR", "years": "INTEGER", "step": "VARCHAR", "order_id": "VARCHAR",
    # festival: the festival id of a festival trigger (bullseye.activation.calendar.FESTIVALS);
    # is_quiet_season: on rows with a category, the send date's month is that category's quiet season
    # (int_sales__category_seasons; NULL: too little history to tell).
    "festival": "VARCHAR", "is_quiet_season": "BOOLEAN",
}

# Audience columns an export row may not carry as an export column: the person's identity, personal details
# and contact fields go only to the channels that need them (CHANNEL_FIELDS; PIPL Art. 6, the minimum needed).
NOT_EXPORTABLE = frozenset({"customer_id", "name", "gender", "age", "province", "city", "district", "list_ids"})


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
    festivals: tuple[str, ...] = ()  # festival triggers: the festivals chosen (empty: every festival)

    def condition(self) -> str:
        """SQL over int_activation__triggers (alias t) selecting this trigger's occurrences."""
        parts = [f"t.trigger_type = {_sql_str(self.type)}"]
        low = "-100000" if self.include_overdue else "0"
        parts.append(f"t.days_until BETWEEN {low} AND {int(self.days_ahead)}")
        if self.years:
            parts.append(f"t.years IN ({', '.join(str(int(y)) for y in self.years)})")
        if self.categories:
            parts.append("t.category IN (" + ", ".join(_sql_str(c) for c in self.categories) + ")")
        if self.steps:
            parts.append("t.step IN (" + ", ".join(_sql_str(s) for s in self.steps) + ")")
        if self.festivals:
            parts.append("t.festival IN (" + ", ".join(_sql_str(f) for f in self.festivals) + ")")
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
    # The audience column whose value names the episode (this dormancy, this lapse) a campaign without a
    # trigger runs its waves in: a new value starts the waves again. None: the trigger's occasion is the
    # episode; "lifetime": one episode per person and campaign.
    episode_by: str | None = "stage_since"
    # best: the channel the person last responded on, when the campaign lists it and it passes the checks,
    # else the campaign's order; campaign_order: always the campaign's order.
    channel_choice: str = "best"
    # Audience columns every export row of the campaign carries besides the channel's fields (the message
    # needs them, e.g. next_best_category for an offer that names the category).
    export_columns: tuple[str, ...] = ()

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


# Blackout dates are written sorted (settings_json), so the same policy always gives the same text.
_DateSet = Annotated[frozenset[date], PlainSerializer(sorted, return_type=list[date], when_used="json")]


# Effort of one phone call, in minutes, by the person's value tier. The ratio is the article's
# (seeds/004: 我們獲得一個MGC的時間需要半小時, 獲得一個MVC的客戶需要三個小時: winning an MGC takes half an
# hour, an MVC three hours, so MVC care costs 6 times an MGC's); those are totals per customer won over
# several contacts, so one call is a sixth of them: MVC 30, MGC 5. A prospect or warm-lead call is kept
# short and to the point (seeds/001: 話術的設計以簡單化為主, 不占用客戶太多的時間) and costs an MGC's 5;
# so do standard and BZ customers. "default" is for any tier not named (and people without one).
DEFAULT_MINUTES_PER_CALL = {"MVC": 30, "MGC": 5, "standard": 5, "BZ": 5, "default": 5}


@dataclass(frozen=True)
class CallCapacity:
    """Daily phone-call capacity, in minutes, of each salesperson and each store's unassigned pool.

    A customer's call counts against their salesperson; without one, against their home store's pool of
    unassigned customers; without either, against ``default_pool``. Calls beyond a pool's minutes wait
    for the next night (deferred:capacity), in priority order.
    """

    minutes_per_day: int = 240  # each salesperson, store pool and the default pool: half a day on the phone
    minutes_per_call: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_MINUTES_PER_CALL))
    salespeople: dict[str, int] = field(default_factory=dict)  # salesperson_id -> minutes per day
    stores: dict[str, int] = field(default_factory=dict)  # home_store_id -> minutes per day (its unassigned pool)
    default_pool: str = "central"  # name of the pool for customers with neither salesperson nor store
    default_pool_minutes: int | None = None  # None: minutes_per_day

    def effort(self, tier: str | None) -> int:
        """Minutes one call to a person of this value tier takes."""
        return self.minutes_per_call.get(tier or "", self.minutes_per_call.get("default", 5))

    def pool(self, salesperson_id: str | None, home_store_id: str | None) -> tuple[str, int]:
        """The pool a person's call counts against, and that pool's minutes per day."""
        if salesperson_id:
            return f"salesperson {salesperson_id}", self.salespeople.get(salesperson_id, self.minutes_per_day)
        if home_store_id:
            return f"store {home_store_id}", self.stores.get(home_store_id, self.minutes_per_day)
        minutes = self.default_pool_minutes if self.default_pool_minutes is not None else self.minutes_per_day
        return f"pool {self.default_pool}", minutes


@dataclass(frozen=True)
class ContactPolicy:
    """Rules every list obeys, every night (see campaigns/contact_policy.yml)."""

    caps: dict[str, dict[int, int]]  # channel or "total" -> {window days: max contacts}
    quiet_hours: dict[str, tuple[time, time]]  # channel -> allowed window [start, end]
    blackout_dates: dict[str, _DateSet]  # channel or "all" -> dates nothing goes out
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
    call_capacity: CallCapacity = field(default_factory=CallCapacity)  # daily phone minutes per pool

    def basis_without_consent(self, purpose: str, status: str, channel: str) -> str | None:
        """The non-consent basis the policy names for this purpose, status and channel, if any."""
        return self.open_without_consent.get(purpose, {}).get(status, {}).get(channel)

    @property
    def cap_windows(self) -> list[int]:
        return sorted({d for caps in self.caps.values() for d in caps})


def _sql_str(s: str) -> str:
    return "'" + str(s).replace("'", "''") + "'"


# ---------------------------------------------------------------------------------------------
# Validation: pydantic models of the files as they are written.
#
# _CampaignFile and _PolicyFile describe a campaign file and contact_policy.yml (aliases and legacy
# forms included); parse_campaign and parse_policy turn a valid model into the frozen dataclasses
# above. pydantic walks the document, refuses unknown settings, names each missing one and collects
# every problem with its place (waves[1].after_days). The value types keep the rules the files
# have always had: a whole number may be written "50" but never 1.5 or true, a date is ISO, a time
# is 09:00, one plain value counts as a list of one. Each rule raises a PydanticCustomError whose
# message starts with ``{loc}`` where the field's path belongs in the sentence; _problems fills it in.

_ERROR = "bullseye_setting"


def _fail(message: str) -> NoReturn:
    """Reject a value; ``message`` is shown after the file and, where it has no ``{loc}``, the field path."""
    raise PydanticCustomError(_ERROR, message)


def _with(value: Any, handler: ValidatorFunctionWrapHandler, problems: list[tuple[tuple[str | int, ...], str, Any]]
          ) -> Any:
    """Validate ``value`` and report ``problems`` (loc below the field, message, value) with what that finds.

    For rules a wrap validator checks on the raw value, so that they are reported together with
    the errors inside the field instead of only once those are fixed.
    """
    try:
        result, found = handler(value), []
    except ValidationError as error:
        result = None
        found = [InitErrorDetails(type=PydanticCustomError(_ERROR, e["msg"]) if e["type"] == _ERROR else e["type"],
                                  loc=e["loc"], input=e["input"], ctx=e.get("ctx", {})) for e in error.errors()]
    if found or problems:
        raise ValidationError.from_exception_data(_ERROR, [*found, *(
            InitErrorDetails(type=PydanticCustomError(_ERROR, message), loc=loc, input=v)
            for loc, message, v in problems)])
    return result


def _must(ok: Callable[[Any], Any], message: Callable[[Any], str]) -> Callable[[Any], Any]:
    """A rule: the value passes when ``ok(value)``, else ``message(value)`` says why not."""
    def check(value: Any) -> Any:
        if not ok(value):
            _fail(message(value))
        return value
    return check


def _one_of(options: tuple[str, ...], message: Callable[[Any], str]) -> AfterValidator:
    return AfterValidator(_must(lambda v: v in options, message))


def _key(options: tuple[str, ...], message: Callable[[Any], str]) -> BeforeValidator:
    """A mapping key from ``options`` (checked before any coercion, so a number key is named as written)."""
    return BeforeValidator(_must(lambda v: v in options, message))


def _required(value: Any) -> Any:
    if value is None or value == "" or value == []:
        _fail("{loc} is required")
    return value


def _whole(minimum: int | None = None, hint: str = "", sep: str = " ") -> BeforeValidator:
    """A whole number, or the text of one ("50"); never true/false, 1.5, a list or words."""
    def check(value: Any) -> int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        if isinstance(value, str) and re.fullmatch(r"\s*-?\d{1,18}\s*", value):
            value, ok = int(value), True
        if not ok or (minimum is not None and value < minimum):
            floor = f" of at least {minimum}" if minimum is not None else ""
            _fail(f"{{loc}}{sep}'{value}' must be a whole number{floor}{hint}")
        return value
    return BeforeValidator(check)


def _text(value: Any) -> str:
    """A single piece of text (a number or true/false reads as its text)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value).strip()
    _fail(f"{{loc}} must be a single value, not {type(value).__name__} {value!r:.80}")


def _texts(value: Any) -> list[str]:
    """A list of plain values (one value alone counts as a list of one)."""
    if value is None:
        return []
    items = list(value) if isinstance(value, list | tuple) else [value]
    bad = [v for v in items if isinstance(v, list | dict | bool) or v is None]
    if bad:
        _fail(f"{{loc}} must be a list of plain values, like [a, b]; {bad[0]!r:.80} is not one")
    return [str(v).strip() for v in items]


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        _fail(f"'{value}' is not a date like 2026-12-31")


def _time(value: Any) -> time:
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        _fail(f"'{value}' is not a time of day like 09:00")


def _mapping(message: Callable[[Any], str] = lambda v: "{loc} must be a mapping like {sms: ..., email: ...}, "
                                                    f"not {v!r:.80}") -> BeforeValidator:
    """A setting that holds a mapping (``key: {a: ..., b: ...}``); left out or empty, it is {}."""
    def check(value: Any) -> dict:
        if value is None:
            return {}
        if not isinstance(value, dict):
            _fail(message(value))
        return value
    return BeforeValidator(check)


def _pair(message: str, optional: bool = False) -> BeforeValidator:
    """A window written [start, end]; with ``optional``, left out (or empty) it is None."""
    def check(value: Any) -> Any:
        if optional and not value:
            return None
        if not isinstance(value, list | tuple) or len(value) != 2:
            _fail(message)
        return value
    return BeforeValidator(check)


def _cap_windows(windows: Any) -> dict[int, int]:
    """{window in days: most contacts}: whole numbers (or their text), positive windows, caps of 0 or more."""
    try:
        if not isinstance(windows, dict) or any(isinstance(v, bool | float) for v in (*windows, *windows.values())):
            raise TypeError(windows)
        caps = {int(d): int(n) for d, n in windows.items()}
    except (TypeError, ValueError):
        _fail("give whole numbers, like {7: 2, 30: 4}")
    if any(d <= 0 or n < 0 for d, n in caps.items()):
        _fail("windows must be positive days and caps at least 0")
    return caps


def _share(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1:
        _fail(f"{{loc}} '{value}' must be a number from 0 up to (not including) 1")
    return float(value)


_Text = Annotated[str, BeforeValidator(_text)]
_Texts = Annotated[tuple[str, ...], BeforeValidator(_texts)]
_Required = BeforeValidator(_required)  # put last: it runs before the other before-validators
_Day = Annotated[date, BeforeValidator(_date)]
_Clock = Annotated[time, BeforeValidator(_time)]
_Channel = Annotated[str, _one_of(CHANNELS, lambda v: f"channel '{v}' is not one of {', '.join(CHANNELS)}")]
_ChannelKey = Annotated[str, _key(CHANNELS, lambda v: f"unknown channel '{v}'")]
_Purpose = Annotated[_Text, _one_of(PURPOSES, lambda v: f"{{loc}} '{v}' must be one of {', '.join(PURPOSES)}")]


class _Model(BaseModel):
    """A block of settings: unknown ones are refused, defaults go through the same rules as given values."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class _TriggerFile(_Model):
    type: str
    # the trigger model looks trigger_horizon_days ahead of the send date: a longer lead would find nothing
    days_ahead: Annotated[int, _whole(minimum=0), AfterValidator(_must(
        lambda v: v <= setting("trigger_horizon_days"),
        lambda v: f"{{loc}} {v} is beyond the trigger horizon: triggers are found only "
                  f"trigger_horizon_days ({setting('trigger_horizon_days')}) ahead (dbt_project.yml vars)"))] = 7
    years: Annotated[tuple[Annotated[int, _whole(minimum=1)], ...],
                     BeforeValidator(lambda v: v if isinstance(v, list) else [v] if v else [])] = ()
    categories: _Texts = ()
    steps: _Texts = ()
    include_overdue: Annotated[bool, BeforeValidator(_must(lambda v: isinstance(v, bool),
                                                           lambda v: f"{{loc}} '{v}' must be true or false"))] = False
    # festival triggers: which festivals (days_ahead is the lead time before each)
    festivals: Annotated[_Texts, AfterValidator(_must(
        lambda v: set(v) <= set(FESTIVALS),
        lambda v: f"{{loc}} {sorted(set(v) - set(FESTIVALS))} must be among {', '.join(FESTIVALS)}"))] = ()

    @model_validator(mode="before")
    @classmethod
    def _typed(cls, value: Any) -> dict:
        """``trigger: birthday`` is short for ``trigger: {type: birthday}``; the type is what makes it a trigger."""
        t = value if isinstance(value, dict) else {"type": value}
        if not isinstance(t.get("type"), str) or t["type"] not in TRIGGERS:
            _fail(f"{{loc}} type '{t.get('type')}' must be one of {', '.join(TRIGGERS)}")
        if t.get("festivals") and t["type"] != "festival":
            _fail(f"{{loc}} festivals are chosen only for a festival trigger, not {t['type']}")
        return t

    def trigger(self) -> Trigger:
        return Trigger(type=self.type, days_ahead=self.days_ahead, years=self.years, categories=self.categories,
                       steps=self.steps, include_overdue=self.include_overdue, festivals=self.festivals)


_AFTER_DAYS = "must be a whole number of days, at least 1 after the first wave"


class _WaveFile(_Model):
    name: Annotated[_Text, _Required]
    after_days: Annotated[int, BeforeValidator(_must(
        lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 0,
        lambda v: f"{{loc}} '{v}' {_AFTER_DAYS}"))] = 0
    message: _Text = ""
    purpose: _Purpose | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            _fail("{loc} must be a mapping like {name: reminder, after_days: 7}")
        return value


def _spaced_waves(waves: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Every wave after the first comes at least a day after the one before (after_days >= 1)."""
    late = []
    for i, w in enumerate(waves if isinstance(waves, list) else []):
        days = w.get("after_days", 0) if isinstance(w, dict) else None
        if i and type(days) is int and days == 0:  # other bad values are the wave's own error
            late.append(((i, "after_days"), f"{{loc}} '{days}' {_AFTER_DAYS}", days))
    return _with(waves, handler, late)


_OFFER = "{loc} must be a mapping like {code: BDAY26, description: ...}"
_WAVES = "{loc} must be a list like [{name: first}, {name: reminder, after_days: 7}]"


class _CampaignFile(_Model):
    """A campaign file as written. Fields are checked in this order: audience and rank_by see the trigger."""

    id: Annotated[str, BeforeValidator(lambda v: str(v).strip()[:80]), AfterValidator(_must(
        _ID.match, lambda v: "{loc} must be 2-64 lower-case letters, digits, '_' or '-'"))] = ""
    name: Annotated[_Text, _Required]
    objective: Annotated[_Text, _one_of(OBJECTIVES, lambda v: f"{{loc}} '{v}' must be one of {', '.join(OBJECTIVES)}"),
                         _Required]
    channels: Annotated[tuple[_Channel, ...], AfterValidator(_must(
        lambda v: len(set(v)) == len(v), lambda v: f"a channel is listed twice in {list(v)}")),
        BeforeValidator(_texts), _Required]
    start: Annotated[_Day, _Required]
    end: Annotated[_Day, _Required]
    priority: Annotated[int, _whole(hint=" (higher goes first)"), _Required]
    holdout_share: Annotated[float, BeforeValidator(_share)] = 0.0
    max_list_size: Annotated[int | None, BeforeValidator(_must(
        lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0),
        lambda v: f"{{loc}} '{v}' must be a positive whole number"))] = None
    trigger: _TriggerFile | None = None
    # The audience column naming the episode the waves belong to (default stage_since), or lifetime.
    episode_by: Annotated[_Text | None, AfterValidator(_must(
        lambda v: v is None or v == "lifetime" or v in AUDIENCE_COLUMNS,
        lambda v: f"{{loc}} '{v}' must be an audience column (like stage_since) or lifetime"))] = None
    channel_choice: Annotated[_Text, _one_of(("best", "campaign_order"), lambda v: f"{{loc}} '{v}' must be best "
                                             "(the channel the person responded on) or campaign_order")] = "best"
    # Audience columns the export files carry on every row (the message needs them), in this order.
    export_columns: Annotated[_Texts, AfterValidator(_must(
        lambda v: len(set(v)) == len(v), lambda v: f"{{loc}} names a column twice in {list(v)}")),
        AfterValidator(_must(
            lambda v: set(v) <= set(AUDIENCE_COLUMNS) - NOT_EXPORTABLE,
            lambda v: f"{{loc}} {sorted(set(v) - (set(AUDIENCE_COLUMNS) - NOT_EXPORTABLE))} must be audience columns "
                      "(int_activation__audience), not the person's identity, personal details or contact fields"))
    ] = ()
    waves: Annotated[tuple[_WaveFile, ...] | None, BeforeValidator(_must(
        lambda v: v is None or (isinstance(v, list) and v), lambda v: _WAVES)), WrapValidator(_spaced_waves)] = None
    reason: Annotated[_Text, AfterValidator(_must(
        lambda v: not v or _REASON.match(v),
        lambda v: f"{{loc}} '{v}' must be lower-case letters, digits and '_' (it becomes 'included:{v}')"))] = ""
    audience: Annotated[_Text, _Required]
    rank_by: Annotated[_Text, BeforeValidator(lambda v: v or "response_propensity")] = "response_propensity"
    send_window: Annotated[tuple[_Clock, _Clock] | None, _pair(
        "{loc} must be [start, end], like ['10:00', '12:00']", optional=True)] = None
    # Without a purpose a campaign is marketing: the stricter class (it needs consent or a named basis).
    purpose: Annotated[_Text, AfterValidator(_must(
        lambda v: v in PURPOSES,
        lambda v: f"{{loc}} '{v}' must be marketing or service (service: a message that serves a contract the "
                  "customer has, like a service-plan step or a safety check; the rest is marketing)"))] = "marketing"
    offer: Annotated[dict[str, JsonValue], _mapping(lambda v: _OFFER), BeforeValidator(lambda v: v or {})] = {}
    description: Any = None  # for the reader of the file
    owner: Any = None

    @field_validator("end")
    @classmethod
    def _after_start(cls, end: date, info: ValidationInfo) -> date:
        start = info.data.get("start")
        if start and end < start:
            _fail(f"{{loc}} {end} is before start {start}")
        return end

    @field_validator("audience", "rank_by")
    @classmethod
    def _vetted(cls, expr: str, info: ValidationInfo) -> str:
        """The SQL vetting (parse, allowed functions, bind over the declared columns) of the expression."""
        columns = {**AUDIENCE_COLUMNS, **(TRIGGER_COLUMNS if info.data.get("trigger") else {})}
        problem = _sql_problem(expr, columns, info.field_name)
        if problem:
            _fail("{loc} " + problem)
        return expr

    @field_validator("send_window")
    @classmethod
    def _outside_quiet_hours(cls, window: tuple[time, time] | None, info: ValidationInfo) -> tuple[time, time] | None:
        policy = (info.context or {}).get("policy")
        if window is None or policy is None:
            return window
        a, b = window
        quiet = [(ch, policy.quiet_hours[ch]) for ch in info.data.get("channels", ()) if ch in policy.quiet_hours]
        problems = [((), f"{{loc}} {a:%H:%M}-{b:%H:%M} falls in {ch}'s quiet hours (allowed {q[0]:%H:%M}-{q[1]:%H:%M})",
                     window) for ch, q in quiet if a < q[0] or b > q[1] or a >= b]
        return _with(window, lambda w: w, problems)  # raises when there are problems

    def campaign(self, source: str, digest: str) -> Campaign:
        return Campaign(
            id=self.id, name=self.name, objective=self.objective, audience=self.audience, channels=self.channels,
            start=self.start, end=self.end, priority=self.priority, holdout_share=self.holdout_share,
            max_list_size=self.max_list_size, trigger=self.trigger.trigger() if self.trigger else None,
            waves=tuple(Wave(w.name, w.after_days, w.message, w.purpose) for w in self.waves) if self.waves
            else (Wave("main"),),
            offer=dict(self.offer), rank_by=self.rank_by, reason=self.reason, send_window=self.send_window,
            source_file=source, definition_sha256=digest, purpose=self.purpose,
            episode_by=None if self.trigger else (self.episode_by or "stage_since"),
            channel_choice=self.channel_choice, export_columns=self.export_columns)

    @field_validator("episode_by")
    @classmethod
    def _no_episode_with_trigger(cls, episode_by: str | None, info: ValidationInfo) -> str | None:
        """A trigger's occasion is its episode: naming another one as well would be ignored, so it is refused."""
        if episode_by is not None and info.data.get("trigger"):
            _fail("{loc} is for campaigns without a trigger (a trigger's occasion is its episode)")
        return episode_by


def _window_in_order(window: tuple[time, time]) -> tuple[time, time]:
    if window[0] >= window[1]:
        _fail(f"the window start {window[0]} must be before its end {window[1]}")
    return window


_QuietWindow = Annotated[tuple[_Clock, _Clock], AfterValidator(_window_in_order), _pair(
    "give the allowed send window as [start, end], like ['09:00', '20:00']")]
# Every channel needs its allowed window: a missing one is reported like a malformed one.
_QuietHours = create_model("_QuietHours", __base__=_Model, **{ch: (_QuietWindow, None) for ch in CHANNELS})


class _LegacyConsent(_Model):
    """default_consent opened channels for marketing on nobody's say-so: read only to be refused."""

    model_config = ConfigDict(extra="ignore")

    customer: _Texts = ()
    lead: _Texts = ()
    prospect: _Texts = ()

    @field_validator("customer", "lead", "prospect")
    @classmethod
    def _channels(cls, chans: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in chans if c not in CHANNELS]
        if bad:
            _fail(f"unknown channel(s) {bad}")
        return chans


def _refuse_default_consent(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Report what is wrong inside default_consent and, in any case, that it is no longer read (so this raises)."""
    return _with(value, handler, [((), "{loc} is no longer read: marketing needs recorded consent; to open a "
                                       "channel without it, name the legal basis under open_without_consent, e.g. "
                                       "open_without_consent: {service: {customer: {sms: contract}}}", value)])


_Basis = Annotated[str, BeforeValidator(_must(
    lambda v: isinstance(v, str) and v.strip() in NON_CONSENT_BASES,
    lambda v: f"basis {v!r:.40} must be one of {', '.join(NON_CONSENT_BASES)} (consent is recorded per person, "
              "never assumed)")), AfterValidator(str.strip)]
_BasisByChannel = Annotated[dict[_ChannelKey, _Basis], _mapping(
    lambda v: "{loc} must map channels to a legal basis, like {sms: contract}")]
_BasesByStatus = Annotated[
    dict[Annotated[str, _key(STATUSES, lambda v: f"unknown status '{v}' (statuses: {', '.join(STATUSES)})")],
         _BasisByChannel],
    _mapping(lambda v: "{loc} must map a status to channels and bases, like {customer: {sms: contract}}")]
_SIGNATURE = re.compile(r"^【[^【】\s]{2,16}】$")
_INT_SETTING = {"hint": "", "sep": ": "}  # read as "send_day_offset: '1.5' must be a whole number"


_Minutes = Annotated[int, _whole(0, " (minutes)")]


class _CallCapacityFile(_Model):
    """call_capacity in contact_policy.yml (CallCapacity)."""

    minutes_per_day: Annotated[int, _whole(1, " (minutes)")] = CallCapacity.minutes_per_day
    minutes_per_call: Annotated[dict[_Text, Annotated[int, _whole(1, " (minutes)")]], _mapping(
        lambda v: "{loc} must map value tiers to minutes, like {MVC: 30, default: 5}")] = {}
    salespeople: Annotated[dict[_Text, _Minutes], _mapping(
        lambda v: "{loc} must map salesperson ids to minutes per day, like {S001: 300}")] = {}
    stores: Annotated[dict[_Text, _Minutes], _mapping(
        lambda v: "{loc} must map store ids to minutes per day, like {ST01: 480}")] = {}
    default_pool: Annotated[_Text, _Required] = CallCapacity.default_pool
    default_pool_minutes: Annotated[int | None, BeforeValidator(
        lambda v: v if v is None else _whole(0, " (minutes)").func(v))] = None

    @model_validator(mode="after")
    def _calls_fit(self) -> _CallCapacityFile:
        """The longest call fits in a day: else it would wait forever and hold every call behind it."""
        per_call = {**DEFAULT_MINUTES_PER_CALL, **self.minutes_per_call}
        longest = max(per_call.values())
        if longest > self.minutes_per_day:
            _fail(f"call_capacity: a {longest}-minute call does not fit in minutes_per_day {self.minutes_per_day}")
        return self

    def capacity(self) -> CallCapacity:
        return CallCapacity(minutes_per_day=self.minutes_per_day,
                            minutes_per_call={**DEFAULT_MINUTES_PER_CALL, **self.minutes_per_call},
                            salespeople=dict(self.salespeople), stores=dict(self.stores),
                            default_pool=self.default_pool, default_pool_minutes=self.default_pool_minutes)


class _PolicyFile(_Model):
    caps: Annotated[dict[Annotated[str, _key(("total", *CHANNELS), lambda v: f"unknown channel '{v}' (channels: "
                                                                            f"total, {', '.join(CHANNELS)})")],
                         Annotated[dict[int, int], BeforeValidator(_cap_windows)]], _mapping()] = {}
    quiet_hours: Annotated[_QuietHours, _mapping()] = {}
    blackout_dates: Annotated[dict[Annotated[str, _key(("all", *CHANNELS), lambda v: f"unknown channel '{v}'")],
                                   Annotated[frozenset[_Day], BeforeValidator(_texts)]], _mapping()] = {}
    default_consent: Annotated[_LegacyConsent, _mapping(), WrapValidator(_refuse_default_consent)] = Field(
        None, validate_default=False)
    open_without_consent: Annotated[dict[Annotated[str, _key(PURPOSES, lambda v: f"unknown purpose '{v}' (purposes: "
                                                                                f"{', '.join(PURPOSES)})")],
                                         _BasesByStatus], _mapping()] = {}
    sms_signature: Annotated[_Text, AfterValidator(_must(
        _SIGNATURE.match, lambda v: f"{{loc}} '{v}' must be the sender's name in 【】, like 【品牌】: every commercial "
                                    "SMS names its sender"))] = ""
    sms_opt_out_text: Annotated[_Text, AfterValidator(_must(
        lambda v: "退订" in v, lambda v: f"{{loc}} '{v}' must tell how to refuse, like 回T退订"))] = ""
    sms_opt_out_replies: _Texts = ContactPolicy.sms_opt_out_replies
    list_licence_bases: _Texts = ContactPolicy.list_licence_bases
    marketing_min_age: Annotated[int, _whole(14, " (PIPL Art. 28/31: under 14 needs a guardian's consent)")] = 14
    marketing_unknown_age: Annotated[_Text, _one_of(("allow", "exclude"),
                                                   lambda v: f"{{loc}} '{v}' must be allow or exclude")] = "allow"
    max_campaigns_per_person_per_night: Annotated[int, _whole(1, **_INT_SETTING)] = 1
    send_day_offset: Annotated[int, _whole(0, **_INT_SETTING)] = 1
    ledger_match_days: Annotated[int, _whole(0, **_INT_SETTING)] = 3
    call_capacity: Annotated[_CallCapacityFile, _mapping()] = {}

    def policy(self) -> ContactPolicy:
        opened = {p: {s: dict(chans) for s, chans in self.open_without_consent.get(p, {}).items() if chans}
                  for p in PURPOSES}
        return ContactPolicy(
            caps=dict(self.caps), quiet_hours={ch: getattr(self.quiet_hours, ch) for ch in CHANNELS},
            blackout_dates=dict(self.blackout_dates), open_without_consent=opened,
            sms_signature=self.sms_signature, sms_opt_out_text=self.sms_opt_out_text,
            sms_opt_out_replies=tuple(sorted({r.upper() for r in self.sms_opt_out_replies if r})),
            list_licence_bases=tuple(b.lower() for b in self.list_licence_bases),
            marketing_min_age=self.marketing_min_age, marketing_unknown_age=self.marketing_unknown_age,
            max_campaigns_per_person_per_night=self.max_campaigns_per_person_per_night,
            send_day_offset=self.send_day_offset, ledger_match_days=self.ledger_match_days,
            call_capacity=self.call_capacity.capacity())


def _problems(error: ValidationError, at: str) -> list[str]:
    """Every error as ``at: path: message``, the path like ``waves[1].after_days`` (``{loc}`` in a message)."""
    out = []
    errors = error.errors(include_url=False)
    # A value under a key that is itself refused (caps: {fax: ...}) is not judged as well.
    refused = {e["loc"][:-1] for e in errors if e["loc"][-1:] == ("[key]",)}
    for e in errors:
        loc, message, ours = list(e["loc"]), e["msg"], e["type"] == _ERROR
        own = tuple(loc[:-1]) if loc[-1:] == ["[key]"] else None
        if any(tuple(loc[:i]) in refused - {own} for i in range(1, len(loc) + 1)):
            continue
        if e["type"] in ("extra_forbidden", "invalid_key"):
            loc, message = loc[:-1], f"unknown setting '{loc[-1]}'"
        elif e["type"] == "missing":
            message = "{loc} is required"
        if loc and loc[-1] == "[key]":  # a key's own rule names the key; pydantic's do not
            loc = loc[:-2] if ours else loc[:-1]
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
        if message.startswith("{loc}"):
            text = (path + message.removeprefix("{loc}")).strip()
        else:
            text = f"{path}: {message}" if path else message
        out.append(f"{at}: {text}")
    return out


def parse_policy(raw: dict, where: str = POLICY_FILE) -> ContactPolicy:
    """Turn the policy YAML into a ContactPolicy, or raise CampaignError listing every problem."""
    if raw is not None and not isinstance(raw, dict):
        raise CampaignError(f"invalid contact policy:\n  - {where}: the file must be a mapping of settings "
                            "(caps, quiet_hours, ...)")
    try:
        return _PolicyFile.model_validate(raw or {}).policy()
    except ValidationError as e:
        raise CampaignError("invalid contact policy:\n" + "\n".join(f"  - {p}" for p in _problems(e, where))) from None


def parse_campaign(raw: dict, source: str, policy: ContactPolicy, text: str = "") -> tuple[Campaign | None, list[str]]:
    """One campaign from its YAML mapping; returns (campaign, problems). Problems name the file and campaign."""
    if not isinstance(raw, dict):
        return None, [f"{source}: a campaign file must be a mapping of settings (id, audience, channels ...)"]
    cid = str(raw.get("id", "")).strip()[:80]
    try:
        model = _CampaignFile.model_validate(raw, context={"policy": policy})
    except ValidationError as e:
        return None, _problems(e, f"{source} (campaign '{cid or '?'}')")
    digest = hashlib.sha256((text or json.dumps(raw, sort_keys=True, default=str)).encode("utf-8")).hexdigest()
    return model.campaign(source, digest), []


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


def _sql_problem(expr: str, columns: dict[str, str], what: str) -> str | None:
    """Why ``expr`` may not be used as the campaign's ``what`` (audience or rank_by), or None when it may.

    The expression is parsed, never run, until it is known to be one plain expression; then it is
    bound (DESCRIBE, nothing evaluated) on a locked-down connection whose only data is an empty
    row of ``columns``, to name unknown columns and check its type. The answer reads after the
    setting's name: "`x` does not work: ...".
    """
    if not expr.strip():
        return "is empty"
    if len(expr) > SQL_MAX_CHARS:
        return f"is {len(expr):,} characters long; at most {SQL_MAX_CHARS:,} are allowed"
    con = _safe_connection()
    try:
        problem = _token_problem(expr) or _parse_problem(expr, con) or _type_problem(expr, columns, what, con)
    finally:
        con.close()
    return f"`{expr}` does not work: {problem}" if problem else None


def _check_sql(expr: str, columns: dict[str, str], what: str) -> str | None:
    """``_sql_problem`` as a sentence that starts with the setting's name, or None when the expression may be used."""
    problem = _sql_problem(expr, columns, what)
    return f"{what} {problem}" if problem else None


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



# ---------------------------------------------------------------------------------------------
# The night's settings, validated once: the campaigns and the policy as one JSON document.


class _NightSettings(BaseModel):
    """Every campaign and the contact policy of one night, exactly as parse_campaign and parse_policy made them."""

    model_config = ConfigDict(extra="forbid")

    campaigns: list[Campaign]
    policy: ContactPolicy


def settings_json(campaigns: list[Campaign], policy: ContactPolicy) -> str:
    """The night's validated campaigns and policy as JSON, so later steps read them instead of the YAML again.

    ``settings_from_json`` gives back equal objects (definition hashes and source files included).
    """
    return _NightSettings(campaigns=list(campaigns), policy=policy).model_dump_json(indent=1)


def settings_from_json(text: str) -> tuple[list[Campaign], ContactPolicy]:
    """The campaigns and policy stored by ``settings_json``; raises CampaignError when the text is not that.

    The types are checked on the way back; the planner still vets each audience and rank_by
    (vet_campaign_sql) before it pastes them into SQL.
    """
    try:
        settings = _NightSettings.model_validate_json(text)
    except ValidationError as e:
        raise CampaignError("invalid night settings:\n" + "\n".join(
            f"  - {p}" for p in _problems(e, "settings"))) from None
    return settings.campaigns, settings.policy
