"""The independent linkage corpus (tests/linkage_corpus.py) does what its docstring says."""

from __future__ import annotations

import json
import re

import pandas as pd
import pytest

from tests.linkage_corpus import (
    LIST_ID,
    LIST_MANIFEST,
    TWIN_SHARE,
    Corpus,
    make_corpus,
    write_landing,
)

N = 2000
COMPARED = ["name", "birth_date", "address", "postcode"]


@pytest.fixture(scope="module")
def hanzi() -> Corpus:
    return make_corpus(N, script="hanzi", member_card=True, postcode=True, seed=3)


@pytest.fixture(scope="module")
def latin() -> Corpus:
    return make_corpus(N, script="latin", member_card=True, postcode=True, seed=4)


def pairs(c: Corpus) -> pd.DataFrame:
    """Each duplicate beside its original (columns <col> and <col>_orig) with its log row."""
    recs = c.records.merge(c.log, on="source_record_id")
    orig = c.records.set_index("source_record_id").add_suffix("_orig")
    return recs[~recs["is_original"]].join(orig, on="original_record_id")


def hamming(a: str, b: str) -> int:
    return sum(x != y for x, y in zip(a, b, strict=True)) if len(a) == len(b) else -1


@pytest.mark.parametrize("share", [0.0, 0.25, 0.5])
def test_record_counts_follow_dup_share(share):
    c = make_corpus(400, dup_share=share, seed=1)
    per_person = c.truth.groupby("person_id").size()
    assert len(per_person) == 400 and (c.log["is_original"]).sum() == 400
    assert (per_person > 1).sum() == round(share * 400)
    assert set(per_person) <= {1, 2, 3, 4}
    assert len(c.records) == 400 + (per_person - 1).sum()


def test_duplicate_counts_are_one_two_or_three_at_the_documented_rates(hanzi):
    dups = hanzi.truth.groupby("person_id").size() - 1
    dups = dups[dups > 0]
    assert len(dups) == N // 2
    shares = dups.value_counts(normalize=True)
    assert shares[1] == pytest.approx(0.7, abs=0.05) and shares[2] == pytest.approx(0.2, abs=0.04)
    assert shares[3] == pytest.approx(0.1, abs=0.03)


def test_truth_covers_every_record_once_with_staging_ids(hanzi):
    t = hanzi.truth
    assert list(t.columns) == ["source", "source_record_id", "person_id"]
    assert t["source_record_id"].is_unique and set(t["source_record_id"]) == set(hanzi.records["source_record_id"])
    crm = hanzi.records[hanzi.records["file"] == "crm"]
    assert len(crm) == len(hanzi.records)
    assert (crm["source_system"] + ":" + crm["source_customer_id"]).tolist() == crm["source_record_id"].tolist()
    assert set(t["source"]) == {"crm_customers"} and t["person_id"].nunique() == N
    # ids are unique within their system and say nothing of the person
    assert not crm.duplicated(["source_system", "source_customer_id"]).any()


def test_no_contact_keys(hanzi, latin):
    for c in (hanzi, latin):
        assert not {"phone", "email", "wechat_unionid", "id_card_no"} & set(c.records.columns)


def test_every_record_carries_a_card_and_the_share_of_duplicates_asked_has_one_wrong_digit(hanzi):
    p = pairs(hanzi)
    assert hanzi.records["member_card_no"].str.fullmatch(r"M\d{9}").all()
    originals = hanzi.records[hanzi.log["is_original"].to_numpy()]
    assert originals["member_card_no"].is_unique
    dist = [hamming(a, b) for a, b in zip(p["member_card_no"], p["member_card_no_orig"], strict=True)]
    assert set(dist) == {0, 1}
    assert sum(dist) == round(0.1 * len(p)) == p["card_typo"].sum()
    no_typo = make_corpus(300, member_card=True, card_typo_share=0.0, seed=2)
    q = pairs(no_typo)
    assert (q["member_card_no"] == q["member_card_no_orig"]).all() and len(q) > 100


def test_cards_are_absent_unless_asked(hanzi):
    c = make_corpus(200, seed=2)
    assert "member_card_no" not in c.records.columns and "postcode" not in c.records.columns


@pytest.mark.parametrize("which", ["hanzi", "latin"])
def test_every_duplicate_differs_from_its_original_by_one_to_three_corruptions(which, request):
    c = request.getfixturevalue(which)
    p = pairs(c)
    same = (p[COMPARED].to_numpy() == p[[f"{k}_orig" for k in COMPARED]].to_numpy()).all(axis=1)
    assert not same.any()
    n = p["corruptions"].str.split(";").str.len()
    assert set(n) == {1, 2, 3}
    assert (n == 1).mean() == pytest.approx(0.5, abs=0.05) and (n == 3).mean() == pytest.approx(0.15, abs=0.04)
    missing = p[["name", "birth_date", "address"]].eq("").sum(axis=1)
    assert missing.max() == 1 and (missing == 1).mean() == pytest.approx(0.2, abs=0.05)
    assert not c.records.loc[c.log["is_original"].to_numpy(), COMPARED].eq("").any().any()


def test_hanzi_corruptions_do_what_they_say(hanzi):
    from opencc import OpenCC
    from pypinyin import Style, lazy_pinyin

    p = pairs(hanzi)
    kinds = p["corruptions"].str.split(";")
    has = lambda k: p[kinds.apply(lambda ks: k in ks)]  # noqa: E731
    trad = has("name_traditional")
    s2t = OpenCC("s2t")
    assert len(trad) > 50 and (trad["name"] == trad["name_orig"].map(s2t.convert)).all()
    homo = has("name_homophone")
    assert len(homo) > 50
    for new, old in zip(homo["name"], homo["name_orig"], strict=True):
        assert len(new) == len(old) and hamming(new, old) == 1
        assert lazy_pinyin(new, style=Style.NORMAL) == lazy_pinyin(old, style=Style.NORMAL)
    swap = has("date_swap_dm")
    assert len(swap) > 20
    for new, old in zip(swap["birth_date"], swap["birth_date_orig"], strict=True):
        assert new[:4] == old[:4] and (new[5:7], new[8:]) == (old[8:], old[5:7])
    year = has("date_year_off")
    assert (year["birth_date"].str[:4].astype(int) - year["birth_date_orig"].str[:4].astype(int)).abs().eq(1).all()
    short = has("addr_shorthand")
    assert short["address"].str.contains("栋").sum() == 0 and short["address"].str.contains(r"\d-\d").all()
    assert (has("missing_birth_date")["birth_date"] == "").all()
    pc = has("postcode_typo")
    assert [hamming(a, b) for a, b in zip(pc["postcode"], pc["postcode_orig"], strict=True)] == [1] * len(pc)
    all_dates = pd.to_datetime(p.loc[p["birth_date"] != "", "birth_date"], format="%Y-%m-%d")
    assert all_dates.between("1900-01-01", "2025-12-31").all()


def test_latin_corruptions_do_what_they_say(latin):
    p = pairs(latin)
    kinds = p["corruptions"].str.split(";")
    has = lambda k: p[kinds.apply(lambda ks: k in ks)]  # noqa: E731
    swapped = has("name_swap")
    assert len(swapped) > 30
    for new, old in zip(swapped["name"], swapped["name_orig"], strict=True):
        given, family = old.split(" ", 1)
        assert new in (f"{family} {given}", f"{family}, {given}")
    assert has("name_initial")["name"].str.fullmatch(r"[A-ZÀ-Ý]\.? \S+").all()
    typo = has("name_typo")
    assert len(typo) > 50 and (typo["name"].str.len() - typo["name_orig"].str.len()).abs().le(1).all()
    abbrev = has("addr_abbrev")
    assert abbrev["address"].str.contains(r" (?:St|Rd|Ave)\.?[ ,]").all()
    assert (has("name_case")["name"].str.isupper() | has("name_case")["name"].str.islower()).all()


def test_hanzi_names_repeat_and_rare_family_names_occur(hanzi):
    counts = hanzi.people["name"].value_counts()
    assert counts.iloc[0] >= 5  # common names (王伟, 李娜 ...) are shared by several people
    assert counts.index[0] in {f + g for f in "王李张刘陈" for g in ("伟", "芳", "娜", "秀英", "敏", "静")}
    assert hanzi.people["family"].str.len().eq(2).any()  # 欧阳, 司马 ...
    big = make_corpus(3000, seed=5).people
    assert {"王伟", "李娜", "张敏"} <= set(big["name"][big["name"].duplicated()])


def test_latin_names_have_skew_double_barrels_and_accents(latin):
    fam = latin.people["family"].value_counts()
    assert fam.index[0] == "Smith" and fam.iloc[0] > 3 * fam.median()
    assert latin.people["family"].str.contains("-").any()
    assert latin.people["name"].str.contains(r"[^\x00-\x7f]").any()


@pytest.mark.parametrize("which", ["hanzi", "latin"])
def test_planted_namesakes_are_distinct_people_with_the_same_name_and_birth_date(which, request):
    c = request.getfixturevalue(which)
    people = c.people.set_index("person_id")
    twins = people[people["twin_of"] != ""]
    assert len(twins) == round(TWIN_SHARE * N)
    src = people.loc[twins["twin_of"]]
    assert (twins["name"].to_numpy() == src["name"].to_numpy()).all()
    assert (twins["birth_date"].to_numpy() == src["birth_date"].to_numpy()).all()
    assert (twins["address"].to_numpy() != src["address"].to_numpy()).all()
    assert not set(twins.index) & set(src.index)
    # and they land: the original records of both carry the same name and birth date, other addresses
    orig = c.records[c.log["is_original"].to_numpy()].merge(c.truth, on="source_record_id").set_index("person_id")
    a, b = orig.loc[twins.index], orig.loc[twins["twin_of"]]
    assert (a["name"].to_numpy() == b["name"].to_numpy()).all()
    assert (a["birth_date"].to_numpy() == b["birth_date"].to_numpy()).all()
    assert (a["address"].to_numpy() != b["address"].to_numpy()).all()


def test_same_seed_same_corpus_and_another_seed_another():
    a = make_corpus(300, script="latin", member_card=True, two_files=True, seed=9)
    b = make_corpus(300, script="latin", member_card=True, two_files=True, seed=9)
    pd.testing.assert_frame_equal(a.records, b.records)
    pd.testing.assert_frame_equal(a.truth, b.truth)
    assert not make_corpus(300, script="latin", member_card=True, two_files=True, seed=10).records.equals(a.records)


def test_two_files_puts_originals_in_the_crm_and_duplicates_in_the_list():
    c = make_corpus(500, two_files=True, member_card=True, postcode=True, seed=6)
    log = c.log.set_index("source_record_id").loc[c.records["source_record_id"]]
    files = c.records["file"].to_numpy()
    assert (files[log["is_original"].to_numpy()] == "crm").all()
    assert (files[~log["is_original"].to_numpy()] == "list").all() and (files == "list").sum() > 200
    lst = c.records[c.records["file"] == "list"]
    assert (lst["source_record_id"] == LIST_ID + ":" + lst["list_record_id"]).all()
    assert (lst["source_system"] == "").all() and (lst["member_card_no"] == "").all()
    assert set(c.truth.loc[c.truth["source_record_id"].isin(lst["source_record_id"]), "source"]) == {"lists"}


def test_write_landing_writes_the_contract_files(tmp_path):
    c = make_corpus(300, script="latin", two_files=True, member_card=True, postcode=True, seed=7)
    truth_path = write_landing(c, tmp_path / "landing")
    land = tmp_path / "landing"
    assert truth_path == land / "_truth" / "identity.csv"
    read = lambda p: pd.read_csv(p, dtype=str, keep_default_na=False)  # noqa: E731
    crm = read(land / "crm_customers" / "customers.csv")
    assert list(crm.columns) == ["source_system", "source_customer_id", "name", "birth_date", "address", "city",
                                 "district", "postcode", "member_card_no"]
    want = c.records[c.records["file"] == "crm"][crm.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(crm, want)
    lst = read(land / "lists" / LIST_ID / "records.csv")
    assert list(lst.columns) == ["list_record_id", "name", "birth_date", "address", "city", "district", "postcode"]
    assert len(lst) == (c.records["file"] == "list").sum()
    manifest = json.loads((land / "lists" / LIST_ID / "manifest.json").read_text(encoding="utf-8"))
    assert manifest == {"list_id": LIST_ID, "vendor": LIST_MANIFEST["vendor"], "acquired_at": "2026-01-15",
                        "legal_basis": "contract", "permitted_channels": ["sms"]}
    pd.testing.assert_frame_equal(read(truth_path), c.truth)
    assert lst["name"].str.contains(",").any()  # "Smith, John" survives the CSV quoting
    want = c.records[c.records["file"] == "list"][lst.columns].reset_index(drop=True)
    pd.testing.assert_frame_equal(lst, want)


@pytest.mark.parametrize("script", ["hanzi", "latin"])
def test_the_loader_takes_every_row(tmp_path, con, script):
    from bullseye.ingest import load_landing

    c = make_corpus(300, script=script, two_files=True, member_card=True, postcode=True, seed=8)
    write_landing(c, tmp_path / "landing")
    report = load_landing(con, tmp_path / "landing", "2026-02-01")
    assert {d.outcome for d in report.deliveries} == {"loaded"}
    assert con.execute("SELECT count(*) FROM meta.quarantine").fetchall() == [(0,)]
    n_crm = int((c.records["file"] == "crm").sum())
    assert con.execute("SELECT count(*) FROM raw.crm_customers").fetchall() == [(n_crm,)]
    assert con.execute("SELECT count(*) FROM raw.lists").fetchall() == [(len(c.records) - n_crm,)]
    loaded = dict(con.execute("SELECT source_system || ':' || source_customer_id, coalesce(birth_date::VARCHAR, '') "
                              "FROM raw.crm_customers").fetchall())
    crm = c.records[c.records["file"] == "crm"]
    assert loaded == dict(zip(crm["source_record_id"], crm["birth_date"], strict=True))
    names = dict(con.execute("SELECT list_id || ':' || list_record_id, coalesce(name, '') FROM raw.lists").fetchall())
    lst = c.records[c.records["file"] == "list"]
    assert names == dict(zip(lst["source_record_id"], lst["name"], strict=True))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="script"):
        make_corpus(10, script="cyrillic")
    with pytest.raises(ValueError, match="dup_share"):
        make_corpus(10, dup_share=1.5)


def test_source_record_ids_match_staging_format(latin):
    assert latin.records["source_record_id"].str.fullmatch(r"(old_pos|mall_pos):C\d{7}").all()
    assert re.fullmatch(r"\w+", LIST_ID)
