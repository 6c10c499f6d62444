"""Identity rules on small hand-written cases, each on a background population that the
match model trains on. Every test states which records must (not) be one person."""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd
import pytest

from bullseye.identity import drift, explain, state
from bullseye.identity.graph import cluster
from bullseye.identity.ids import customer_id_for
from tests.identity_kit import night, population, rec

D1, D2, D3 = date(2026, 11, 1), date(2026, 11, 2), date(2026, 11, 3)


@pytest.fixture(scope="module")
def background() -> list[dict]:
    return population(1500, seed=11)


@pytest.fixture
def con():
    c = duckdb.connect()
    yield c
    c.close()


def same(out: pd.DataFrame, a: str, b: str) -> bool:
    return out.loc[a, "customer_id"] == out.loc[b, "customer_id"]


def test_shared_family_phone_links_no_one_but_same_name_records(con, background):
    case = [
        rec("crm_customers", "pos:dad", "王建国", "1960-03-01", "13911112222", city="上海市", address="长江路5号"),
        rec("crm_customers", "pos:mum", "李秀英", "1962-07-09", "13911112222", city="上海市", address="长江路5号"),
        rec("crm_customers", "web:dad", "王建国", "1960-03-01", "139 1111 2222", city="上海市"),
        rec("events", "a-family", phone="13911112222"),
    ]
    out = night(con, background + case, D1)
    assert not same(out, "crm_customers|pos:dad", "crm_customers|pos:mum")
    assert same(out, "crm_customers|pos:dad", "crm_customers|web:dad")
    # The visitor typed a phone two people use: it is not known whose it is.
    assert not same(out, "events|a-family", "crm_customers|pos:dad")
    assert not same(out, "events|a-family", "crm_customers|pos:mum")


def test_junk_phone_links_no_one(con, background):
    case = [rec("crm_customers", f"pos:junk{i}", n, b, "13800138000", city="北京市")
            for i, (n, b) in enumerate([("赵敏", "1990-01-01"), ("钱多", "1985-05-05"), ("孙悟", "1970-07-07")])]
    out = night(con, background + case, D1)
    assert out.loc[[f"crm_customers|pos:junk{i}" for i in range(3)], "customer_id"].nunique() == 3
    assert (out.loc[[f"crm_customers|pos:junk{i}" for i in range(3)], "match_rule"] == "singleton").all()


def test_shop_phone_with_too_many_records_links_no_one(con, background):
    case = [rec("crm_customers", f"pos:shop{i}", "张伟", None, "02088889999") for i in range(25)]
    out = night(con, background + case, D1)
    # 25 records, one name: without the cardinality limit one shop phone would fuse them all.
    assert out.loc[[f"crm_customers|pos:shop{i}" for i in range(25)], "customer_id"].nunique() == 25


def test_cannot_link_override_wins_over_a_shared_key(con, background):
    case = [rec("crm_customers", "pos:x1", "陈静", "1980-02-02", "13700001111", city="杭州市"),
            rec("crm_customers", "web:x2", "陈静", "1980-02-02", "13700001111", city="杭州市")]
    out = night(con, background + case, D1)
    assert same(out, "crm_customers|pos:x1", "crm_customers|web:x2")
    overrides = pd.DataFrame([dict(kind="cannot_link", source_a="crm_customers", record_a="pos:x1",
                                   source_b="crm_customers", record_b="web:x2", reason="two people, checked",
                                   added_by="qa", added_at=pd.Timestamp("2026-11-01"))])
    out = night(con, background + case, D2, overrides=overrides)
    assert not same(out, "crm_customers|pos:x1", "crm_customers|web:x2")
    why = explain.why_not(con, "crm_customers|pos:x1", "crm_customers|web:x2", records="recs", edges="edg",
                          clusters="clus")
    assert not why.merged
    assert any("cannot-link" in r for r in why.reasons)


def test_must_link_override_joins_records_with_nothing_in_common(con, background):
    case = [rec("crm_customers", "pos:m1", "周杰", "1979-01-18", "13600000001"),
            rec("lists", "fair:m2", "周董", None, "13600000002")]
    overrides = pd.DataFrame([dict(kind="must_link", source_a="crm_customers", record_a="pos:m1",
                                   source_b="lists", record_b="fair:m2", reason="same person, called", added_by="qa",
                                   added_at=pd.Timestamp("2026-11-01"))])
    out = night(con, background + case, D1, overrides=overrides)
    assert same(out, "crm_customers|pos:m1", "lists|fair:m2")
    assert out.loc["lists|fair:m2", "match_rule"] == "override:must_link"


def test_traditional_and_simplified_names_are_one_person(con, background):
    case = [rec("crm_customers", "pos:t1", "张伟华", "1975-09-09", "13512345678", city="广州市"),
            rec("lists", "fair:t2", "張偉華", None, "135-1234-5678", city="广州")]
    out = night(con, background + case, D1)
    assert same(out, "crm_customers|pos:t1", "lists|fair:t2")
    assert out.loc["lists|fair:t2", "match_rule"] == "deterministic:phone"


def test_wrong_phone_digit_with_same_name_and_birth_date_matches(con, background):
    case = [rec("crm_customers", "pos:w1", "欧阳娜娜", "1988-04-12", "13698765432", city="成都市",
                address="人民路18号", gender="F"),
            rec("crm_customers", "web:w2", "欧阳娜娜", "1988-04-12", "13698765482", city="成都市", gender="F")]
    out = night(con, background + case, D1)
    assert same(out, "crm_customers|pos:w1", "crm_customers|web:w2")
    assert out.loc["crm_customers|web:w2", "match_rule"] == "probabilistic"
    assert out.loc["crm_customers|web:w2", "match_probability"] >= 0.95


def test_common_name_alone_is_not_enough(con, background):
    case = [rec("crm_customers", "pos:c1", "王伟", "1970-01-01", "13100000001", city="北京市", gender="M"),
            rec("crm_customers", "web:c2", "王伟", "1991-06-30", "18900000002", city="北京市", gender="M")]
    out = night(con, background + case, D1)
    assert not same(out, "crm_customers|pos:c1", "crm_customers|web:c2")


def test_anonymous_visitor_joins_the_person_once_logged_in(con, background):
    person = rec("crm_customers", "web:U9", "刘洋", "1992-12-12", "13300009999", web_login="U9")
    out = night(con, background + [person, rec("events", "a-anon", city="上海市")], D1)
    assert not same(out, "events|a-anon", "crm_customers|web:U9")  # browsing only: nothing ties it yet
    assert out.loc["events|a-anon", "match_rule"] == "singleton"
    out = night(con, background + [person, rec("events", "a-anon", web_login="U9")], D2)
    assert same(out, "events|a-anon", "crm_customers|web:U9")
    assert out.loc["events|a-anon", "match_rule"] == "deterministic:web_login"


def test_conflicting_id_cards_are_never_merged(con, background):
    case = [rec("crm_customers", "pos:i1", "林峰", "1985-05-05", "13800001234", id_card="H-A"),
            rec("crm_customers", "web:i2", "林峰", "1985-05-05", "13800001234", id_card="H-B"),
            rec("crm_customers", "pos:i3", "林峰", "1985-05-05", id_card="H-A")]
    out = night(con, background + case, D1)
    assert same(out, "crm_customers|pos:i1", "crm_customers|pos:i3")
    assert not same(out, "crm_customers|pos:i1", "crm_customers|web:i2")
    refused = con.execute("select reason from identity.refused_edges").fetchall()
    assert ("conflicting id_card",) in refused


def test_same_input_same_ids_and_new_records_keep_ids(con, background):
    first = night(con, background, D1)
    again = night(con, background, D1)  # the same night re-run
    pd.testing.assert_series_equal(first["customer_id"], again["customer_id"])
    assert con.execute("select count(*) from identity.journal").fetchall()[0][0] == 0
    newcomer = rec("crm_customers", "pos:new", "孔明", "1981-08-08", "13312340000")
    later = night(con, background + [newcomer], D2)
    pd.testing.assert_series_equal(first["customer_id"], later.loc[first.index, "customer_id"])
    assert later.loc["crm_customers|pos:new", "customer_id"] == customer_id_for("crm_customers|pos:new")


def test_merge_keeps_the_oldest_id_and_journals_the_retired_one(con, background):
    a = rec("crm_customers", "web:z1", "杨帆", "1993-03-03", "13711110000", city="南京市")
    b = rec("crm_customers", "pos:z2", "杨帆", None, None, "yangfan@example.cn")
    out1 = night(con, background + [a], D1)
    out2 = night(con, background + [a, b], D2)
    assert not same(out2, "crm_customers|web:z1", "crm_customers|pos:z2")  # nothing ties them yet
    bridge = rec("lists", "fair:z3", "杨帆", None, "13711110000", "yangfan@example.cn")
    out3 = night(con, background + [a, b, bridge], D3)
    assert same(out3, "crm_customers|web:z1", "crm_customers|pos:z2")
    survivor = out1.loc["crm_customers|web:z1", "customer_id"]  # issued on D1, older than z2's
    assert out3.loc["crm_customers|pos:z2", "customer_id"] == survivor
    journal = con.execute("select event, old_customer_id, new_customer_id from identity.journal").fetchall()
    assert journal == [("merge", out2.loc["crm_customers|pos:z2", "customer_id"], survivor)]


def test_split_is_journaled_and_the_larger_part_keeps_the_id(con, background):
    case = [rec("crm_customers", "pos:s1", "郑爽", "1991-08-22", "13522223333"),
            rec("crm_customers", "pos:s2", "郑爽", "1991-08-22", "13522223333"),
            rec("crm_customers", "web:s3", "郑爽", "1991-08-22", "13522223333")]
    out1 = night(con, background + case, D1)
    cid = out1.loc["crm_customers|pos:s1", "customer_id"]
    overrides = pd.DataFrame([dict(kind="cannot_link", source_a="crm_customers", record_a="pos:s1",
                                   source_b="crm_customers", record_b="web:s3", reason="different people",
                                   added_by="qa", added_at=pd.Timestamp("2026-11-02"))])
    out2 = night(con, background + case, D2, overrides=overrides)
    kept = out2.loc[["crm_customers|pos:s1", "crm_customers|pos:s2", "crm_customers|web:s3"], "customer_id"]
    assert (kept == cid).sum() == 2 and kept.nunique() == 2
    events = con.execute("select event, old_customer_id from identity.journal").fetchall()
    assert events == [("split", cid)]


def test_incremental_night_ends_with_the_clusters_of_a_full_rebuild(background):
    extra = population(200, seed=12)
    inc = duckdb.connect()
    night(inc, background, D1)
    model = inc.execute("select * from identity.match_models").df()
    tf = inc.execute("select * from identity.match_tf").df()
    inc_out = night(inc, background + extra, D2, mode="incremental")
    run = inc.execute("select mode, rescored_records from identity.runs where as_of = ?", [D2]).fetchall()[0]
    assert run[0] == "incremental" and 0 < run[1] < len(background)
    full = duckdb.connect()  # a fresh warehouse with the same model, rescoring everything
    state.ensure(full)
    full.register("m", model)
    full.execute("insert into identity.match_models select * from m")
    full.register("t", tf)
    full.execute("insert into identity.match_tf select * from t")
    full_out = night(full, background + extra, D2, mode="full")
    as_sets = lambda o: sorted(sorted(g) for g in o.groupby("customer_id").groups.values())  # noqa: E731
    assert as_sets(inc_out) == as_sets(full_out)


def test_drift_above_the_limit_blocks_until_acknowledged(con, background):
    night(con, background, D1)
    # Tonight a bad export gives every two neighbouring records the same member card number:
    # an account key, so it ties them whatever their names, and many ids change.
    damaged = [dict(r, member_card=f"CARD{i // 2}") for i, r in enumerate(background)]
    night(con, damaged, D2, max_changed_share=0.05)
    reason = drift.blocking_reason(con, D2)
    assert reason and "changed customer_id" in reason
    drift.acknowledge(con, D2, "analyst", "checked the export")
    assert drift.blocking_reason(con, D2) is None


def test_graph_refuses_edges_that_join_two_id_cards():
    edges = pd.DataFrame({"a": ["r1", "r2", "r1", "r2", "r3"], "b": ["id_card:A", "id_card:B", "phone:1", "phone:1",
                                                                    "phone:1"],
                          "rule": ["id_card", "id_card", "phone", "phone", "phone"], "probability": [None] * 5})
    res = cluster(["r1", "r2", "r3"], edges)
    labels = res.records.set_index("record")["label"]
    assert labels["r1"] != labels["r2"]
    assert len(res.refused) == 1 and res.refused.iloc[0]["reason"] == "conflicting id_card"


def test_too_few_records_to_train_links_on_keys_only(con):
    case = [rec("crm_customers", "pos:a", "张伟", "1980-01-01", "13911112222"),
            rec("crm_customers", "web:a", "張偉", None, "139 1111 2222"),
            rec("crm_customers", "pos:b", "李娜", "1990-02-02", "13800001111")]
    out = night(con, case, D1)
    assert same(out, "crm_customers|pos:a", "crm_customers|web:a")
    assert not same(out, "crm_customers|pos:a", "crm_customers|pos:b")
    assert con.execute("select mode from identity.runs").fetchall()[0][0].startswith("keys only")


def test_a_night_with_no_keys_at_all_gives_singletons(con):
    case = [rec("crm_customers", "pos:n1", "王芳", None, None), rec("crm_customers", "pos:n2", "李强", None, None)]
    out = night(con, case, D1)
    assert out["customer_id"].nunique() == 2 and set(out["match_rule"]) == {"singleton"}


def test_keys_that_only_one_record_carries_tie_no_one(con):
    case = [rec("crm_customers", "pos:k1", "王芳", None, "13911112222"),
            rec("crm_customers", "pos:k2", "李强", None, "13922223333")]
    out = night(con, case, D1)
    assert out["customer_id"].nunique() == 2 and set(out["match_rule"]) == {"singleton"}
