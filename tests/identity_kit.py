"""Build the resolver's inputs by hand: records, their keys, and the *real* edge rules.

The keys go through the same normalizers as staging, and the edge rules are the
dbt model's SQL rendered with its refs and vars, so these tests exercise the code
that runs at night, not a copy of it.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pandas as pd

from bullseye import normalize
from bullseye.identity.benchmark import edges_sql
from bullseye.identity.resolver import IdentityConfig, resolve

RECORD_COLUMNS = ["source", "source_record_id", "name", "birth_date", "phone", "email", "city", "address", "gender",
                  "id_card", "web_login", "member_card", "postcode"]


def rec(source: str, rid: str, name=None, birth=None, phone=None, email=None, city=None, address=None,
        gender=None, id_card=None, web_login=None, member_card=None, postcode=None) -> dict:
    return dict(source=source, source_record_id=rid, name=name, birth_date=birth, phone=phone, email=email,
                city=city, address=address, gender=gender, id_card=id_card, web_login=web_login,
                member_card=member_card, postcode=postcode)


def load(con: duckdb.DuckDBPyConnection, rows: list[dict]) -> None:
    """Create tables recs (int_identity__records), keys and edg (int_identity__edges) from ``rows``."""
    df = pd.DataFrame(rows, columns=RECORD_COLUMNS).astype(object)
    df = df.where(df.notna(), None)
    records = pd.DataFrame({
        "source": df.source, "source_record_id": df.source_record_id,
        "name": df.name.map(lambda v: normalize.person_name(v) if v else None),
        "birth_date": pd.to_datetime(df.birth_date).dt.date,
        "phone": df.phone.map(lambda v: normalize.phone_e164(v) if v else None),
        "email": df.email.map(lambda v: normalize.email_norm(v) if v else None),
        "city": df.city.map(lambda v: normalize.city(v) if v else None),
        "address": df.address.map(lambda v: normalize.fold_text(v) if v else None), "gender": df.gender,
        "postcode": df.postcode,
    })
    records["name_pinyin"] = df.name.map(lambda v: normalize.name_pinyin(v) if v else None)
    keys = []
    for r in df.itertuples():
        for key_type, value in (("phone", r.phone and normalize.phone_key(r.phone)),
                                ("email", r.email and normalize.email_key(r.email)),
                                ("id_card", r.id_card), ("web_login", r.web_login), ("member_card", r.member_card)):
            if value:
                keys.append((r.source, r.source_record_id, key_type, value))
    con.register("__recs", records)
    con.execute("create or replace table recs as select * from __recs")
    con.register("__keys", pd.DataFrame(keys, columns=["source", "source_record_id", "key_type", "key_value"]))
    con.execute("create or replace table keys as select * from __keys")
    con.execute(f"create or replace table edg as {edges_sql('recs', 'keys')}")


def night(con: duckdb.DuckDBPyConnection, rows: list[dict], as_of: date, overrides: pd.DataFrame | None = None,
          **config) -> pd.DataFrame:
    """Load ``rows`` and resolve one night; returns record -> customer_id, match_rule, ..."""
    load(con, rows)
    result = resolve(con, "recs", "edg", as_of, IdentityConfig(**config), overrides)
    con.register("__clus", result.records)
    con.execute("create or replace table clus as select * from __clus")
    out = result.records.assign(record=lambda d: d.source + "|" + d.source_record_id)
    return out.set_index("record")


SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈")
GIVEN = list("伟芳娜秀敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华玉萍红娥玲芬燕鹏辉建国海波宁文斌云飞")
CITIES = ["北京市", "上海市", "广州市", "深圳市", "杭州市", "南京市", "成都市", "武汉市"]
STREETS = ["人民路", "解放路", "中山路", "建设路", "和平路", "新华路", "长江路", "学府路"]


def population(n: int, seed: int = 0, dup_share: float = 0.3) -> list[dict]:
    """``n`` random people as CRM records, a share of them duplicated in a second system
    with realistic damage (missing phone or email, one wrong phone digit, another street).
    Enough background for the match model to train on."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN, rng.integers(1, 3)))
        birth = str(np.datetime64("1950-01-01") + int(rng.integers(0, 20000)))
        phone = f"1{rng.choice([3, 5, 8])}{rng.integers(0, 10**9):09d}"
        city = rng.choice(CITIES)
        address = f"{rng.choice(STREETS)}{rng.integers(1, 300)}号"
        gender = rng.choice(["M", "F"])
        email = f"u{seed}x{i}@example.cn" if rng.random() < 0.5 else None
        rows.append(rec("crm_customers", f"pos:{seed}-{i}", name, birth, phone, email, city, address, gender))
        if rng.random() < dup_share:
            d_phone = None if rng.random() < 0.4 else phone
            d_email = None if rng.random() < 0.6 else email
            d_address = address if rng.random() < 0.7 else f"{rng.choice(STREETS)}88号"
            rows.append(rec("crm_customers", f"web:{seed}-{i}", name, birth if rng.random() < 0.9 else None,
                            d_phone, d_email, city, d_address, gender))
    return rows


def corpus_rows(records: pd.DataFrame) -> list[dict]:
    """Rows for :func:`load` from a landing-format corpus (tests/linkage_corpus.py): CRM and list
    records as staging would see them (empty strings are missing values)."""
    rows = []
    for r in records.fillna("").to_dict("records"):
        val = {k: (v if v != "" else None) for k, v in r.items()}
        card = val.get("member_card_no")
        rows.append(rec("crm_customers" if r["file"] == "crm" else "lists", r["source_record_id"], val["name"],
                        val["birth_date"], city=val.get("city"), address=val.get("address"),
                        member_card=card.upper() if card else None, postcode=val.get("postcode")))
    return rows


def pairwise(result: pd.DataFrame, truth: pd.DataFrame) -> tuple[float, float, float]:
    """Pairwise precision, recall and F1 of ``result`` (record -> customer_id) against ``truth``."""
    t = truth.assign(record=truth.source + "|" + truth.source_record_id).set_index("record")["person_id"]
    both = pd.DataFrame({"person": t, "customer": result["customer_id"].reindex(t.index)}).dropna()

    def pairs(keys: list[str]) -> int:
        n = both.groupby(keys).size()
        return int((n * (n - 1) // 2).sum())

    true, pred, hit = pairs(["person"]), pairs(["customer"]), pairs(["person", "customer"])
    p = hit / pred if pred else 1.0
    r = hit / true if true else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)
