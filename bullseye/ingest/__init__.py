"""Loading the landing zone into the warehouse's ``raw`` schema (contract section 1)."""

from bullseye.ingest.loader import DeliveryResult, LoadReport, ensure_schema, load_landing
from bullseye.ingest.privacy import hash_id_card, id_salt, normalize_id_card
from bullseye.ingest.rules import blocking_issues

__all__ = ["DeliveryResult", "LoadReport", "blocking_issues", "ensure_schema", "hash_id_card", "id_salt",
           "load_landing", "normalize_id_card"]
