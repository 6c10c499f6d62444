"""Value normalizers shared by staging (as DuckDB UDFs), identity and tests.

Identity keys only match when both sides were normalized the same way, so every
place that compares phones, emails, names or regions goes through these
functions. They are pure, cached, and return ``None`` for values that carry no
information (empty, junk, unparseable) so that SQL sees a NULL.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import phonenumbers
from opencc import OpenCC

_T2S = OpenCC("t2s")

# Values that people type into forms when they do not want to give the real one.
JUNK_PHONES = frozenset(
    {"+8613800138000", "+8613888888888", "+8613900000000", "+8613000000000", "+8618888888888",
     "+8613812345678", "+8612345678901"}
)
JUNK_EMAILS = frozenset(
    {"test@test.com", "a@a.com", "123@qq.com", "none@none.com", "test@qq.com", "no@no.com",
     "null@null.com", "xxx@xxx.com"}
)
JUNK_TEXT = frozenset(
    {"", "无", "无名", "不详", "未知", "没有", "null", "none", "n/a", "na", "-", "--", "测试",
     "test", "x", "xx", "xxx", "先生", "女士", "小姐", "0"}
)

_MOBILE = re.compile(r"^(?:0086|86)?(1[3-9]\d{9})$")
_NON_DIGIT = re.compile(r"[^\d+]")
_EMAIL = re.compile(r"^[a-z0-9._%+\-]+@[a-z0-9.\-]+\.[a-z]{2,}$")

PROVINCES = (
    "北京市", "天津市", "上海市", "重庆市", "河北省", "山西省", "辽宁省", "吉林省", "黑龙江省",
    "江苏省", "浙江省", "安徽省", "福建省", "江西省", "山东省", "河南省", "湖北省", "湖南省",
    "广东省", "海南省", "四川省", "贵州省", "云南省", "陕西省", "甘肃省", "青海省", "台湾省",
    "内蒙古自治区", "广西壮族自治区", "西藏自治区", "宁夏回族自治区", "新疆维吾尔自治区",
    "香港特别行政区", "澳门特别行政区",
)
_PROVINCE_BY_SHORT = {}
for _p in PROVINCES:
    _short = re.sub(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$", "", _p)
    _PROVINCE_BY_SHORT[_short] = _p
    _PROVINCE_BY_SHORT[_p] = _p
_PROVINCE_BY_SHORT.update({"内蒙": "内蒙古自治区", "粤": "广东省", "沪": "上海市", "京": "北京市"})
_CITY_SUFFIXES = ("市", "地区", "盟", "自治州")


@lru_cache(maxsize=200_000)
def fold_text(value: str | None) -> str | None:
    """NFKC, trimmed, inner whitespace collapsed, traditional folded to simplified."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value).strip()
    text = re.sub(r"\s+", " ", text)
    if not text:
        return None
    return _T2S.convert(text)


def is_junk_text(value: str | None) -> bool:
    return value is None or value.strip().lower() in JUNK_TEXT


@lru_cache(maxsize=200_000)
def person_name(value: str | None) -> str | None:
    """A name fit for matching: folded to simplified, junk removed, no spaces in Han names."""
    text = fold_text(value)
    if text is None or is_junk_text(text):
        return None
    if re.fullmatch(r"[\u3400-\u9fff·\s]+", text):
        text = text.replace(" ", "")
    return text


@lru_cache(maxsize=500_000)
def phone_e164(value: str | None) -> str | None:
    """E.164 for a Chinese phone written in any common form, else None.

    A fast path handles mobiles (the bulk); landlines and foreign numbers go
    through ``phonenumbers``. The result is not checked against the junk list:
    see :func:`phone_issue` for that.
    """
    if value is None:
        return None
    raw = unicodedata.normalize("NFKC", value).strip()
    if not raw:
        return None
    digits = _NON_DIGIT.sub("", raw)
    plain = digits.lstrip("+")
    match = _MOBILE.match(plain)
    if match:
        return "+86" + match.group(1)
    try:
        parsed = phonenumbers.parse(raw if raw.startswith("+") else digits, "CN")
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def phone_issue(value: str | None) -> str | None:
    """Why a phone cannot be used for matching or contact: missing, invalid or junk."""
    if value is None or not value.strip():
        return "missing"
    e164 = phone_e164(value)
    if e164 is None:
        return "invalid"
    if e164 in JUNK_PHONES or re.search(r"(\d)\1{6,}", e164):
        return "junk"
    return None


def phone_key(value: str | None) -> str | None:
    """The phone as an identity key: E.164 when valid and not junk."""
    return phone_e164(value) if phone_issue(value) is None else None


@lru_cache(maxsize=500_000)
def email_norm(value: str | None) -> str | None:
    """Lower-cased, trimmed email when it looks like one, else None."""
    if value is None:
        return None
    text = unicodedata.normalize("NFKC", value).strip().lower()
    return text if _EMAIL.match(text) else None


def email_key(value: str | None) -> str | None:
    email = email_norm(value)
    if email is None or email in JUNK_EMAILS or email.split("@")[0] in {"test", "null", "none"}:
        return None
    return email


@lru_cache(maxsize=10_000)
def province(value: str | None) -> str | None:
    """Full standard province name ('广东' -> '广东省'); unknown values pass through folded."""
    text = fold_text(value)
    if text is None or is_junk_text(text):
        return None
    text = text.replace(" ", "")
    return _PROVINCE_BY_SHORT.get(text, text)


@lru_cache(maxsize=50_000)
def city(value: str | None) -> str | None:
    """City with its '市' suffix ('广州' -> '广州市'), folded to simplified."""
    text = fold_text(value)
    if text is None or is_junk_text(text):
        return None
    text = text.replace(" ", "")
    if text in _PROVINCE_BY_SHORT and _PROVINCE_BY_SHORT[text].endswith("市"):
        return _PROVINCE_BY_SHORT[text]  # municipalities: 北京 -> 北京市
    if not text.endswith(_CITY_SUFFIXES) and len(text) <= 4:
        text += "市"
    return text


@lru_cache(maxsize=10)
def gender(value: str | None) -> str | None:
    """'M' or 'F' from the usual spellings (男, 女, m, female, 1, 2), else None."""
    if value is None:
        return None
    text = fold_text(value)
    if text is None:
        return None
    text = text.lower()
    if text in {"m", "male", "男", "1", "先生"}:
        return "M"
    if text in {"f", "female", "女", "2", "女士", "小姐"}:
        return "F"
    return None


@lru_cache(maxsize=200_000)
def name_pinyin(value: str | None) -> str | None:
    """Toneless pinyin of a (folded) name, for homophone and typo-tolerant matching.

    张伟 and 章伟 both give ``zhangwei``; the clerk who typed the wrong character
    by ear is caught, while the exact-name level of the match model still prefers
    the same characters.
    """
    name = person_name(value)
    if name is None:
        return None
    from pypinyin import lazy_pinyin  # imported lazily: staging is the only caller

    return "".join(lazy_pinyin(name)).lower().replace(" ", "")


# --- lunar birthdays (crm_customers' optional lunar_birthday column) -------------------------------------------
# A clerk writes the lunar month and day the customer celebrates as numbers (08-15, 8/15, 闰04-10, L4-10,
# 1980-08-15, 8月15日) or in words (八月十五, 农历八月十五, 正月初一, 腊月廿三, 闰四月初十, 冬月初八). The
# words follow the lunar calendar's own naming: months 正 (1st), 二 ... 十, 冬 (11th), 腊 (12th); days 初一 to
# 初十, then 十一 ... 十九, 二十 (廿), 廿一 ... 廿九, 三十 (卅). Traditional characters (閏, 臘, 農曆) and full-width
# digits are folded first (fold_text).
_CN_DIGITS = {"〇": 0, "零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
              "九": 9}
_CN_TENS = {"十": 10, "廿": 20, "卅": 30}
_LUNAR_MONTH_NAMES = {"正": 1, "元": 1, "冬": 11, "腊": 12}
_NUM = r"(?:\d{1,2}|[〇零一二两三四五六七八九十廿卅]{1,3})"
_LUNAR_PREFIX = r"(?:农历|阴历|旧历)?"
_LUNAR_YEAR = r"(?:(?:\d{4}|[〇零一二三四五六七八九]{4})\s*年|\d{4}\s*[-/.])?"
_LUNAR_LEAP = r"(闰|L)?"
_LUNAR_WORDS = re.compile(
    rf"^{_LUNAR_PREFIX}\s*{_LUNAR_YEAR}\s*{_LUNAR_PREFIX}\s*{_LUNAR_LEAP}\s*([正元冬腊]|{_NUM})\s*月(?:份)?\s*"
    rf"(初[一二三四五六七八九十]|{_NUM})\s*[日号]?$")
_LUNAR_NUMBERS = re.compile(rf"^{_LUNAR_PREFIX}\s*{_LUNAR_YEAR}\s*{_LUNAR_LEAP}\s*(\d{{1,2}})\s*[-/.]\s*(\d{{1,2}})$")


def _cn_number(text: str) -> int | None:
    """A number from 1 to 39 written in digits or Chinese numerals (十五, 二十三, 廿三, 卅, 初五); None otherwise."""
    if text.isdigit():
        return int(text)
    if text.startswith("初"):
        rest = text[1:]
        return 10 if rest == "十" else _CN_DIGITS.get(rest)
    if len(text) == 1:
        return _CN_DIGITS.get(text) or _CN_TENS.get(text)
    if text[0] in _CN_TENS:  # 十五, 廿三, 卅一
        return _CN_TENS[text[0]] + _CN_DIGITS[text[1]] if len(text) == 2 and text[1] in _CN_DIGITS else None
    if text[0] in _CN_DIGITS and text[1] == "十":  # 二十, 二十三
        tail = text[2:]
        if tail and (len(tail) > 1 or tail not in _CN_DIGITS):
            return None
        return _CN_DIGITS[text[0]] * 10 + (_CN_DIGITS[tail] if tail else 0)
    return None


@lru_cache(maxsize=20_000)
def lunar_birthday(value: str | None) -> str | None:
    """The lunar month and day a customer gave, as ``MM-DD`` (``闰MM-DD`` in a leap month), else None.

    Reads the numeric forms (08-15, 8/15, 8.15, 闰04-10, L4-10, 1993-闰06-10, 8月15日) and the written ones
    (八月十五, 农历八月十五, 正月初一, 腊月廿三, 闰四月初十, 1980年冬月初八); a month outside 1-12 or a day outside
    1-30 is no lunar birthday. None also for an empty or junk value (see lunar_birthday_issue).
    """
    text = fold_text(value)
    if text is None or is_junk_text(text):
        return None
    text = text.upper().replace(" ", "")
    match = _LUNAR_NUMBERS.match(text) or _LUNAR_WORDS.match(text)
    if not match:
        return None
    leap, month_text, day_text = match.groups()
    month = _LUNAR_MONTH_NAMES.get(month_text) or _cn_number(month_text)
    day = _cn_number(day_text)
    if month is None or day is None or not (1 <= month <= 12 and 1 <= day <= 30):
        return None
    return f"{'闰' if leap else ''}{month:02d}-{day:02d}"


def lunar_birthday_issue(value: str | None) -> str | None:
    """'unreadable' when a lunar birthday was written but cannot be read (the loader reports it with its file
    and line instead of reading it silently as none); None when it reads, or when nothing was given."""
    text = fold_text(value)
    if text is None or is_junk_text(text):
        return None
    return None if lunar_birthday(value) else "unreadable"
