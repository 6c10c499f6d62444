"""Loading the landing zone into the warehouse's ``raw`` schema (contract section 1)."""

from bullseye.ingest.loader import DeliveryResult, LoadReport, ensure_schema, load_landing

__all__ = ["DeliveryResult", "LoadReport", "ensure_schema", "load_landing"]
