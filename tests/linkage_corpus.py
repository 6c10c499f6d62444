"""An independent record-linkage test corpus: clean people, corrupted duplicates, and the truth.

Why a second generator: the demo generator (``bullseye/demo``) and the matcher were written
together, so a matcher tuned on the demo can learn the demo's habits rather than the job. This
module shares nothing with it (no import, no copied table) and corrupts records the way the
published record-linkage benchmark generators do: FEBRL ``generate.py`` (Christen 2005;
Christen and Pudjijono, PAKDD 2009) and GeCo (Tran, Vatsalan and Christen, CIKM 2013). Both
make clean originals from frequency tables, give a share of them duplicates (a uniform, Poisson
or Zipf number each, capped: GeCo's English example uses Zipf, at most 3), and modify each
duplicate a few times: a field is selected with a per-field probability, then a corruption of
that field (typographical insert/delete/substitute/transpose, OCR, phonetic, missing value,
swapped words or values), at most one per field in GeCo's example. The model below follows that
scheme; its figures are ours, chosen for store records.

The records are old store systems without contact keys: no phone, no email. What is left to
match on is name, birth date, address (with city, district, optional postcode) and optionally a
member card number. The tests cite the figures below: change them here and there together.

People (clean)
--------------
- ``hanzi`` names: a family name drawn from a skewed table (real-world shares, renormalized over
  the names listed: 王 李 张 about 10% each; the compound names 欧阳 司马 诸葛 上官 ... together
  0.3%, about 3x their real share, so that a few thousand people include some). Given name: 45%
  from a list of very common given names (伟 芳 娜 秀英 敏 静 ...; 伟 alone is 10/203 of it),
  else one (30%) or two (70%) characters drawn uniformly from a pool of 178 name characters. So
  王伟, 李娜, 张敏 occur several times in a few thousand people, as they do in life.
- ``latin`` names: given names (James, Maria, José, Zoë ...) and family names (Smith, Garcia,
  Núñez, O'Brien ...) drawn with Zipf weights 1/k**0.5 and 1/k**0.6 (James about 6%, Smith about
  7%); 4% of family names are double-barrelled (``Smith-Garcia``). Written ``Given Family``.
- Birth dates uniform over 1940-01-01 .. 2006-12-31 (ISO ``YYYY-MM-DD``).
- Addresses: hanzi ``<district><street>路<number>号<building>栋<room>室`` in one of 6 cities (30
  districts); latin ``<number> <street> <Street|Road|Avenue>[ Apt <n>], <district>`` (30% have
  an apartment), 4 cities, 24 districts. Postcodes (when asked): 6 digits (hanzi) or 5 (latin),
  one per district.
- Member cards ``M`` + 9 digits, unique per person.
- Planted namesakes (:data:`TWIN_SHARE`, 1% of people, at least one): a person made to share
  another person's exact name and birth date, with their own address and card. They are
  distinct people (different ``person_id``) that a matcher must NOT merge on name + birth
  date alone. ``Corpus.people.twin_of`` names the person copied.

Duplicates
----------
``round(dup_share * n_people)`` people, chosen at random, get duplicates: 1 (70%), 2 (20%) or
3 (10%) each (FEBRL/GeCo use a Zipf or Poisson count, capped; this is a capped skew too). The
original is always a CRM record of ``old_pos``. Duplicates are CRM records of ``old_pos`` or
``mall_pos`` (50/50, the same person registered twice or in a second store system), or, with
``two_files``, records of the purchased list :data:`LIST_ID`. Records are shuffled, then
numbered per system or list, so ids and order carry no trace of the truth.

Corruptions (per duplicate)
---------------------------
Each duplicate gets 1 (50%), 2 (35%) or 3 (15%) corruptions, drawn without replacement with the
relative weights below among those applicable to the record, at most one per field (name,
birth_date, address, postcode) and at most one emptied field, so a record never loses name,
birth date and address together. About a fifth of duplicates have one of them empty (the three
``missing_*`` weigh 11%, a duplicate gets 1.65 draws on average, and the share grows where some
name corruptions do not apply). Each corruption changes the record (one that would not is
treated as not applicable), so every duplicate differs from its original. Originals are clean.

=======================  ====  =====  ==================================================================
corruption               hanzi latin  what and why
=======================  ====  =====  ==================================================================
name_homophone            14     -    one character replaced by another with the same pinyin syllable
                                      from the name pool (pypinyin): pinyin input methods offer every
                                      character of a syllable, and clerks pick the wrong one (张/章)
name_lookalike             8     -    one character replaced by a look-alike (己/已/巳 未/末 人/入
                                      土/士 王/玉 ...): OCR of paper forms and misreading handwriting
name_traditional          10     -    traditional characters (张伟 -> 張偉, OpenCC s2t): Hong Kong,
                                      Taiwan and older systems
name_char_drop             3     -    a character dropped from a 2-character given name (王秀英 -> 王英)
name_space                 4     -    a half- or full-width space between family and given name
name_pinyin                3     -    the name written in pinyin (``Wang Wei``, ``WANG Wei``,
                                      ``Wei Wang``): Latin-only tills and forms filled in English
name_typo                  -    14    keyboard error (FEBRL/GeCo typographical): substitute or insert
                                      a QWERTY neighbour (35% / 20%), delete (25%), transpose (20%)
name_ocr                   -     6    OCR confusion: rn<->m, cl<->d, vv<->w, o/O->0, l/I->1, S->5,
                                      B->8, e->c, g->q
name_phonetic              -    10    phonetic respelling: ph<->f, c<->k (before a o u), ck->k,
                                      -ie<->-y, double<->single letter, z<->s, v<->b, ll->y, th->t
name_swap                  -     6    family name first: ``Smith John`` (50%) or ``Smith, John``
name_initial               -     5    given name as an initial: ``J. Smith`` (70%) or ``J Smith``
name_case                  -     5    all upper (60%) or all lower case
name_accent                -     3    accents dropped (José -> Jose): ASCII-only systems
date_swap_dm               6     6    day and month swapped (only when the day is 12 or less and
                                      differs from the month): US vs. European order
date_digit                 7     7    one digit of day, month or year mistyped (result still a date)
date_year_off              5     5    year off by one (age misremembered, or asked as an age)
addr_number                7     7    house number changed (off by 1..9, or its digits transposed)
addr_drop_token            8     7    one token dropped: hanzi district / building / room; latin
                                      district / street type / apartment
addr_shorthand             6     -    ``12号3栋401室`` written ``12号3-401`` or ``12-3-401``
addr_abbrev                -     7    Street -> St / St., Road -> Rd, Avenue -> Ave
addr_spaces                4     4    extra spaces between tokens (hanzi: 1 or 2 breaks, half- or
                                      full-width; latin: a doubled space or a space before the comma)
missing_birth_date         5     5    birth date left empty
missing_address            4     4    address left empty (city and district stay)
missing_name               2     2    name left empty
postcode_typo              4     4    one postcode digit mistyped (only with ``postcode=True``)
=======================  ====  =====  ==================================================================

Member cards (``member_card=True``): every CRM record carries its person's card; exactly
``round(card_typo_share * n)`` of the n duplicates that carry a card get one wrong digit (not
counted among the 1-3 corruptions above). A purchased list has no store card (the list contract
has no such column), so list records carry none.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

Gen = np.random.Generator

LIST_ID = "vendor_2026"
LIST_MANIFEST = {"list_id": LIST_ID, "vendor": "Prospect Data Co.", "acquired_at": "2026-01-15",
                 "legal_basis": "contract", "permitted_channels": ["sms"]}
ORIGINAL_SYSTEM = "old_pos"
DUPLICATE_SYSTEMS = ("old_pos", "mall_pos")
TWIN_SHARE = 0.01
DUP_COUNTS = ((1, 0.7), (2, 0.2), (3, 0.1))
N_CORRUPTIONS = ((1, 0.5), (2, 0.35), (3, 0.15))
FIRST_BIRTH, LAST_BIRTH = date(1940, 1, 1), date(2006, 12, 31)
CRM_COLUMNS = ["source_system", "source_customer_id", "name", "birth_date", "address", "city", "district"]
LIST_COLUMNS = ["list_record_id", "name", "birth_date", "address", "city", "district"]

# ---------------------------------------------------------------------------------------------
# Frequency tables (hanzi)
# ---------------------------------------------------------------------------------------------
# Approximate shares (%) of the commonest Chinese family names, then rarer and compound ones.
HANZI_FAMILY = {
    "王": 7.1, "李": 7.0, "张": 6.7, "刘": 5.4, "陈": 4.5, "杨": 3.1, "黄": 2.2, "赵": 2.2, "吴": 2.0,
    "周": 1.9, "徐": 1.3, "孙": 1.3, "马": 1.2, "朱": 1.1, "胡": 1.0, "郭": 1.0, "何": 0.9, "高": 0.9,
    "林": 0.9, "罗": 0.8, "郑": 0.8, "梁": 0.7, "谢": 0.6, "宋": 0.5, "唐": 0.5, "许": 0.5, "韩": 0.5,
    "冯": 0.5, "邓": 0.5, "曹": 0.5, "彭": 0.4, "曾": 0.4, "肖": 0.4, "田": 0.4, "董": 0.4, "袁": 0.4,
    "潘": 0.3, "于": 0.3, "蒋": 0.3, "蔡": 0.3, "余": 0.3, "杜": 0.3, "叶": 0.3, "程": 0.3, "苏": 0.3,
    "魏": 0.3, "吕": 0.3, "丁": 0.3, "任": 0.3, "沈": 0.3, "姚": 0.2, "卢": 0.2, "姜": 0.2, "崔": 0.2,
    "钟": 0.2, "谭": 0.2, "陆": 0.2, "汪": 0.2, "范": 0.2, "金": 0.2, "石": 0.2, "廖": 0.2, "贾": 0.2,
    "夏": 0.2, "韦": 0.2, "付": 0.2, "方": 0.2, "白": 0.2, "邹": 0.2, "孟": 0.2, "熊": 0.2, "秦": 0.2,
    "邱": 0.2, "江": 0.2, "尹": 0.2, "薛": 0.2, "段": 0.2, "雷": 0.2, "侯": 0.2, "龙": 0.2, "史": 0.2,
    "陶": 0.1, "黎": 0.1, "贺": 0.1, "顾": 0.1, "毛": 0.1, "郝": 0.1, "龚": 0.1, "邵": 0.1, "万": 0.1,
    "钱": 0.1, "严": 0.1, "武": 0.1, "戴": 0.1, "莫": 0.1, "孔": 0.1, "向": 0.1, "汤": 0.1, "章": 0.1,
    # Compound family names, about 3x their real share so that a few thousand people include some.
    "欧阳": 0.1, "司马": 0.03, "诸葛": 0.02, "上官": 0.03, "东方": 0.02, "皇甫": 0.02, "令狐": 0.01,
}
# Very common given names and their relative weights (sum 203).
HANZI_COMMON_GIVEN = {
    "伟": 10, "芳": 8, "娜": 8, "秀英": 8, "敏": 8, "静": 8, "丽": 7, "强": 7, "磊": 6, "军": 6, "洋": 6,
    "勇": 6, "艳": 6, "杰": 6, "娟": 5, "涛": 5, "明": 5, "超": 5, "秀兰": 5, "霞": 5, "平": 5, "刚": 5,
    "桂英": 5, "建华": 3, "建国": 3, "玉兰": 3, "海燕": 3, "丹": 3, "萍": 3, "鹏": 3, "辉": 3, "斌": 3,
    "婷": 3, "晓东": 2, "志强": 2, "浩": 2, "宇": 2, "欣怡": 2, "子涵": 2, "梓轩": 2, "雨轩": 2, "红": 3,
    "玲": 3, "华": 3, "波": 3,
}
COMMON_GIVEN_SHARE = 0.45
# Characters for composed given names (and the pool homophones are drawn from).
HANZI_GIVEN_POOL = (
    "伟玮炜维薇娜纳敏民静晶京菁丽莉力立利俐强蔷磊蕾军君俊峻洋阳扬勇永咏艳燕妍彦杰洁婕娟鹃涛韬桃"
    "明鸣铭超朝秀修英颖莹瑛霞平萍刚钢桂贵芳华桦红宏鸿虹玲灵琳凌梅美玫辉慧惠晖建剑健文雯斌彬婷庭"
    "亭海波博宇雨玉羽浩昊皓鹏飞菲琴芹勤云芸韵欣新鑫馨佳嘉家晨辰宸琛子梓紫涵晗寒怡宜仪艺思斯雪晓"
    "笑筱东冬峰锋枫丰志智芝国兰岚澜凤琪琦淇瑞睿轩萱宣倩茜诗宁凝越悦月然帆凡航杭淑书舒丹荣蓉"
)
# Extra simplified characters that only widen the homophone pool (never drawn as names).
HANZI_EXTRA_POOL = "章汪黎礼柳留晨阳羊皇煌照兆吾巫州洲舟许珠诸湖虎国和合郜临萝洛正政良凉"

# Look-alike characters (OCR and handwriting): each group's members are confused with each other.
LOOKALIKE_GROUPS = (
    "己已巳", "未末", "人入八", "土士", "王玉主", "李季", "陈阵", "杨扬", "候侯", "日曰", "天夭",
    "大太犬", "干千于", "午牛", "刀力", "儿几", "免兔", "乌鸟", "贝见", "今令", "戊戌戍", "晴睛",
    "伟传", "明朋", "超起", "平乎", "英荚", "红江", "玲铃", "梅海", "辉挥", "婷停", "波坡", "宇字",
    "佳住", "子孑", "思恩", "晓烧", "国固", "云去", "峰锋", "琪棋", "徐除", "娟涓", "军车",
)

HANZI_CITIES = {  # city: (postcode prefix, districts)
    "上海市": ("200", ["浦东新区", "徐汇区", "静安区", "黄浦区", "长宁区", "普陀区", "杨浦区", "闵行区"]),
    "北京市": ("100", ["朝阳区", "海淀区", "东城区", "西城区", "丰台区"]),
    "广州市": ("510", ["天河区", "越秀区", "海珠区", "白云区"]),
    "深圳市": ("518", ["福田区", "南山区", "罗湖区", "宝安区"]),
    "杭州市": ("310", ["西湖区", "上城区", "拱墅区", "滨江区", "余杭区"]),
    "成都市": ("610", ["锦江区", "武侯区", "青羊区", "成华区"]),
}
HANZI_STREETS = ["南京路", "淮海路", "中山路", "人民路", "解放路", "建设路", "和平路", "长江路", "黄河路",
                 "延安路", "北京路", "滨江路", "文化路", "青年路", "花园路", "东风路", "新华路", "胜利路",
                 "光明路", "朝阳路", "世纪大道", "幸福街", "学院路", "友谊路"]

# ---------------------------------------------------------------------------------------------
# Frequency tables (latin)
# ---------------------------------------------------------------------------------------------
LATIN_FAMILY = [
    "Smith", "Garcia", "Johnson", "Williams", "Brown", "Jones", "Rodriguez", "Miller", "Martinez",
    "Davis", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore",
    "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez", "Clark", "Ramirez",
    "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright", "Scott", "Torres", "Nguyen",
    "Hill", "Flores", "Green", "Adams", "Nelson", "Baker", "Hall", "Rivera", "Campbell", "Mitchell",
    "Carter", "Roberts", "Phillips", "Evans", "Turner", "Diaz", "Parker", "Cruz", "Edwards", "Collins",
    "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Peterson", "Cooper", "Reed", "Bailey", "Bell",
    "Gómez", "Núñez", "Peña", "Muñoz", "Jiménez", "Álvarez", "Müller", "Schmidt", "Schneider", "Fischer",
    "Rossi", "Russo", "Ferrari", "Dubois", "Lefèvre", "O'Brien", "McDonald", "MacLeod", "Kowalski",
    "Nowak", "Schwartz", "Mathews", "Kennedy", "Sullivan", "Ellis", "Crawford", "Fitzgerald",
]
LATIN_GIVEN = [
    "James", "Maria", "John", "Mary", "Robert", "Patricia", "Michael", "Jennifer", "William", "Linda",
    "David", "Elizabeth", "José", "Barbara", "Richard", "Susan", "Joseph", "Jessica", "Thomas", "Sarah",
    "Charles", "Karen", "Christopher", "Nancy", "Daniel", "Lisa", "Matthew", "Sophie", "Anthony", "Ana",
    "Mark", "Carmen", "Juan", "Lucía", "Luis", "Sofía", "Carlos", "Isabel", "Philip", "Katherine",
    "Stephen", "Rachel", "Jeffrey", "Emily", "Kevin", "Olivia", "Brian", "Emma", "George", "Chloé",
    "Andrew", "Renée", "Peter", "Zoë", "François", "Hélène", "Jürgen", "Björn", "Giuseppe", "Francesca",
    "Philippe", "Marie", "Connor", "Siobhan", "Kathleen", "Henry", "Annie", "Frank", "Ingrid", "Joaquín",
    "Ramón", "Inés", "Raúl", "Agnieszka", "Piotr", "Oliver", "Charlotte", "Lucas", "Julia", "Anna",
]
DOUBLE_BARREL_SHARE = 0.04
# Zipf exponents: Smith about 7% of family names, James about 6% of given names.
LATIN_FAMILY_ZIPF, LATIN_GIVEN_ZIPF = 0.6, 0.5
LATIN_CITIES = {
    "Springfield": ("62", ["Northside", "Old Town", "Eastgate", "Riverside", "Hillcrest", "Westview", "Southport"]),
    "Lakewood": ("80", ["Bayview", "Greenfield", "Harbour", "Mill Park", "Oakridge", "Sunnydale"]),
    "Fairview": ("37", ["Brookside", "Cedar Hill", "Kingsway", "Meadows", "Parkside"]),
    "Riverton": ("84", ["Ashford", "Beacon", "Crossroads", "Elmwood", "Highfield", "Lakeside"]),
}
LATIN_STREETS = ["Oak", "Maple", "Cedar", "Pine", "Elm", "Washington", "Lincoln", "Park", "Lake", "Hill",
                 "Church", "Mill", "River", "Main", "High", "King", "Queen", "Victoria", "Station", "Sunset",
                 "Jefferson", "Franklin", "Willow", "Chestnut", "Highland", "Meadow", "Forest", "Bridge"]
STREET_TYPES = ("Street", "Road", "Avenue")
APT_SHARE = 0.3
ABBREVIATIONS = {"Street": ("St", "St."), "Road": ("Rd", "Rd."), "Avenue": ("Ave", "Ave.")}

KEYBOARD_ROWS = ("qwertyuiop", "asdfghjkl", "zxcvbnm")
OCR_PAIRS = (("rn", "m"), ("m", "rn"), ("cl", "d"), ("d", "cl"), ("vv", "w"), ("w", "vv"), ("o", "0"),
             ("O", "0"), ("l", "1"), ("I", "1"), ("S", "5"), ("B", "8"), ("e", "c"), ("g", "q"))
# (pattern, replacement): one match is rewritten. Case of the match's first letter is kept.
PHONETIC_RULES = (
    (r"ph", "f"), (r"f", "ph"), (r"c(?=[aou])", "k"), (r"k(?=[aou])", "c"), (r"ck", "k"),
    (r"ie\b", "y"), (r"(?<=[^aeiou])y\b", "ie"), (r"([bdfglmnprst])\1", r"\1"),
    (r"(?<=[aeiou])([lnrst])(?=[aeiou])", r"\1\1"), (r"z", "s"), (r"(?<=[aeiou])s(?=[aeiou])", "z"),
    (r"v", "b"), (r"b", "v"), (r"ll", "y"), (r"th", "t"),
)

WEIGHTS = {
    "hanzi": {
        "name_homophone": 14, "name_lookalike": 8, "name_traditional": 10, "name_char_drop": 3,
        "name_space": 4, "name_pinyin": 3,
        "date_swap_dm": 6, "date_digit": 7, "date_year_off": 5,
        "addr_number": 7, "addr_drop_token": 8, "addr_shorthand": 6, "addr_spaces": 4,
        "missing_birth_date": 5, "missing_address": 4, "missing_name": 2, "postcode_typo": 4,
    },
    "latin": {
        "name_typo": 14, "name_ocr": 6, "name_phonetic": 10, "name_swap": 6, "name_initial": 5,
        "name_case": 5, "name_accent": 3,
        "date_swap_dm": 6, "date_digit": 7, "date_year_off": 5,
        "addr_number": 7, "addr_drop_token": 7, "addr_abbrev": 7, "addr_spaces": 4,
        "missing_birth_date": 5, "missing_address": 4, "missing_name": 2, "postcode_typo": 4,
    },
}
# The field each corruption touches: at most one corruption per field and record.
FIELD_OF = {"missing_birth_date": "birth_date", "missing_address": "address", "missing_name": "name",
            "postcode_typo": "postcode"}


def _field(kind: str) -> str:
    if kind in FIELD_OF:
        return FIELD_OF[kind]
    return {"name": "name", "date": "birth_date", "addr": "address"}[kind.split("_")[0]]


@dataclass
class Corpus:
    """A generated corpus: the records as they land, and who each record really is.

    ``records``: one row per record: ``file`` ("crm" or "list"), the landing-contract columns
    (CRM: source_system, source_customer_id; list: list_record_id; both: name, birth_date,
    address, city, district, optional postcode and member_card_no), and ``source_record_id``
    as staging builds it. Text columns hold "" where a value is missing or not applicable.
    ``truth``: source, source_record_id, person_id. ``people``: the clean people (with
    ``twin_of`` for planted namesakes). ``log``: per record, whether it is the original, the
    original it duplicates, its corruptions (";"-joined) and whether its card was mistyped.
    """

    records: pd.DataFrame
    truth: pd.DataFrame
    people: pd.DataFrame = field(default_factory=pd.DataFrame)
    log: pd.DataFrame = field(default_factory=pd.DataFrame)


# ---------------------------------------------------------------------------------------------
# Clean people
# ---------------------------------------------------------------------------------------------
def _pick(rng: np.random.Generator, weights: dict[str, float]) -> str:
    keys = list(weights)
    p = np.array([weights[k] for k in keys], dtype=float)
    return keys[rng.choice(len(keys), p=p / p.sum())]


def _zipf_pick(rng: np.random.Generator, items: list[str], s: float = 1.0) -> str:
    """A Zipf-like draw: the k-th item has weight 1/k**s (Smith commoner than Bell)."""
    w = 1.0 / np.arange(1, len(items) + 1) ** s
    return items[rng.choice(len(items), p=w / w.sum())]


def _hanzi_name(rng: np.random.Generator) -> tuple[str, str]:
    family = _pick(rng, HANZI_FAMILY)
    if rng.random() < COMMON_GIVEN_SHARE:
        return family, _pick(rng, HANZI_COMMON_GIVEN)
    n = 1 if rng.random() < 0.3 else 2
    return family, "".join(HANZI_GIVEN_POOL[i] for i in rng.integers(0, len(HANZI_GIVEN_POOL), n))


def _latin_name(rng: np.random.Generator) -> tuple[str, str]:
    family = _zipf_pick(rng, LATIN_FAMILY, LATIN_FAMILY_ZIPF)
    if rng.random() < DOUBLE_BARREL_SHARE:
        other = _zipf_pick(rng, LATIN_FAMILY, LATIN_FAMILY_ZIPF)
        if other != family:
            family = f"{family}-{other}"
    return family, _zipf_pick(rng, LATIN_GIVEN, LATIN_GIVEN_ZIPF)


def _birth_date(rng: np.random.Generator) -> str:
    span = (LAST_BIRTH - FIRST_BIRTH).days
    return (FIRST_BIRTH + timedelta(days=int(rng.integers(0, span + 1)))).isoformat()


def _place(rng: np.random.Generator, script: str) -> dict:
    """City, district, postcode and the address parts (kept apart so corruptions can rebuild it)."""
    cities = HANZI_CITIES if script == "hanzi" else LATIN_CITIES
    city = list(cities)[rng.integers(0, len(cities))]
    prefix, districts = cities[city]
    d = int(rng.integers(0, len(districts)))
    digits = 6 if script == "hanzi" else 5
    postcode = prefix + f"{(d + 1) * 10:0{digits - len(prefix)}d}"
    number = int(min(rng.geometric(1 / 60), 999))
    if script == "hanzi":
        parts = {"street": HANZI_STREETS[rng.integers(0, len(HANZI_STREETS))], "number": number,
                 "building": int(rng.integers(1, 31)),
                 "room": int(rng.integers(1, 31)) * 100 + int(rng.integers(1, 5))}
    else:
        parts = {"street": LATIN_STREETS[rng.integers(0, len(LATIN_STREETS))], "number": number,
                 "type": STREET_TYPES[rng.integers(0, 3)],
                 "apt": int(rng.integers(1, 40)) if rng.random() < APT_SHARE else 0}
    return {"city": city, "district": districts[d], "postcode": postcode, "parts": parts}


def _pieces(script: str, district: str, parts: dict) -> list[str]:
    """The address tokens in order; the district is first (hanzi) or last (latin)."""
    if script == "hanzi":
        return [district, parts["street"], f"{parts['number']}号", f"{parts['building']}栋", f"{parts['room']}室"]
    apt = [f"Apt {parts['apt']}"] if parts["apt"] else []
    return [str(parts["number"]), parts["street"], parts["type"], *apt, district]


def _join(script: str, pieces: list[str | None], district: str | None) -> str:
    """Render tokens (None: dropped); latin puts the district after a comma."""
    kept = [p for p in pieces if p is not None]
    if script == "hanzi":
        return "".join(kept)
    head = [p for p in kept if p != district] if district is not None else kept
    return " ".join(head) + (f", {district}" if district is not None and district in kept else "")


def _render_address(script: str, district: str, parts: dict) -> str:
    return _join(script, _pieces(script, district, parts), district)


def _cards(rng: np.random.Generator, n: int) -> list[str]:
    """``n`` distinct cards ``M`` + 9 digits (drawn, duplicates redrawn; order fixed by the draw)."""
    seen: dict[str, None] = {}
    while len(seen) < n:
        for v in rng.integers(0, 10**9, n - len(seen)):
            seen.setdefault(f"M{int(v):09d}", None)
    return list(seen)


def _people(rng: np.random.Generator, n: int, script: str) -> list[dict]:
    cards = _cards(rng, n)
    people = []
    for i in range(n):
        family, given = _hanzi_name(rng) if script == "hanzi" else _latin_name(rng)
        name = family + given if script == "hanzi" else f"{given} {family}"
        people.append({"person_id": f"P{i + 1:06d}", "family": family, "given": given, "name": name,
                       "birth_date": _birth_date(rng), **_place(rng, script), "member_card_no": cards[i],
                       "twin_of": ""})
    _plant_twins(rng, people, script)
    for p in people:
        p["address"] = _render_address(script, p["district"], p["parts"])
    return people


def _plant_twins(rng: np.random.Generator, people: list[dict], script: str) -> None:
    """Make TWIN_SHARE of people (at least one) namesakes of another person: same name and
    birth date, their own address. Sources are people with a common name where possible."""
    n = len(people)
    if n < 2:
        return
    k = max(1, round(TWIN_SHARE * n))
    order = rng.permutation(n)
    targets, pool = order[:k], order[k:]
    common = [i for i in pool if people[i]["given"] in HANZI_COMMON_GIVEN] if script == "hanzi" else list(pool)
    sources = common or list(pool)
    for t in targets:
        s = sources[int(rng.integers(0, len(sources)))]
        tp, sp = people[t], people[s]
        tp.update(family=sp["family"], given=sp["given"], name=sp["name"], birth_date=sp["birth_date"],
                  twin_of=sp["person_id"])
        while (tp["district"], tp["parts"]) == (sp["district"], sp["parts"]):
            tp.update(_place(rng, script))


# ---------------------------------------------------------------------------------------------
# Corruptions: each takes (rng, record, person, script) and returns the changed fields, or None
# when it does not apply or would change nothing.
# ---------------------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _homophones() -> dict[str, list[str]]:
    """Character -> other pool characters with the same pinyin syllable (tone ignored)."""
    from pypinyin import Style, lazy_pinyin

    pool = list(dict.fromkeys("".join(HANZI_FAMILY) + HANZI_GIVEN_POOL + HANZI_EXTRA_POOL
                              + "".join(HANZI_COMMON_GIVEN)))
    syllables = {c: lazy_pinyin(c, style=Style.NORMAL)[0] for c in pool}
    groups: dict[str, list[str]] = {}
    for c in pool:
        groups.setdefault(syllables[c], []).append(c)
    return {c: [o for o in groups[syllables[c]] if o != c] for c in pool if len(groups[syllables[c]]) > 1}


@lru_cache(maxsize=1)
def _lookalikes() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for group in LOOKALIKE_GROUPS:
        for c in group:
            out.setdefault(c, []).extend(o for o in group if o != c)
    return out


@lru_cache(maxsize=1)
def _s2t() -> Any:
    import opencc

    return opencc.OpenCC("s2t")


def _replace_one_char(rng: Gen, name: str, table: dict[str, list[str]]) -> str | None:
    spots = [i for i, c in enumerate(name) if c in table]
    if not spots:
        return None
    i = spots[int(rng.integers(0, len(spots)))]
    options = table[name[i]]
    return name[:i] + options[int(rng.integers(0, len(options)))] + name[i + 1:]


def name_homophone(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    return _name_change(rec, _replace_one_char(rng, rec["name"], _homophones()))


def name_lookalike(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    return _name_change(rec, _replace_one_char(rng, rec["name"], _lookalikes()))


def name_traditional(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    return _name_change(rec, _s2t().convert(rec["name"]))


def name_char_drop(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    name = rec["name"]
    if len(person["given"]) < 2:
        return None
    i = int(rng.integers(len(person["family"]), len(name)))  # a given-name character
    return _name_change(rec, name[:i] + name[i + 1:])


def name_space(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    sep = " " if rng.random() < 0.7 else "\u3000"
    return _name_change(rec, person["family"] + sep + person["given"])


def name_pinyin(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    from pypinyin import Style, lazy_pinyin

    fam = "".join(lazy_pinyin(person["family"], style=Style.NORMAL)).capitalize()
    giv = "".join(lazy_pinyin(person["given"], style=Style.NORMAL)).capitalize()
    form = rng.integers(0, 3)
    return _name_change(rec, [f"{fam} {giv}", f"{fam.upper()} {giv}", f"{giv} {fam}"][form])


def _neighbours(c: str) -> str:
    low = c.lower()
    for r, row in enumerate(KEYBOARD_ROWS):
        j = row.find(low)
        if j >= 0:
            near = row[max(j - 1, 0):j] + row[j + 1:j + 2]
            for rr in (r - 1, r + 1):
                if 0 <= rr < len(KEYBOARD_ROWS):
                    near += KEYBOARD_ROWS[rr][max(j - 1, 0):j + 1]
            return near.upper() if c.isupper() else near
    return ""


def name_typo(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    name = rec["name"]
    spots = [i for i, c in enumerate(name) if _neighbours(c)]
    if not spots:
        return None
    i = spots[int(rng.integers(0, len(spots)))]
    near = _neighbours(name[i])
    op = rng.choice(4, p=[0.35, 0.2, 0.25, 0.2])
    if op == 0:
        new = name[:i] + near[int(rng.integers(0, len(near)))] + name[i + 1:]
    elif op == 1:
        new = name[:i + 1] + near[int(rng.integers(0, len(near)))].lower() + name[i + 1:]
    elif op == 2:
        new = name[:i] + name[i + 1:]
    else:
        j = i + 1 if i + 1 < len(name) and name[i + 1].isalpha() else i - 1
        if j < 0 or not name[j].isalpha():
            return None
        a, b = sorted((i, j))
        new = name[:a] + name[b] + name[a] + name[b + 1:]
    return _name_change(rec, new)


def name_ocr(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    name = rec["name"]
    spots = [(m.start(), src, dst) for src, dst in OCR_PAIRS for m in re.finditer(re.escape(src), name)]
    if not spots:
        return None
    at, src, dst = spots[int(rng.integers(0, len(spots)))]
    return _name_change(rec, name[:at] + dst + name[at + len(src):])


def name_phonetic(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    name = rec["name"]
    spots = [(m, repl) for pat, repl in PHONETIC_RULES for m in re.finditer(pat, name, flags=re.IGNORECASE)]
    if not spots:
        return None
    m, repl = spots[int(rng.integers(0, len(spots)))]
    new = m.expand(repl)
    if m.group(0)[:1].isupper():
        new = new[:1].upper() + new[1:]
    return _name_change(rec, name[:m.start()] + new + name[m.end():])


def name_swap(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    sep = " " if rng.random() < 0.5 else ", "
    return _name_change(rec, person["family"] + sep + person["given"])


def name_initial(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    dot = "." if rng.random() < 0.7 else ""
    return _name_change(rec, f"{person['given'][0]}{dot} {person['family']}")


def name_case(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    name = rec["name"]
    return _name_change(rec, name.upper() if rng.random() < 0.6 else name.lower())


def name_accent(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    plain = "".join(c for c in unicodedata.normalize("NFKD", rec["name"]) if not unicodedata.combining(c))
    return _name_change(rec, plain)


def _name_change(rec: dict, new: str | None) -> dict | None:
    return {"name": new} if new and new != rec["name"] else None


def _valid(y: int, m: int, d: int) -> str | None:
    try:
        day = date(y, m, d)
    except ValueError:
        return None
    return day.isoformat() if 1900 <= y <= 2025 else None


def date_swap_dm(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    y, m, d = map(int, person["birth_date"].split("-"))
    out = _valid(y, d, m) if d <= 12 and d != m else None
    return {"birth_date": out} if out else None


def date_digit(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    y, m, d = map(int, person["birth_date"].split("-"))
    for _ in range(30):
        part = int(rng.integers(0, 3))
        text = [f"{y:04d}", f"{m:02d}", f"{d:02d}"][part]
        pos = int(rng.integers(0, len(text)))
        digit = str((int(text[pos]) + int(rng.integers(1, 10))) % 10)
        vals = [y, m, d]
        vals[part] = int(text[:pos] + digit + text[pos + 1:])
        out = _valid(*vals)
        if out:
            return {"birth_date": out}
    return None


def date_year_off(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    y, m, d = map(int, person["birth_date"].split("-"))
    for step in ([1, -1] if rng.random() < 0.5 else [-1, 1]):
        out = _valid(y + step, m, d)
        if out:
            return {"birth_date": out}
    return None


def _address_with(person: dict, script: str, **changes) -> str:
    return _render_address(script, person["district"], {**person["parts"], **changes})


def addr_number(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    n = person["parts"]["number"]
    text = str(n)
    if len(text) > 1 and text[0] != text[1] and text[1] != "0" and rng.random() < 0.3:
        new = int(text[1] + text[0] + text[2:])
    else:
        new = n + int(rng.integers(1, 10)) * (1 if n < 10 or rng.random() < 0.5 else -1)
    return {"address": _address_with(person, script, number=max(new, 1))} if new != n else None


def addr_drop_token(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    pieces: list[str | None] = list(_pieces(script, person["district"], person["parts"]))
    # hanzi: district, building or room; latin: street type, apartment or district.
    spots = [0, 3, 4] if script == "hanzi" else list(range(2, len(pieces)))
    at = spots[int(rng.integers(0, len(spots)))]
    district = person["district"]
    if pieces[at] == district:
        district = None
    pieces[at] = None
    return {"address": _join(script, pieces, district)}


def addr_shorthand(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    p = person["parts"]
    tail = (f"{p['number']}号{p['building']}-{p['room']}" if rng.random() < 0.5
            else f"{p['number']}-{p['building']}-{p['room']}")
    return {"address": f"{person['district']}{p['street']}{tail}"}


def addr_abbrev(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    typ = person["parts"]["type"]
    short = ABBREVIATIONS[typ][int(rng.integers(0, 2))]
    return {"address": person["address"].replace(f" {typ}", f" {short}", 1)}


def addr_spaces(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    addr = person["address"]
    if script == "latin":
        if rng.random() < 0.5:
            return {"address": addr.replace(", ", " , ", 1)}
        gaps = [m.start() for m in re.finditer(" ", addr)]
        at = gaps[int(rng.integers(0, len(gaps)))]
        return {"address": addr[:at] + " " + addr[at:]}
    pieces = _pieces(script, person["district"], person["parts"])
    breaks = set(rng.choice(np.arange(1, len(pieces)), size=int(rng.integers(1, 3)), replace=False).tolist())
    sep = " " if rng.random() < 0.7 else "\u3000"
    return {"address": "".join((sep if i in breaks else "") + s for i, s in enumerate(pieces))}


def missing_birth_date(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    return {"birth_date": ""}


def missing_address(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    return {"address": ""}


def missing_name(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    return {"name": ""}


def postcode_typo(rng: Gen, rec: dict, person: dict, script: str) -> dict | None:
    code = person["postcode"]
    pos = int(rng.integers(0, len(code)))
    digit = str((int(code[pos]) + int(rng.integers(1, 10))) % 10)
    return {"postcode": code[:pos] + digit + code[pos + 1:]}


CORRUPTORS = {f.__name__: f for f in (
    name_homophone, name_lookalike, name_traditional, name_char_drop, name_space, name_pinyin,
    name_typo, name_ocr, name_phonetic, name_swap, name_initial, name_case, name_accent,
    date_swap_dm, date_digit, date_year_off, addr_number, addr_drop_token, addr_shorthand, addr_abbrev,
    addr_spaces, missing_birth_date, missing_address, missing_name, postcode_typo)}


def corrupt(rng: np.random.Generator, person: dict, script: str, n: int, postcode: bool) -> tuple[dict, list[str]]:
    """A duplicate of ``person`` with ``n`` corruptions (fewer only if fewer apply), and their names."""
    rec = {k: person[k] for k in ("name", "birth_date", "address", "postcode")}
    weights = {k: w for k, w in WEIGHTS[script].items() if postcode or k != "postcode_typo"}
    done: list[str] = []
    while len(done) < n and weights:
        kind = _pick(rng, weights)
        del weights[kind]
        if _field(kind) in {_field(d) for d in done}:
            continue
        if kind.startswith("missing_") and any(d.startswith("missing_") for d in done):
            continue
        change = CORRUPTORS[kind](rng, rec, person, script)
        if not change or all(rec[k] == v for k, v in change.items()):
            continue
        rec.update(change)
        done.append(kind)
    return rec, done


def _card_typo(rng: np.random.Generator, card: str, taken: set[str]) -> str:
    while True:
        pos = int(rng.integers(1, len(card)))
        new = card[:pos] + str((int(card[pos]) + int(rng.integers(1, 10))) % 10) + card[pos + 1:]
        if new not in taken:
            return new


# ---------------------------------------------------------------------------------------------
# The corpus
# ---------------------------------------------------------------------------------------------
def _check(n_people: int, script: str, dup_share: float, card_typo_share: float) -> None:
    if script not in ("hanzi", "latin"):
        raise ValueError(f"script must be 'hanzi' or 'latin', not {script!r}")
    if n_people < 1:
        raise ValueError("n_people must be at least 1")
    for label, v in (("dup_share", dup_share), ("card_typo_share", card_typo_share)):
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"{label} must be within 0..1, not {v}")


def _dup_plan(rng: np.random.Generator, n_people: int, dup_share: float) -> list[tuple[int, int]]:
    """(person index, number of duplicates) for the round(dup_share * n_people) duplicated people."""
    chosen = np.sort(rng.choice(n_people, size=round(dup_share * n_people), replace=False))
    counts = rng.choice([c for c, _ in DUP_COUNTS], size=len(chosen), p=[p for _, p in DUP_COUNTS])
    return [(int(i), int(c)) for i, c in zip(chosen, counts, strict=True)]


def make_corpus(n_people: int, *, script: str = "hanzi", dup_share: float = 0.5, member_card: bool = False,
                card_typo_share: float = 0.1, postcode: bool = False, two_files: bool = False,
                seed: int = 0) -> Corpus:
    """Clean people, their corrupted duplicates and the truth (see the module docstring)."""
    _check(n_people, script, dup_share, card_typo_share)
    rng = np.random.default_rng(seed)
    people = _people(rng, n_people, script)
    rows: list[dict] = []
    for p in people:
        rows.append({"person": p, "rec": {k: p[k] for k in ("name", "birth_date", "address", "postcode")},
                     "file": "crm", "system": ORIGINAL_SYSTEM, "original": True, "corruptions": []})
    for idx, count in _dup_plan(rng, n_people, dup_share):
        for _ in range(count):
            k = int(rng.choice([c for c, _ in N_CORRUPTIONS], p=[w for _, w in N_CORRUPTIONS]))
            rec, done = corrupt(rng, people[idx], script, k, postcode)
            file_ = "list" if two_files else "crm"
            system = "" if two_files else DUPLICATE_SYSTEMS[int(rng.integers(0, len(DUPLICATE_SYSTEMS)))]
            rows.append({"person": people[idx], "rec": rec, "file": file_, "system": system, "original": False,
                         "corruptions": done})
    _assign_cards(rng, rows, member_card, card_typo_share)
    _assign_ids(rng, rows)
    return _frames(rows, people, postcode, member_card)


def _assign_cards(rng: np.random.Generator, rows: list[dict], member_card: bool, share: float) -> None:
    for r in rows:
        r["card"] = r["person"]["member_card_no"] if member_card and r["file"] == "crm" else ""
        r["card_typo"] = False
    carriers = [i for i, r in enumerate(rows) if r["card"] and not r["original"]]
    n_typo = round(share * len(carriers))
    if not n_typo:
        return
    taken = {r["person"]["member_card_no"] for r in rows}
    for i in sorted(rng.choice(carriers, size=n_typo, replace=False).tolist()):
        rows[i]["card"] = _card_typo(rng, rows[i]["card"], taken)
        rows[i]["card_typo"] = True


def _assign_ids(rng: np.random.Generator, rows: list[dict]) -> None:
    """Shuffle, then number records per source system / list, so ids say nothing of the truth."""
    order = rng.permutation(len(rows))
    shuffled = [rows[i] for i in order]
    rows[:] = shuffled
    counters: dict[str, int] = {}
    for r in rows:
        key = r["system"] if r["file"] == "crm" else LIST_ID
        counters[key] = counters.get(key, 0) + 1
        r["local_id"] = f"{'L' if r['file'] == 'list' else 'C'}{counters[key]:07d}"
        r["source_record_id"] = f"{key}:{r['local_id']}"


def _frames(rows: list[dict], people: list[dict], postcode: bool, member_card: bool) -> Corpus:
    recs, truth, log = [], [], []
    original_id = {r["person"]["person_id"]: r["source_record_id"] for r in rows if r["original"]}
    for r in rows:
        p, rec, crm = r["person"], r["rec"], r["file"] == "crm"
        row = {"file": r["file"], "source_system": r["system"] if crm else "",
               "source_customer_id": r["local_id"] if crm else "", "list_record_id": "" if crm else r["local_id"],
               "name": rec["name"], "birth_date": rec["birth_date"], "address": rec["address"],
               "city": p["city"], "district": p["district"]}
        if postcode:
            row["postcode"] = rec["postcode"]
        if member_card:
            row["member_card_no"] = r["card"]
        row["source_record_id"] = r["source_record_id"]
        recs.append(row)
        truth.append({"source": "crm_customers" if crm else "lists", "source_record_id": r["source_record_id"],
                      "person_id": p["person_id"]})
        log.append({"source_record_id": r["source_record_id"], "person_id": p["person_id"],
                    "is_original": r["original"],
                    "original_record_id": "" if r["original"] else original_id[p["person_id"]],
                    "corruptions": ";".join(r["corruptions"]), "card_typo": r["card_typo"]})
    people_df = pd.DataFrame([{k: p[k] for k in ("person_id", "family", "given", "name", "birth_date", "address",
                                                   "city", "district", "postcode", "member_card_no", "twin_of")}
                              for p in people])
    return Corpus(records=pd.DataFrame(recs), truth=pd.DataFrame(truth), people=people_df, log=pd.DataFrame(log))


def write_landing(corpus: Corpus, landing: Path) -> Path:
    """Write the corpus as a landing zone (contracts.md §1); return the truth CSV's path.

    CRM records go to ``crm_customers/customers.csv``; list records (``two_files``) to
    ``lists/<LIST_ID>/records.csv`` beside its ``manifest.json``; the truth to
    ``_truth/identity.csv`` (a private folder the loader skips)."""
    landing = Path(landing)
    recs = corpus.records
    optional = [c for c in ("postcode", "member_card_no") if c in recs.columns]
    crm = recs[recs["file"] == "crm"]
    if len(crm):
        _csv(crm[CRM_COLUMNS + optional], landing / "crm_customers" / "customers.csv")
    lst = recs[recs["file"] == "list"]
    if len(lst):
        folder = landing / "lists" / LIST_ID
        _csv(lst[LIST_COLUMNS + [c for c in optional if c == "postcode"]], folder / "records.csv")
        (folder / "manifest.json").write_text(json.dumps(LIST_MANIFEST, ensure_ascii=False, indent=2),
                                              encoding="utf-8")
    truth = landing / "_truth" / "identity.csv"
    _csv(corpus.truth[["source", "source_record_id", "person_id"]], truth)
    return truth


def _csv(df: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, encoding="utf-8")
