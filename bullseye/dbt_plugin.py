"""dbt-duckdb plugin: exposes :mod:`bullseye.normalize` to SQL models as UDFs.

Staging models call ``bz_phone_e164(phone)`` and friends, so the rules live in
one tested Python module instead of being re-written in SQL. Registered on
every connection dbt opens (profile ``plugins: [{module: bullseye.dbt_plugin}]``).
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from bullseye import normalize

UDFS = {
    "bz_fold_text": normalize.fold_text,
    "bz_person_name": normalize.person_name,
    "bz_phone_e164": normalize.phone_e164,
    "bz_phone_issue": normalize.phone_issue,
    "bz_phone_key": normalize.phone_key,
    "bz_email_norm": normalize.email_norm,
    "bz_email_key": normalize.email_key,
    "bz_province": normalize.province,
    "bz_city": normalize.city,
    "bz_gender": normalize.gender,
    "bz_name_pinyin": normalize.name_pinyin,
    "bz_lunar_birthday": normalize.lunar_birthday,
}


def register_udfs(conn: DuckDBPyConnection) -> None:
    """Register every normalizer as a VARCHAR -> VARCHAR scalar function."""
    for name, fn in UDFS.items():
        try:
            conn.remove_function(name)
        except Exception:  # noqa: BLE001 - not registered yet on this connection
            pass
        conn.create_function(
            name, fn, ["VARCHAR"], "VARCHAR", null_handling="special", side_effects=False
        )


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        register_udfs(conn)
        # dbt's connection gets the same memory and thread bounds as the pipeline's own
        from bullseye.warehouse import apply_limits

        apply_limits(conn)
