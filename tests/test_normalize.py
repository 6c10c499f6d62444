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
