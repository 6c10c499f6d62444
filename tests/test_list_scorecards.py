"""marts.list_scorecards: one row per purchased list, checked against the landing files themselves."""

from __future__ import annotations

import json

import duckdb
import pandas as pd

from bullseye import normalize
from tests.privacy_kit import committed_night


def _landing_truth(landing, list_id: str) -> dict:
    """What the list's own files say: data rows delivered, valid phones among the loaded records, cost."""
    folder = landing / "lists" / list_id
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    lines = 0
    for f in sorted(folder.glob("*.csv")):
        text = f.read_bytes().decode(manifest.get("encoding", "utf-8") or "utf-8", errors="replace")
        lines += len([line for line in text.splitlines()[1:] if line.strip()])
    return {"lines": lines, "cost": manifest.get("cost")}


def test_each_purchased_list_gets_a_scorecard_that_adds_up(demo_landing, demo_night):
    home, output = committed_night(demo_night)
    con = duckdb.connect(str(home / "warehouse" / "bullseye.duckdb"), read_only=True)
    try:
        cards = con.execute("SELECT * FROM marts.list_scorecards ORDER BY list_id").df()
        records = con.execute("""SELECT r.list_id, r.phone, i.customer_id,
                   i.customer_id IN (SELECT customer_id FROM marts.customer_identity_map WHERE source = 'crm_customers')
                   AS existing
            FROM raw.lists r JOIN marts.customer_identity_map i
              ON i.source = 'lists' AND i.source_record_id = r.list_id || ':' || r.list_record_id""").df()
        held = dict(con.execute("""SELECT split_part(path, '/', 2), count(*) FROM meta.quarantine
            WHERE source = 'lists' AND action = 'row_held' GROUP BY 1""").fetchall())
    finally:
        con.close()
    lists = sorted(p.name for p in (demo_landing / "lists").iterdir() if (p / "manifest.json").exists())
    assert cards["list_id"].tolist() == lists and len(lists) >= 2
    for card in cards.to_dict("records"):
        truth = _landing_truth(demo_landing, card["list_id"])
        mine = records[records["list_id"] == card["list_id"]]
        assert card["rows_delivered"] == truth["lines"]
        assert card["rows_quarantined"] == held.get(card["list_id"], 0)
        assert card["rows_loaded"] == len(mine) == card["records"]
        assert card["valid_phone_rate"] == sum(normalize.phone_key(p) is not None for p in mine["phone"]) / len(mine)
        assert card["people"] == mine["customer_id"].nunique()
        assert card["duplicates_within_list"] == len(mine) - mine["customer_id"].nunique()
        people = mine.drop_duplicates("customer_id")
        assert card["existing_customers"] == int(people["existing"].sum())
        assert card["net_new_people"] == card["people"] - card["existing_customers"]
        assert card["contacted"] >= card["responded"] >= 0 and card["bought"] >= 0
        cost = truth["cost"]
        if cost is not None and card["net_new_people"]:
            assert abs(card["cost_per_net_new_person"] - cost / card["net_new_people"]) < 1e-6
        else:
            assert pd.isna(card["cost_per_net_new_person"])
        if cost is not None and card["bought"]:
            assert abs(card["cost_per_buyer"] - cost / card["bought"]) < 1e-6
    assert "Purchased lists" in output and all(lid in output for lid in lists), "shown in the run summary"
