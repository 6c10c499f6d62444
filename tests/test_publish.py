"""Publishing the marts: any warehouse file name, any home path, and a failed publish changes nothing."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from bullseye import publish as publish_module
from bullseye.publish import publish


def small_warehouse(path: Path, customers: int = 3) -> Path:
    """A warehouse with two marts tables (one with a name that needs quoting) and a table outside marts."""
    path.parent.mkdir(parents=True, exist_ok=True)
    built = path.with_name("built_here.duckdb")  # then renamed: a file named marts.duckdb makes 'marts' ambiguous
    con = duckdb.connect(str(built))
    try:
        con.execute("CREATE SCHEMA marts; CREATE SCHEMA staging")
        con.execute("CREATE TABLE marts.dim_customer AS SELECT 'c' || i AS customer_id FROM range(?) t(i)",
                    [customers])
        con.execute('CREATE TABLE marts."KPI by month" AS SELECT 1 AS n UNION ALL SELECT 2')
        con.execute("CREATE TABLE staging.raw AS SELECT 1 AS secret")
    finally:
        con.close()
    return built.rename(path)


def _read(published: Path) -> tuple[list, list, list]:
    con = duckdb.connect(str(published), read_only=True)
    try:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL").fetchall()
        customers = con.execute("SELECT customer_id FROM marts.dim_customer ORDER BY 1").fetchall()
        run = con.execute("SELECT run_id FROM main.publication").fetchall()
    finally:
        con.close()
    return tables, customers, run


def test_a_warehouse_named_wh_publishes(tmp_path):
    """Before: the copy was attached as 'wh' into a file named wh.tmp, whose own database is also 'wh':
    "database with name wh already exists", on every night."""
    wh = small_warehouse(tmp_path / "warehouse" / "wh.duckdb")
    target = tmp_path / "published" / "wh.duckdb"
    counts = publish(wh, target, "run-1")
    assert counts == {"marts.dim_customer": 3, "marts.KPI by month": 2}
    tables, customers, run = _read(target)
    assert tables == [("main", "publication"), ("marts", "KPI by month"), ("marts", "dim_customer"),
                      ("marts_masked", "KPI by month"), ("marts_masked", "dim_customer")]
    assert customers == [("c0",), ("c1",), ("c2",)] and run == [("run-1",)]
    assert sorted(p.name for p in target.parent.iterdir()) == ["wh.duckdb"]


@pytest.mark.parametrize("name", ["wh", "bullseye", "marts", "main", "memory", "system", "temp"])
def test_any_warehouse_name_publishes(tmp_path, name):
    wh = small_warehouse(tmp_path / "w" / f"{name}.duckdb")
    assert publish(wh, tmp_path / "p" / f"{name}.duckdb", "r")["marts.dim_customer"] == 3


def test_a_quote_and_a_space_in_the_home_path_publish(tmp_path):
    """Before: the path was pasted into ATTACH '...' and a quote ended the string: a parser error."""
    home = tmp_path / "O'Brien's marketing home"
    wh = small_warehouse(home / "warehouse" / "bullseye.duckdb")
    target = home / "published" / "bullseye.duckdb"
    assert publish(wh, target, "it's run 7") == {"marts.dim_customer": 3, "marts.KPI by month": 2}
    assert _read(target)[2] == [("it's run 7",)]


def test_a_second_publish_replaces_the_first(tmp_path):
    target = tmp_path / "published" / "bullseye.duckdb"
    publish(small_warehouse(tmp_path / "a" / "bullseye.duckdb", 3), target, "night-1")
    publish(small_warehouse(tmp_path / "b" / "bullseye.duckdb", 5), target, "night-2")
    _, customers, run = _read(target)
    assert len(customers) == 5 and run == [("night-2",)]


def test_a_failed_publish_keeps_the_last_publication_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = tmp_path / "published" / "bullseye.duckdb"
    publish(small_warehouse(tmp_path / "a" / "bullseye.duckdb", 3), target, "night-1")
    before = target.read_bytes()

    def broken(con, *args):
        con.execute("CREATE TABLE half_written AS SELECT 1")
        raise OSError("disk went away")

    monkeypatch.setattr(publish_module, "_copy_schemas", broken)
    with pytest.raises(OSError, match="disk went away"):
        publish(small_warehouse(tmp_path / "b" / "bullseye.duckdb", 5), target, "night-2")
    assert target.read_bytes() == before
    assert sorted(p.name for p in target.parent.iterdir()) == ["bullseye.duckdb"]


def test_a_missing_warehouse_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.duckdb does not exist"):
        publish(tmp_path / "nowhere.duckdb", tmp_path / "published" / "x.duckdb", "r")


# --- masked copies for BI roles without contact data (issue 13) ----------------------------------------------------

def test_the_publication_offers_masked_marts_without_contact_data(tmp_path):
    """Before: the publication had only the full marts (phone, email, address in clear for every BI role)."""
    wh = tmp_path / "w" / "bullseye.duckdb"
    wh.parent.mkdir(parents=True)
    con = duckdb.connect(str(wh))
    con.execute("CREATE SCHEMA marts")
    con.execute("""CREATE TABLE marts.dim_customer AS SELECT * FROM (VALUES
        ('C1', '王小明', '+8613812345678', 'wang@qq.com', DATE '1990-05-01', '新华路1号', '210000', 'abc123', '南京市'),
        ('C2', NULL, NULL, NULL, NULL, NULL, NULL, NULL, '北京市'))
        t(customer_id, name, phone, email, birth_date, address, postcode, id_card_hash, city)""")
    con.close()
    target = tmp_path / "p" / "bullseye.duckdb"
    publish(wh, target, "night-1")
    bi = duckdb.connect()
    bi.execute(f"ATTACH '{target}' AS bi (READ_ONLY)")  # under another name than its file's
    masked = bi.execute("SELECT * FROM bi.marts_masked.dim_customer ORDER BY customer_id").df()
    full = bi.execute("SELECT phone, email FROM bi.marts.dim_customer WHERE customer_id = 'C1'").fetchall()
    bi.close()
    assert list(masked.columns) == ["customer_id", "name", "phone", "birth_year", "city"]
    assert masked.iloc[0].tolist() == ["C1", "王**", "138****5678", 1990, "南京市"]
    assert masked.iloc[1][["name", "phone"]].isna().all()
    assert full == [("+8613812345678", "wang@qq.com")], "the full table stays for roles that need contact data"


def test_masking_rules():
    from bullseye.privacy.masking import masked_select

    cols = masked_select(["customer_id", "phone", "email", "email_key", "address", "wechat_unionid", "household_key",
                          "id_card_hash", "member_card_no", "name", "birth_date", "amount"])
    assert [c.split(" AS ")[-1] for c in cols] == ['"customer_id"', '"phone"', '"name"', '"birth_year"', '"amount"']
    con = duckdb.connect()
    phone = cols[1].split(" AS ")[0].replace('"phone"', "p")
    got = con.execute(f"SELECT {phone} FROM (VALUES ('+8613812345678'), ('0086 139-0000-1111'), ('010-6552-9988'), "
                      "('123')) t(p)").fetchall()
    assert got == [("138****5678",), ("139****1111",), ("010****9988",), ("****",)]
