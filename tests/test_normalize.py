import pytest

from bullseye import normalize as n


@pytest.mark.parametrize("raw", ["13800138001", "+86 138 0013 8001", "0086-138-0013-8001", "138-0013-8001",
                                 "8613800138001", "(+86)13800138001", "１３８００１３８００１"])
def test_mobile_written_many_ways_is_one_e164(raw):
    assert n.phone_e164(raw) == "+8613800138001"


def test_landline_and_invalid_phones():
    assert n.phone_e164("020-87654321") == "+862087654321"
    assert n.phone_e164("12345") is None
    assert n.phone_issue("12345") == "invalid"
    assert n.phone_issue(None) == "missing"


@pytest.mark.parametrize("junk", ["13800138000", "138-0013-8000", "13888888888"])
def test_junk_phones_are_not_keys(junk):
    assert n.phone_issue(junk) == "junk"
    assert n.phone_key(junk) is None


def test_emails():
    assert n.email_key(" Foo.Bar@QQ.com ") == "foo.bar@qq.com"
    assert n.email_key("test@test.com") is None
    assert n.email_norm("not-an-email") is None


def test_names_fold_traditional_and_drop_junk():
    assert n.person_name("陳 偉") == "陈伟"
    assert n.person_name(" 張麗華 ") == "张丽华"
    assert n.person_name("无") is None
    assert n.person_name("null") is None


def test_regions_standardized():
    assert n.province("广东") == "广东省"
    assert n.province("廣東省") == "广东省"
    assert n.province("北京") == "北京市"
    assert n.city("广州") == "广州市"
    assert n.city("北京") == "北京市"
    assert n.city("恩施土家族苗族自治州") == "恩施土家族苗族自治州"


def test_gender():
    assert [n.gender(x) for x in ["男", "F", "female", "2", "?"]] == ["M", "F", "F", "F", None]


@pytest.mark.parametrize("raw,expected", [
    # the numeric forms read before
    ("08-15", "08-15"), ("8/15", "08-15"), ("闰04-10", "闰04-10"), ("L4-10", "闰04-10"), ("1980-08-15", "08-15"),
    ("1993-闰06-10", "闰06-10"),
    # the written forms: lunar months are 正 (1), 二 ... 十, 冬 (11), 腊 (12); days 初一..初十, 十一.., 廿 = 20
    ("八月十五", "08-15"), ("农历八月十五", "08-15"), ("正月初一", "01-01"), ("腊月廿三", "12-23"),
    ("闰四月初十", "闰04-10"), ("冬月初八", "11-08"), ("十一月二十", "11-20"), ("十二月三十", "12-30"),
    ("五月二十二日", "05-22"), ("二月卅", "02-30"), ("阴历1980年八月十五", "08-15"), ("农历8月15日", "08-15"),
    # traditional characters and full-width digits are folded first
    ("閏四月初十", "闰04-10"), ("臘月廿三", "12-23"), ("１９８０年八月十五", "08-15"),
])
def test_lunar_birthdays_in_numbers_and_in_words(raw, expected):
    assert n.lunar_birthday(raw) == expected
    assert n.lunar_birthday_issue(raw) is None


@pytest.mark.parametrize("raw", ["十三月初一", "腊月三十一", "八月", "13-01", "8-0", "中秋", "abc"])
def test_an_unreadable_lunar_birthday_is_an_issue_not_a_silent_none(raw):
    """No lunar month 13 or day 31, a month without a day, a festival's name: written, but not a lunar birthday."""
    assert n.lunar_birthday(raw) is None
    assert n.lunar_birthday_issue(raw) == "unreadable"


@pytest.mark.parametrize("raw", [None, "", "  ", "无", "不详"])
def test_no_lunar_birthday_given_is_no_issue(raw):
    assert n.lunar_birthday(raw) is None and n.lunar_birthday_issue(raw) is None


def test_the_sql_functions_answer_as_the_python_rules_row_for_row():
    """The UDFs run vectorized (once per distinct value of a chunk, bullseye.dbt_plugin.vectorized): the answer
    for every row, NULLs and junk included, must be the row-wise rule's. 5,000 rows mix repeats, NULLs (which
    bz_phone_issue answers 'missing') and values that normalize to NULL; DuckDB hands them over in chunks."""
    import duckdb

    from bullseye.dbt_plugin import UDFS, register_udfs

    samples = ["138 0013 8000", "+86 13800138000", "abc", "", None, "  臺灣  ", "廣東", "广州", "alice@EXAMPLE.com",
               "not-an-email", "男", "F", "张三", "農曆三月初八", "1990-05-01", "０２０－１２３４５６７８"]
    rows = [samples[(i * 7) % len(samples)] for i in range(5_000)]
    con = duckdb.connect()
    try:
        register_udfs(con)
        con.execute("CREATE TABLE t (i INTEGER, v VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(rows)))
        for name, fn in UDFS.items():
            got = [r[0] for r in con.execute(f"SELECT {name}(v) FROM t ORDER BY i").fetchall()]
            assert got == [fn(v) for v in rows], name
        assert con.execute("SELECT bz_phone_issue(NULL), bz_phone_key(NULL)").fetchall() == [("missing", None)]
    finally:
        con.close()
