"""Issue 13 case 3: list licences that bind (bullseye.ingest.licences).

A list's id is its folder; a redelivered manifest can only narrow the licence; unreadable
dates reject it; legal_basis is a documented enumeration; expired lists are purged of
records that matched no customer; links out of the landing zone are never read."""

from __future__ import annotations

import json
import os

import pytest

from bullseye.ingest import load_landing
from tests.conftest import q, write

FAIR = {"list_id": "fair", "vendor": "博览会", "acquired_at": "2026-05-01", "legal_basis": "consent",
        "permitted_channels": ["sms", "phone"], "expires_at": "2026-12-31", "cost": 600}
RECORDS = "list_record_id,name,phone\nr1,刘洋,13912345678\nr2,王芳,13987654321\nr3,陈伟,13711112222\n"


def manifest(land, folder, **changes):
    write(land / "lists" / folder / "manifest.json", json.dumps({**FAIR, **changes}, ensure_ascii=False))


def in_force(con, list_id="fair"):
    """The terms stg_lists__manifests reads: the latest accepted manifest of the list."""
    rows = q(con, """SELECT list_sort(permitted_channels), expires_at::VARCHAR, legal_basis
        FROM raw.list_manifests WHERE list_id = ? ORDER BY _delivery_id DESC LIMIT 1""", list_id)
    return rows[0] if rows else None


def ledger(con, path):
    return q(con, "SELECT outcome, message FROM meta.load_ledger WHERE path = ? ORDER BY delivery_id", path)


def test_a_manifest_claiming_another_lists_id_is_rejected_and_its_records_held(tmp_path, con):
    land = tmp_path / "land"
    manifest(land, "fair")
    write(land / "lists" / "fair" / "r.csv", RECORDS)
    manifest(land, "hijack", list_id="fair", permitted_channels=["email", "mail", "wechat"], expires_at="2099-12-31")
    write(land / "lists" / "hijack" / "r.csv", "list_record_id,name,phone\nh1,周杰,13511112222\nh2,吴敏,13511113333\n"
          "h3,郑爽,13511114444\n")
    write(land / "lists" / "hijack" / "copy.csv", RECORDS)  # fair's bytes: still another folder's delivery
    load_landing(con, land, "2026-06-01")
    assert in_force(con) == (["phone", "sms"], "2026-12-31", "consent")
    assert q(con, "SELECT DISTINCT list_id FROM raw.list_manifests") == [("fair",)]
    assert q(con, "SELECT list_id, count(*) FROM raw.lists GROUP BY 1") == [("fair", 3)]
    (outcome, message), = ledger(con, "lists/hijack/manifest.json")
    assert outcome == "rejected" and "list_id 'fair'" in message and "lists/hijack/" in message
    held = q(con, "SELECT count(*), any_value(reason) FROM meta.quarantine WHERE starts_with(path, 'lists/hijack/') "
                  "AND action = 'row_held'")
    assert held[0][0] == 6 and "a list's id is its folder" in held[0][1]


def test_redelivery_narrows_a_licence_and_cannot_widen_it(tmp_path, con):
    land = tmp_path / "land"
    manifest(land, "fair")
    write(land / "lists" / "fair" / "r.csv", RECORDS)
    load_landing(con, land, "2026-06-01")
    # night 2: only the manifest changes (earlier expiry, one channel fewer): it takes effect
    manifest(land, "fair", permitted_channels=["sms"], expires_at="2026-09-30")
    load_landing(con, land, "2026-06-02")
    assert in_force(con) == (["sms"], "2026-09-30", "consent")
    # night 3: a redelivery that widens is rejected and the narrowed terms stay
    manifest(land, "fair", permitted_channels=["sms", "email"], expires_at="2099-12-31")
    write(land / "lists" / "fair" / "r2.csv", "list_record_id,name,phone\nr4,李娜,13600001111\n")
    report = load_landing(con, land, "2026-06-03")
    assert in_force(con) == (["sms"], "2026-09-30", "consent")
    outcome, message = ledger(con, "lists/fair/manifest.json")[-1]
    assert outcome == "rejected"
    assert "widens" in message and "2099-12-31" in message and "email" in message and "new list" in message
    assert any("widens" in n for n in report.notes)
    assert q(con, "SELECT count(*) FROM raw.lists WHERE list_record_id = 'r4'") == [(1,)]  # under the old terms
    # night 4: revoking the basis narrows too
    manifest(land, "fair", permitted_channels=["sms"], expires_at="2026-09-30", legal_basis="revoked")
    load_landing(con, land, "2026-06-04")
    assert in_force(con) == (["sms"], "2026-09-30", "revoked")
    # and a manifest that is back to the wider terms is still wider than those in force
    manifest(land, "fair")
    load_landing(con, land, "2026-06-05")
    assert in_force(con)[2] == "revoked"
    assert ledger(con, "lists/fair/manifest.json")[-1][0] == "rejected"


@pytest.mark.parametrize("field, value", [("expires_at", "someday"), ("expires_at", "2026-13-45"),
                                          ("acquired_at", "last spring"), ("expires_at", "2026-01-01")])
def test_unreadable_licence_dates_reject_the_manifest(tmp_path, con, field, value):
    land = tmp_path / "land"
    manifest(land, "fair", **{field: value})
    write(land / "lists" / "fair" / "r.csv", RECORDS)
    report = load_landing(con, land, "2026-06-01")
    assert q(con, "SELECT count(*) FROM raw.list_manifests") == [(0,)]
    assert q(con, "SELECT count(*) FROM raw.lists") == [(0,)]
    (outcome, message), = ledger(con, "lists/fair/manifest.json")
    assert outcome == "rejected" and field in message
    reasons = q(con, "SELECT DISTINCT reason FROM meta.quarantine WHERE path = 'lists/fair/r.csv'")
    assert len(reasons) == 1 and field in reasons[0][0]
    assert report.deliveries[0].outcome == "rejected"


def test_legal_basis_is_a_documented_enumeration(tmp_path, con):
    from bullseye.ingest.licences import BASIS_ALIASES, LEGAL_BASES, normalize_basis

    land = tmp_path / "land"
    spellings = {"a": "consent", "b": "Contract", "c": "public", "d": "consent_with_transfer",
                 "e": "visitor consent at fair registration", "f": "legal-duty"}
    for folder, basis in spellings.items():
        manifest(land, folder, list_id=folder, legal_basis=basis)
        write(land / "lists" / folder / "r.csv", RECORDS)
    report = load_landing(con, land, "2026-06-01")
    got = dict(q(con, "SELECT list_id, bz_legal_basis(legal_basis) FROM raw.list_manifests"))
    assert got == {"a": "consent_with_transfer", "b": "contract", "c": "public", "d": "consent_with_transfer",
                   "e": None, "f": "legal_duty"}
    # the list with no valid basis is loaded (kept for its scorecard), and the run says it is never contacted
    assert q(con, "SELECT count(*) FROM raw.lists WHERE list_id = 'e'") == [(3,)]
    assert [n for n in report.notes if "never contacted" in n] == [
        "list e: legal_basis 'visitor consent at fair registration' is not one of consent_with_transfer, contract, "
        "public, legal_duty, revoked: the list is loaded (kept for its scorecard) but never contacted"]
    assert ledger(con, "lists/e/manifest.json")[0][0] == "loaded_with_issues"
    # SQL and Python read every spelling alike
    for alias, code in BASIS_ALIASES.items():
        assert code in LEGAL_BASES
        assert q(con, "SELECT bz_legal_basis(?)", alias.replace("_", " ").upper()) == [(code,)]
        assert normalize_basis(alias.replace("_", " ").upper()) == code


def _identity_map(con, rows):
    """A committed night's identity map, as marts.customer_identity_map holds it."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    con.execute("CREATE OR REPLACE TABLE marts.customer_identity_map (source VARCHAR, source_record_id VARCHAR, "
                "customer_id VARCHAR)")
    con.executemany("INSERT INTO marts.customer_identity_map VALUES (?, ?, ?)", rows)


def test_an_expired_list_is_purged_of_records_that_matched_no_customer(tmp_path, con):
    land = tmp_path / "land"
    manifest(land, "fair", expires_at="2026-06-30")
    write(land / "lists" / "fair" / "r.csv", RECORDS + "r5,坏行,1,extra\n")
    manifest(land, "other", list_id="other", expires_at="2027-06-30")
    write(land / "lists" / "other" / "r.csv", RECORDS)
    load_landing(con, land, "2026-06-01")
    assert q(con, "SELECT count(*) FROM raw.lists") == [(6,)]
    _identity_map(con, [("crm_customers", "pos:1", "C1"), ("lists", "fair:r1", "C1"),  # r1 matched a customer
                        ("lists", "fair:r2", "P2"), ("lists", "fair:r3", "P3")])
    report = load_landing(con, land, "2026-06-30")  # the last day of the licence: nothing purged
    assert q(con, "SELECT count(*) FROM meta.list_purges") == [(0,)]
    report = load_landing(con, land, "2026-07-01")
    assert q(con, "SELECT list_record_id FROM raw.lists WHERE list_id = 'fair'") == [("r1",)]
    assert q(con, "SELECT count(*) FROM raw.lists WHERE list_id = 'other'") == [(3,)]
    assert q(con, "SELECT list_id, as_of::VARCHAR, expires_at::VARCHAR, rows_purged, quarantine_redacted, "
                  "rows_kept_matched FROM meta.list_purges") == [("fair", "2026-07-01", "2026-06-30", 2, 1, 1)]
    assert any("list fair expired on 2026-06-30: 2 records" in n for n in report.notes)
    assert q(con, "SELECT count(*) FROM meta.quarantine WHERE contains(record, '坏行')") == [(0,)]
    load_landing(con, land, "2026-07-02")  # purged once: nothing left to purge
    assert q(con, "SELECT count(*) FROM meta.list_purges") == [(1,)]


def test_without_an_identity_map_the_purge_waits_and_says_so(tmp_path, con):
    land = tmp_path / "land"
    manifest(land, "fair", expires_at="2026-06-30")
    write(land / "lists" / "fair" / "r.csv", RECORDS)
    report = load_landing(con, land, "2026-07-01")
    assert q(con, "SELECT count(*) FROM raw.lists") == [(3,)]
    assert any("not purged yet" in n for n in report.notes)


def test_links_out_of_the_landing_zone_are_refused_and_never_read(tmp_path, con):
    secret = tmp_path / "outside" / "passwd"
    write(secret, "list_record_id,name\nroot,SECRET-ROOT-LINE\n")
    land = tmp_path / "land"
    manifest(land, "fair")
    write(land / "lists" / "fair" / "r.csv", RECORDS)
    os.symlink(secret, land / "lists" / "fair" / "records.csv")         # a file link out
    os.symlink(secret.parent, land / "lists" / "fair" / "more")         # a folder link out
    os.symlink(secret.parent, land / "lists" / "elsewhere")             # a list folder link out
    os.symlink(land / "lists" / "fair" / "r.csv", land / "lists" / "fair" / "again.csv")  # inside: fine
    (land / "crm_customers").mkdir()
    os.symlink(secret, land / "crm_customers" / "c.csv")
    report = load_landing(con, land, "2026-06-01")
    refused = q(con, "SELECT path, outcome, message FROM meta.load_ledger WHERE message LIKE '%outside%' ORDER BY 1")
    assert [p for p, _, _ in refused] == ["crm_customers/c.csv", "lists/elsewhere", "lists/fair/more",
                                          "lists/fair/records.csv"]
    assert all(o == "rejected" and "resolves outside the landing zone" in m for _, o, m in refused)
    assert q(con, "SELECT count(*) FROM meta.quarantine WHERE contains(coalesce(record, '') || "
                  "coalesce(value, ''), 'SECRET')") == [(0,)]
    assert q(con, "SELECT count(*) FROM raw.lists") == [(3,)]  # again.csv: same bytes, same list, loaded once
    assert sum("outside the landing zone" in n for n in report.notes) == 4
    again = load_landing(con, land, "2026-06-02")  # refused once, not piled up in the ledger every night
    assert q(con, "SELECT count(*) FROM meta.load_ledger WHERE message LIKE '%outside%'") == [(4,)]
    assert {d.outcome for d in again.deliveries} == {"skipped_duplicate"}


def test_a_manifest_linked_from_outside_is_not_read_and_holds_the_records(tmp_path, con):
    outside = tmp_path / "outside" / "manifest.json"
    write(outside, json.dumps(FAIR))
    land = tmp_path / "land"
    write(land / "lists" / "fair" / "r.csv", RECORDS)
    os.symlink(outside, land / "lists" / "fair" / "manifest.json")
    load_landing(con, land, "2026-06-01")
    assert q(con, "SELECT count(*) FROM raw.list_manifests") == [(0,)]
    assert q(con, "SELECT count(*) FROM raw.lists") == [(0,)]
    reasons = q(con, "SELECT DISTINCT reason FROM meta.quarantine WHERE path = 'lists/fair/r.csv'")
    assert "outside the landing zone" in reasons[0][0]
