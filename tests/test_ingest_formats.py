"""A delivery is read as what its extension says: ``.tsv`` is tab-separated, not comma-separated."""

from __future__ import annotations

from bullseye.ingest import load_landing
from tests.conftest import MINIMAL_ORDERS, q, write


def test_tsv_delivery_is_read_tab_separated_and_a_comma_stays_inside_its_field(tmp_path, con):
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.tsv",
          "source_customer_id\tname\taddress\n"
          "c1\t张伟\t北京市朝阳区建国路88号, 3号楼\n"
          "c2\t李娜\t上海市, 徐汇区, 漕溪北路1号\n"
          "c3\t王芳\t广州\textra\n"
          "c4\t刘洋\t深圳市南山区\n")
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    report = load_landing(con, land, "t")
    tsv = report.deliveries[0]
    assert (tsv.path, tsv.outcome, tsv.rows_in, tsv.rows_loaded, tsv.rows_quarantined) == (
        "crm_customers/a.tsv", "loaded_with_issues", 4, 3, 1)
    assert q(con, "SELECT source_customer_id, name, address FROM raw.crm_customers ORDER BY 1") == [
        ("c1", "张伟", "北京市朝阳区建国路88号, 3号楼"),
        ("c2", "李娜", "上海市, 徐汇区, 漕溪北路1号"),
        ("c4", "刘洋", "深圳市南山区")]
    # the extra field is counted with tabs, and the held record keeps its line number
    assert q(con, "SELECT line, reason, record FROM meta.quarantine") == [
        (4, "row has 4 fields, header has 3", "c3\t王芳\t广州\textra")]


def test_tsv_reads_on_after_an_unbalanced_quote_with_tabs(tmp_path, con):
    # The stager re-reads the rest of the file after the broken line: that copy is tab-separated too.
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.tsv",
          "source_customer_id\tname\taddress\n"
          "c1\t张伟\t北京, 朝阳\n"
          'c2\t"李娜\t上海\n'
          "c3\t王芳\t广州, 天河\n")
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    load_landing(con, land, "t")
    assert q(con, "SELECT source_customer_id, address FROM raw.crm_customers ORDER BY 1") == [
        ("c1", "北京, 朝阳"), ("c3", "广州, 天河")]
    assert q(con, "SELECT line FROM meta.quarantine") == [(3,)]


def test_encoding_declared_in_a_tsv_file_name_is_used(tmp_path, con):
    land = tmp_path / "land"
    write(land / "crm_customers" / "stores.gbk.tsv", "source_customer_id\tname\tcity\nc1\t陳偉\t廣州, 天河\n",
          encoding="gbk")
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    report = load_landing(con, land, "t")
    assert report.deliveries[0].encoding == "gb18030 (declared in file name)"
    assert q(con, "SELECT name, city FROM raw.crm_customers") == [("陳偉", "廣州, 天河")]


def test_an_unsupported_file_type_is_rejected_naming_the_types_that_are_read(tmp_path, con):
    land = tmp_path / "land"
    write(land / "crm_customers" / "a.xml", "<customers/>\n")
    write(land / "orders" / "o.csv", MINIMAL_ORDERS)
    report = load_landing(con, land, "t")
    xml = report.deliveries[0]
    assert xml.outcome == "rejected"
    assert xml.message == ("unsupported file type '.xml' (expected one of .csv, .json, .jsonl, .ndjson, .parquet, "
                           ".tsv, .txt)")
