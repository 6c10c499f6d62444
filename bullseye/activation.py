"""Export each campaign's target list for the run date: CSV for Excel, Parquet, manifest.

Holdout members stay in ``marts.target_lists`` (so uplift can be measured) but
are not written to the contact files. Each file carries only what its channel
needs: a phone for SMS and calls.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

from bullseye.config import DBT_PROJECT_DIR
from bullseye.warehouse import connect

CHANNEL_FIELDS = {"sms": ["phone"], "phone": ["phone"], "email": ["email"], "mail": ["name", "address"]}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _definition_hash(campaign_id: str) -> str:
    """Hash of the model that defines the campaign, so a list can be traced to its definition."""
    for path in (DBT_PROJECT_DIR / "models").rglob("int_activation__*.sql"):
        text = path.read_text(encoding="utf-8")
        if f"'{campaign_id}'" in text:
            return hashlib.sha256(text.encode("utf-8")).hexdigest()
    return ""


def export_lists(warehouse: Path, run_date: date, out_dir: Path) -> dict[str, int]:
    """Write one CSV + Parquet per campaign of ``run_date`` and a manifest; returns rows per campaign."""
    out_dir.mkdir(parents=True, exist_ok=True)
    con = connect(warehouse, read_only=True)
    written: dict[str, int] = {}
    manifest: dict = {"run_date": run_date.isoformat(), "campaigns": []}
    try:
        campaigns = con.execute("SELECT DISTINCT campaign_id, channel FROM marts.target_lists WHERE run_date = ? "
                                "ORDER BY 1", [run_date]).fetchall()
        for campaign_id, channel in campaigns:
            fields = CHANNEL_FIELDS.get(channel, ["phone"])
            cols = ", ".join(f"d.{f}" for f in fields)
            df = con.execute(f"""SELECT t.customer_id, {cols}, t.reason
                FROM marts.target_lists t JOIN marts.dim_customer d USING (customer_id)
                WHERE t.run_date = ? AND t.campaign_id = ? AND NOT t.is_holdout
                ORDER BY t.customer_id""", [run_date, campaign_id]).df()
            reasons = dict(con.execute("""SELECT reason, count(*) FROM marts.target_lists
                WHERE run_date = ? AND campaign_id = ? GROUP BY 1 ORDER BY 1""", [run_date, campaign_id]).fetchall())
            holdout = con.execute("""SELECT count(*) FROM marts.target_lists
                WHERE run_date = ? AND campaign_id = ? AND is_holdout""", [run_date, campaign_id]).fetchall()[0][0]
            csv_path = out_dir / f"{campaign_id}.csv"
            parquet_path = out_dir / f"{campaign_id}.parquet"
            df.to_csv(csv_path, index=False, encoding="utf-8-sig")  # BOM: Excel opens Chinese text correctly
            df.to_parquet(parquet_path, index=False)
            manifest["campaigns"].append({
                "campaign_id": campaign_id, "channel": channel, "rows_exported": len(df),
                "holdout": holdout, "counts_by_reason": reasons, "fields": ["customer_id", *fields, "reason"],
                "definition_sha256": _definition_hash(campaign_id),
                "files": {p.name: _sha256(p) for p in (csv_path, parquet_path)},
            })
            written[campaign_id] = len(df)
    finally:
        con.close()
    (out_dir / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
    return written
