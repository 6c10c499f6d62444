"""The salted keys a forgotten person is remembered by, and the salt they share with ID hashing.

The forget-list must recognise a person who is delivered again without keeping anything that
identifies them in clear. It keeps, per identifier, ``HMAC-SHA256(salt, kind + value)`` of the
normalized value: the same phone written ``+86 138-1234-5678`` or ``13812345678`` gives the same
key, and without the salt (``BULLSEYE_ID_SALT``, the secret ID-card numbers are hashed with) a key
cannot be reversed by hashing every possible phone number.

Kinds:

- ``phone``: E.164 (``bullseye.normalize.phone_e164``);
- ``email``: the identity key of an email (``bullseye.normalize.email_key``);
- ``id_card``: the salted ID-card hash as the warehouse stores it (:func:`id_card_hash`);
- ``wechat_unionid``, ``member_card``: trimmed (member cards upper-cased);
- ``record``: a source record, ``<source>|<source_record_id>`` (``crm_customers|store_pos:S1``),
  so that later orders and service interactions of a forgotten CRM record are held back too;
- ``customer_id``: the person's ids (contacts and consents may name them).
"""

from __future__ import annotations

import hashlib
import hmac

from bullseye import normalize
from bullseye.config import id_salt as config_salt

KINDS = ("phone", "email", "id_card", "wechat_unionid", "member_card", "record", "customer_id")


def id_salt() -> str:
    """The secret salt of ID-card hashes and forget-list keys (bullseye.config.id_salt): one setting, so
    the loader's hashes and the forget-list can never disagree."""
    return config_salt()[0]


def id_card_hash(id_card_no: str | None) -> str | None:
    """The salted hash of an ID-card number exactly as the loader stores it in ``id_card_hash``."""
    try:
        from bullseye.ingest.privacy import hash_id_card
    except ImportError:  # before the loader hashed at load: staging's sha256(salt || upper(trim(no)))
        if id_card_no is None or not str(id_card_no).strip():
            return None
        return hashlib.sha256((id_salt() + str(id_card_no).strip().upper()).encode("utf-8")).hexdigest()
    return hash_id_card(id_card_no, id_salt())


def normalized(kind: str, value: str | None) -> str | None:
    """The form of ``value`` that a key of ``kind`` is computed on; None when it carries no identity."""
    if value is None or not str(value).strip():
        return None
    text = str(value).strip()
    if kind == "phone":
        return normalize.phone_e164(text)
    if kind == "email":
        return normalize.email_key(text)
    if kind == "member_card":
        return text.upper()
    if kind in KINDS:
        return text
    raise ValueError(f"unknown forget-list key kind {kind!r} (one of {', '.join(KINDS)})")


def forget_key(kind: str, value: str | None, salt: str | None = None) -> str | None:
    """HMAC-SHA256 of a normalized identifier: what the forget-list keeps instead of the value."""
    norm = normalized(kind, value)
    if norm is None:
        return None
    secret = (id_salt() if salt is None else salt).encode("utf-8")
    return hmac.new(secret, f"{kind}\x1f{norm}".encode(), hashlib.sha256).hexdigest()
