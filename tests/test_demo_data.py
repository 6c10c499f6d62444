import hashlib
import re

import pandas as pd
import pytest

from bullseye.demo import generate


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a, b, c = (generate(tmp_path / x, scale=0.02, seed=s).out for x, s in (("a", 3), ("b", 3), ("c", 4)))
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_demo_has_every_source_and_planted_problems(demo_landing):
    for folder in ["crm_customers", "orders", "order_lines", "events", "lists", "contacts", "service",
                   "consents", "stores", "store_targets"]:
        assert any((demo_landing / folder).rglob("*.*")), folder
    crm_sources = {p.stem for p in (demo_landing / "crm_customers").glob("*.csv")}
    assert len(crm_sources) >= 2
    gb = demo_landing / "lists" / "alliance_baby_2026" / "records.csv"
    with pytest.raises(UnicodeDecodeError):
        gb.read_bytes().decode("utf-8")
    assert "编码" not in gb.read_bytes().decode("gb18030")  # decodes cleanly as GB18030
    planted = pd.read_csv(demo_landing / "_truth" / "planted.csv")
    for problem in ["junk_phone", "junk_email", "wrong_phone_digit", "unreadable_birth_date",
                    "wrong_field_count", "unreadable_order_ts", "undeclared_gb18030"]:
        assert (planted.problem == problem).any(), problem
    people = pd.read_csv(demo_landing / "_truth" / "people.csv")
    assert people.family.any()  # family members sharing one phone
    crm = "".join(p.read_text(encoding="utf-8") for p in (demo_landing / "crm_customers").glob("*.csv"))
    assert re.search("陳|張|劉|楊|趙|黃|吳|鄭|偉|麗|華|國", crm)  # traditional variants
    assert ",0086-1" in crm and re.search(r",\+86 1\d\d \d{4} \d{4},", crm)  # many phone forms


def test_truth_names_one_person_per_record(demo_landing):
    truth = pd.read_csv(demo_landing / "_truth" / "identity.csv")
    assert not truth.duplicated(["source", "source_record_id"]).any()
    sizes = truth.groupby("person_id").size()
    assert (sizes > 1).sum() > 50  # plenty of duplicates to find


def test_orders_written_in_blocks_give_the_same_files(demo_landing, tmp_path):
    """The generator writes orders and order lines a block of people at a time (bounded memory at scale 100);
    the block size changes nothing in the files, nor in the counts it reports."""
    chunked = generate(tmp_path / "chunked", scale=0.1, seed=7, order_block=13)
    assert chunked.order_blocks > 20  # really written in many blocks
    assert _digest(chunked.out) == _digest(demo_landing)  # the session's demo, written in one block
    one = generate(tmp_path / "one", scale=0.1, seed=7, order_block=10**9)
    assert one.order_blocks == 1
    assert chunked.counts == one.counts and list(chunked.counts) == list(one.counts)


def test_counts_and_planted_orders_match_the_files(tmp_path):
    summary = generate(tmp_path / "d", scale=0.2, seed=5, order_block=17)
    out = summary.out
    for rel, n in summary.counts.items():
        path = out / rel
        if rel.endswith(".csv") and rel.startswith(("orders/", "order_lines/")):
            assert len(pd.read_csv(path, dtype=str)) == n, rel
        elif rel.endswith(".parquet"):
            assert len(pd.read_parquet(path)) == n, rel
    events = sum(sum(1 for _ in p.open(encoding="utf-8")) for p in (out / "events").glob("*.jsonl"))
    assert events == summary.counts["events"] + 2  # and two broken lines
    orders = pd.concat([pd.read_csv(p, dtype=str) for p in (out / "orders").glob("*.csv")]
                       + [pd.read_parquet(out / "orders" / "web_shop_orders.parquet")], ignore_index=True)
    assert not orders.order_id.duplicated().any()
    planted = pd.read_csv(out / "_truth" / "planted.csv")
    planted = planted[planted["where"] == "orders"].merge(orders, left_on="locator", right_on="order_id")
    assert len(planted) >= 4 and set(planted.problem) == {"unreadable_order_ts", "unreadable_amount"}
    bad_ts = planted.problem == "unreadable_order_ts"
    assert (planted.order_ts[bad_ts] == "2025-13-45 25:61:00").all()
    assert (planted.amount[~bad_ts] == "abc").all()
    assert (orders.order_ts == "2025-13-45 25:61:00").sum() == bad_ts.sum()
    assert (orders.amount == "abc").sum() == (~bad_ts).sum()


def test_parquet_written_in_pieces_is_the_file_pandas_writes(tmp_path):
    import numpy as np

    from bullseye.demo.generator import _ParquetSink

    df = pd.DataFrame({"a": [f"x{i}" for i in range(4507)], "b": [None if i % 3 else str(i) for i in range(4507)]})
    whole = tmp_path / "whole.parquet"
    df.to_parquet(whole, index=False, row_group_size=1000)
    sink = _ParquetSink(tmp_path / "pieces.parquet", row_group=1000)
    for piece in np.split(np.arange(len(df)), [1, 1000, 2500, 2507, 4000]):
        sink.add(df.iloc[piece].reset_index(drop=True))
    assert sink.close(list(df.columns)) == len(df)
    assert (tmp_path / "pieces.parquet").read_bytes() == whole.read_bytes()
    small = _ParquetSink(tmp_path / "small.parquet")  # under one row group: one write, as pandas does
    small.add(df.iloc[:10])
    small.add(df.iloc[10:20].reset_index(drop=True))
    small.close(list(df.columns))
    df.iloc[:20].to_parquet(tmp_path / "small_whole.parquet", index=False)
    assert (tmp_path / "small.parquet").read_bytes() == (tmp_path / "small_whole.parquet").read_bytes()
