import pandas as pd

from bullseye.identity import cluster_records, customer_id_for


def _run(records, edges):
    rec = pd.DataFrame(records, columns=["source", "source_record_id"])
    edg = pd.DataFrame(edges, columns=["source", "source_record_id", "key_type", "node"])
    out = cluster_records(rec, edg)
    return {r.source_record_id: (r.customer_id, r.match_rule) for r in out.itertuples()}


def test_shared_key_links_transitively_and_ids_are_deterministic():
    records = [("crm_customers", "a"), ("crm_customers", "b"), ("lists", "c"), ("events", "d")]
    edges = [("crm_customers", "a", "phone", "phone:+861"), ("crm_customers", "b", "phone", "phone:+861"),
             ("crm_customers", "b", "email", "email:x@y.cn"), ("lists", "c", "email", "email:x@y.cn")]
    got = _run(records, edges)
    assert got["a"][0] == got["b"][0] == got["c"][0] == customer_id_for("crm_customers|a")
    assert got["d"] == (customer_id_for("events|d"), "singleton")
    assert got["a"][1] == "deterministic:phone" and got["c"][1] == "deterministic:email"
    assert _run(records[::-1], edges[::-1]) == got  # order of input does not matter


def test_unused_edges_do_not_link():
    records = [("crm_customers", "a"), ("crm_customers", "b")]
    edges = [("crm_customers", "a", "phone", None), ("crm_customers", "b", "phone", None)]
    got = _run(records, edges)
    assert got["a"][0] != got["b"][0]


def test_rule_reports_strongest_key():
    records = [("crm_customers", "a"), ("crm_customers", "b")]
    edges = [("crm_customers", "a", "phone", "p"), ("crm_customers", "b", "phone", "p"),
             ("crm_customers", "a", "wechat_unionid", "u"), ("crm_customers", "b", "wechat_unionid", "u")]
    assert {r for _, r in _run(records, edges).values()} == {"deterministic:wechat_unionid"}
