"""``bench identity --records FILE --truth FILE`` on a labelled file written by hand.

The records carry no phone or email on the CRM side, and there are fewer than 500 of them,
so the resolver links on exact keys only (it says so). Every true and predicted pair is
therefore known in advance, from the member cards and the one shared list phone:

    person  records            keys                                   pairs (true / predicted / both)
    P1      c01 c02            card M001 on both                      1 / 1 / 1
    P2      c03 c04 c05        card M002 (c05 typed m002: staging     3 / 3 / 3
                               upper-cases it)
    P3      c06 c07            c07's card M0O3 is a typo of M003      1 / 0 / 0
    P4      c08 L01            no shared key (the list has no card)   1 / 0 / 0
    P5, P6  c09 | c10          two people (same name and birthday,    0 / 1 / 0
                               other cities) sharing card M005
    P12     L02 L03            one phone, written two ways            1 / 1 / 1
    others  singletons

    true 7, predicted 6, correct 5: precision 5/6, recall 5/7, F1 = 2*5/(7+6) = 10/13.

The CRM file also has a row without source_customer_id (held back whole) and an
unreadable birth date (value dropped): both must be counted and named. The truth (two
columns, the files' own ids) labels one record, c99, that is in no file.
"""

from __future__ import annotations

import pytest

from bullseye.identity.benchmark import BenchInputError, map_truth, read_truth, run_file_bench

CRM = """source_customer_id,name,gender,birth_date,member_card_no,province,city,address
c01,张伟,男,1985-03-12,M001,广东省,广州市,天河区体育西路1号
c02,张伟,男,1985-03-12,M001,广东省,广州市,天河区体育西路1号
c03,李娜,女,1990-07-01,M002,上海市,上海市,浦东新区世纪大道100号
c04,李娜,女,1990-07-01,M002,上海市,上海市,浦东新区世纪大道100号
c05,李娜,女,1990-07-01,m002,上海市,上海市,浦东新区世纪大道100号
c06,王强,男,1978-11-30,M003,北京市,北京市,朝阳区建国路5号
c07,王强,男,1978-11-30,M0O3,北京市,北京市,朝阳区建国路5号
c08,陈静,女,1995-02-14,M004,浙江省,杭州市,西湖区文三路8号
c09,刘洋,男,1988-08-08,M005,四川省,成都市,武侯区人民南路20号
c10,刘洋,男,1988-08-08,M005,湖北省,武汉市,江汉区解放大道3号
c11,赵敏,女,1992-05-05,,江苏省,苏州市,姑苏区人民路9号
c12,孙丽,女,1987-09-09,M006,福建省,厦门市,思明区中山路2号
c13,周杰,男,1980-01-01,,山东省,青岛市,市南区香港中路7号
c14,吴芳,女,1999-12-12,M007,湖南省,长沙市,岳麓区麓山南路4号
c15,郑凯,男,1993-13-45,M008,河南省,郑州市,金水区花园路6号
,黄磊,男,1982-04-04,M009,陕西省,西安市,雁塔区小寨路1号
"""
LIST = """list_record_id,name,phone,birth_date,city,address
L01,陈静,,1995-02-14,杭州市,西湖区文三路8号
L02,何平,13524681357,1986-06-06,南京市,鼓楼区中山北路10号
L03,何平,135-2468-1357,1986-06-06,南京市,鼓楼区中山北路10号
L04,马丽,,1991-10-10,天津市,和平区南京路12号
"""
TRUTH = """record_id,person
c01,P1
c02,P1
c03,P2
c04,P2
c05,P2
c06,P3
c07,P3
c08,P4
L01,P4
c09,P5
c10,P6
c11,P7
c12,P8
c13,P9
c14,P10
c15,P11
L02,P12
L03,P12
L04,P13
c99,P14
"""


def _write(path, text: str):
    path.write_text(text, encoding="utf-8")
    return path


def test_file_bench_scores_a_labelled_crm_file_and_list_on_their_keys(tmp_path):
    src = tmp_path / "mine"
    src.mkdir()
    crm, lst = _write(src / "customers.csv", CRM), _write(src / "fair_2026.csv", LIST)
    truth = _write(src / "truth.csv", TRUTH)

    res = run_file_bench(tmp_path / "work", [crm, lst], truth, progress=lambda _: None)

    s = res.scores
    assert (s.true_pairs, s.predicted_pairs, s.correct_pairs) == (7, 6, 5)
    assert res.precision == pytest.approx(5 / 6) and res.recall == pytest.approx(5 / 7)
    assert res.f1 == pytest.approx(10 / 13)
    assert (res.records, res.labelled, res.truth_rows, res.truth_unknown) == (19, 19, 20, ["c99"])
    assert res.truth_format == "own ids"
    assert res.matching == "keys only"
    assert "fewer than the 500" in res.matching_note
    # nothing dropped silently: the held row and the dropped value are counted and named by file
    assert (res.rows_in, res.rows_loaded, res.rows_quarantined, res.values_quarantined) == (20, 19, 1, 1)
    assert len(res.quarantine) == 2 and all(str(crm) in line for line in res.quarantine)
    assert any("source_customer_id" in line and "row held back" in line for line in res.quarantine)
    assert any("birth_date" in line and "value dropped" in line and "line(s) 16" in line for line in res.quarantine)
    # the list had no manifest: the benchmark wrote one, under the file's stem, and says so
    assert any(n.startswith("list fair_2026") and "legal_basis contract" in n for n in res.notes)
    assert res.resolve_seconds > 0 and res.setup_seconds > res.resolve_seconds and res.peak_rss_mb > 0


def test_read_truth_reads_both_formats_and_maps_own_ids_to_staging_ids(tmp_path):
    import pandas as pd

    demo = read_truth(_write(tmp_path / "a.csv", "source,source_record_id,person_id\n"
                                                  "crm_customers,crm:c1,P1\nlists,fair:r1,P1\n"))
    assert demo.kind == "staging ids" and demo.frame.values.tolist() == [
        ["crm_customers", "crm:c1", "P1"], ["lists", "fair:r1", "P1"]]
    own = read_truth(_write(tmp_path / "b.csv", "source_customer_id,cluster\n c1 ,P1\nr1,P1\nzz,P2\n"))
    assert own.kind == "own ids" and own.id_column == "source_customer_id"
    id_map = pd.DataFrame([("c1", "crm_customers", "store:c1"), ("r1", "lists", "fair:r1")],
                          columns=["own_id", "source", "source_record_id"])
    labels, unknown = map_truth(own, id_map)
    assert labels.values.tolist() == [["crm_customers", "store:c1", "P1"], ["lists", "fair:r1", "P1"]]
    assert unknown == ["zz"]
    labels, unknown = map_truth(demo, id_map)
    assert labels.values.tolist() == [["lists", "fair:r1", "P1"]] and unknown == ["crm_customers|crm:c1"]
    # an own id two records use cannot be placed: refused, with the way out
    twice = pd.concat([id_map, pd.DataFrame([("c1", "lists", "fair:c1")], columns=id_map.columns)])
    with pytest.raises(BenchInputError, match="'c1' is crm_customers|store:c1, lists|fair:c1"):
        map_truth(own, twice)


@pytest.mark.parametrize("name, content, problem", [
    ("missing.csv", None, "does not exist"),
    ("empty.csv", "", "is empty"),
    ("three.csv", "a,b,c\n1,2,3\n", "expected the columns source,source_record_id,person_id"),
    ("header_only.csv", "record_id,person\n", "has a header but no rows"),
    ("blank.csv", "record_id,person\nc1,P1\nc2,\n", "1 row(s) have an empty cluster id (first on line 3)"),
    ("twice.csv", "record_id,person\nc1,P1\nc1,P2\n", "record c1 is labelled more than once (lines 2, 3)"),
    ("source.csv", "source,source_record_id,person_id\ncrm,crm:c1,P1\n", "found 'crm' on 1 row(s)"),
])
def test_read_truth_rejects_a_bad_file_naming_it_and_the_problem(tmp_path, name, content, problem):
    path = tmp_path / name
    if content is not None:
        _write(path, content)
    with pytest.raises(BenchInputError) as err:
        read_truth(path)
    assert str(err.value).startswith(f"truth file {path}: ") and problem in str(err.value)
