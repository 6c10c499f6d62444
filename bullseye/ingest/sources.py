"""The landing-zone contract as data: which folders, columns, types and rules.

One :class:`SourceSpec` per folder of contract section 1. The loader derives
raw table schemas, parsing and quarantine rules from these, so adding a column
is a one-line change here. File formats are not per source: any source folder
takes every type the loader reads, chosen by extension (``readers.DELIMITERS``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Column types the loader understands, and their DuckDB storage type.
SQL_TYPES = {
    "text": "VARCHAR", "date": "DATE", "ts": "TIMESTAMP", "decimal": "DECIMAL(18,2)",
    "int": "BIGINT", "bool": "BOOLEAN", "flag": "BOOLEAN", "json": "VARCHAR",
}
# ``flag`` is a yes/no a person or an SMS gateway wrote (opt_out, complaint): besides the
# ``bool`` spellings it reads 退订, TD, unsubscribed ... (see ``FLAG_TRUE`` in the loader).


@dataclass(frozen=True)
class SourceSpec:
    name: str
    columns: dict[str, str]
    required: tuple[str, ...]
    # At least one column of each group must have a value (e.g. who a contact went to).
    one_of: tuple[tuple[str, ...], ...] = ()
    # Allowed values for enumerated columns (compared lower-cased and trimmed).
    enums: dict[str, tuple[str, ...]] = field(default_factory=dict)
    nested: bool = False  # lists/<list_id>/ with a manifest

    @property
    def table(self) -> str:
        return f"raw.{self.name}"


def _cols(spec: str) -> dict[str, str]:
    """'a, b:date, c*' -> {'a': 'text', 'b': 'date', 'c': 'text'} (the * is read by _req)."""
    out = {}
    for item in spec.split(","):
        name, _, typ = item.strip().rstrip("*").partition(":")
        out[name.rstrip("*")] = typ or "text"
    return out


def _req(spec: str) -> tuple[str, ...]:
    return tuple(i.strip().split(":")[0].rstrip("*") for i in spec.split(",") if "*" in i)


_SPECS = {
    "crm_customers": "source_system, source_customer_id*, name, gender, birth_date:date, phone, email, "
                     "wechat_unionid, member_card_no, id_card_hash, province, city, district, address, postcode, "
                     "store_id, employee_id, joined_at:ts, updated_at:ts",
    "orders": "order_id*, source_system, source_customer_id*, order_ts:ts*, amount:decimal*, store_id, channel, "
              "discount_amount:decimal, coupon_code, status",
    "order_lines": "order_id*, source_system, line_no:int, sku*, category, quantity:decimal, unit_price:decimal, "
                   "amount:decimal, unit_cost:decimal",
    "events": "event_id*, event_ts:ts*, anonymous_id*, event_type*, user_id, phone, email, page_url, referrer, "
              "utm_source, utm_medium, utm_campaign, province, city, properties:json",
    "lists": "list_id*, list_record_id*, name, phone, email, gender, birth_date:date, age:int, province, city, "
             "district, address, postcode, company, title, industry",
    "contacts": "contact_id*, campaign_id*, channel*, sent_at:ts*, customer_id, phone, email, delivered:bool, "
                "opened:bool, clicked:bool, responded_at:ts, coupon_code, converted_order_id, opt_out:flag, "
                "complaint:flag, reply",
    "service": "interaction_id*, ts:ts*, type*, source_system, source_customer_id, phone, cost:decimal",
    "consents": "ts:ts*, channel*, status*, customer_id, phone, email, reason",
    "stores": "store_id*, store_name, province, city, district, opened_at:date",
    # A store's revenue target for a month (user input): month is any date in it, e.g. 2026-11-01.
    "store_targets": "store_id*, month:date*, revenue_target:decimal*",
}

SOURCES: dict[str, SourceSpec] = {
    name: SourceSpec(name=name, columns=_cols(spec), required=_req(spec))
    for name, spec in _SPECS.items()
}
SOURCES["lists"] = SourceSpec("lists", SOURCES["lists"].columns, SOURCES["lists"].required, nested=True)
SOURCES["contacts"] = SourceSpec("contacts", SOURCES["contacts"].columns, SOURCES["contacts"].required,
                                 one_of=(("customer_id", "phone", "email"),))
SOURCES["service"] = SourceSpec("service", SOURCES["service"].columns, SOURCES["service"].required,
                                one_of=(("source_customer_id", "phone"),))
SOURCES["consents"] = SourceSpec(
    "consents", SOURCES["consents"].columns, SOURCES["consents"].required,
    one_of=(("customer_id", "phone", "email"),),
    enums={"status": ("granted", "withdrawn", "do_not_contact"),
           "channel": ("sms", "phone", "email", "mail", "wechat", "app_push", "all")},
)

# Sources the nightly job cannot run without; the others may be absent.
REQUIRED_SOURCES = ("crm_customers", "orders")

LIST_MANIFEST_REQUIRED = ("list_id", "vendor", "acquired_at", "legal_basis")

# The contract's input column ``id_card_no`` (and common aliases) is hashed as the file is
# staged and stored as ``id_card_hash``; the clear number is never written (bullseye.ingest.privacy).
ID_CARD_INPUT_COLUMNS = ("id_card_no", "id_card", "身份证号", "身份证号码", "身份证")
