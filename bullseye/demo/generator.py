"""Deterministic demo landing zone for a Chinese retail chain, with planted problems.

Everything is drawn from one ``numpy`` generator seeded by ``seed``, in a fixed
order, so a seed always gives byte-identical files. Work is vectorized per
column so that scale 100 (1M people, ~10M orders, ~50M events) stays in minutes,
and streamed so that it stays within a few GB: people and CRM records are made
for everyone at once, orders and order lines a block of people at a time
(``ORDER_BLOCK``, from forks of the generator, so the files do not depend on the
block size), events a file of 20,000 visitors at a time, with their text held as
codes until DuckDB writes the file.

The truth file ``_truth/identity.csv`` says which source records are one
person; ``_truth/planted.csv`` lists the problems planted on purpose (junk,
broken rows, wrong digits, shared family phones ...) so tests can find them.

Behaviour has structure a model can find: people aged 28-45 and shoppers in the richer
coastal provinces buy more often (``affinity``), which the lookalike score should pick
up, and the fair's list carries a stated ``annual_budget`` for 40% of its records.
"""

from __future__ import annotations

import copy
import csv
import json
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from opencc import OpenCC
from pypinyin import lazy_pinyin

from bullseye.demo import names as V

DEMO_END = date(2026, 11, 23)
SYSTEMS = np.array(["store_pos", "member_club", "web_shop"])
SYSTEM_PREFIX = {"store_pos": "S", "member_club": "MC", "web_shop": "U"}
_S2T = OpenCC("s2t")
_DAY = np.timedelta64(1, "D")
_SEC = np.timedelta64(1, "s")


PARTS = frozenset({"orders", "events", "lists"})

# Orders and order lines are written for this many people at a time (a customer has about 23 orders and 40
# lines), so memory holds one block of them as text, never the whole population's. The files do not depend on it.
ORDER_BLOCK = 10_000
# Values per numpy call when a long sequence is drawn in pieces (the same values as one call).
DRAW_BLOCK = 1 << 20
# Rows per Parquet row group: pyarrow's default, which pandas' to_parquet used for the whole table.
ROW_GROUP = 1024 * 1024

# Events: the values of text columns, held as codes while a block of events is made.
EVENT_TYPES = ["page_view", "product_view", "search", "add_to_cart", "login", "form_submit"]
EVENT_TYPE_TEXT = np.array(EVENT_TYPES, dtype=object)
EVENT_PAGE_URLS = np.array(["/" + t for t in EVENT_TYPES], dtype=object)
EVENT_SKUS = [f"SKU-{c}{i:04d}" for c in range(6) for i in range(0, 100, 7)]
EVENT_QUERIES = ["冰箱", "空调", "奶粉", "茶叶"]
EVENT_PROPERTIES = np.array([f'{{"sku": "{s}"}}' for s in EVENT_SKUS] + [f'{{"query": "{q}"}}' for q in EVENT_QUERIES]
                            + ['{"form": "enquiry"}', "{}"], dtype=object)
EVENT_REFERRERS = np.array([None, "https://www.baidu.com/", "https://weixin.qq.com/"], dtype=object)
EVENT_UTM = np.array([None, "baidu", "wechat", "douyin"], dtype=object)
PROVINCES = np.array([x[0] for x in V.PLACES], dtype=object)
CITIES = np.array([x[1] for x in V.PLACES], dtype=object)

# Share of people (in %) who celebrate their lunar birthday and gave it to a store (crm_customers.lunar_birthday).
LUNAR_BIRTHDAY_PERCENT = 15


def lunar_birthdays(birth: pd.Series, pix: pd.Series, system: pd.Series) -> np.ndarray:
    """The lunar birthday (MM-DD, with 闰 before a leap month) of the person's true birth date, on the store
    records of LUNAR_BIRTHDAY_PERCENT% of people; None elsewhere (the web shop does not ask).

    The people are chosen by a hash of their index, not drawn from the generator, so that adding the column
    leaves every other value of a seed as it was.
    """
    from lunardate import LunarDate

    chosen = (pix.to_numpy().astype(np.int64) * 2654435761 % 2**32) % 100 < LUNAR_BIRTHDAY_PERCENT
    chosen &= (system.to_numpy() != "web_shop") & pd.notna(birth).to_numpy()
    days = pd.to_datetime(birth.to_numpy())
    out = np.full(len(birth), None, dtype=object)
    for i in np.flatnonzero(chosen):
        d = days[i]
        ld = LunarDate.from_solar_date(d.year, d.month, d.day)
        out[i] = f"{'闰' if ld.is_leap_month else ''}{ld.month:02d}-{ld.day:02d}"
    return out

@dataclass
class DemoSummary:
    out: Path
    people: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    order_blocks: int = 0  # blocks of people whose orders were written together


class _ParquetSink:
    """One Parquet file written from DataFrames added a block at a time, with the bytes pandas' ``to_parquet``
    writes for all of them at once: rows are kept (as Arrow) until a row group is full, and a file of at most
    one row group is written in one ``write_table`` call, as pandas does."""

    def __init__(self, path: Path, row_group: int = ROW_GROUP):
        self.path, self.row_group = path, row_group
        self.parts: list[pa.Table] = []
        self.rows = self.written = 0
        self.writer: pq.ParquetWriter | None = None

    def add(self, df: pd.DataFrame) -> None:
        self.parts.append(pa.Table.from_pandas(df, preserve_index=False))
        self.rows += len(df)
        while self.rows >= self.row_group:
            table = pa.concat_tables(self.parts)
            self._write(table.slice(0, self.row_group))
            rest = table.slice(self.row_group)
            self.parts, self.rows = [rest], rest.num_rows

    def _write(self, table: pa.Table) -> None:
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.writer = pq.ParquetWriter(self.path, table.schema, compression="snappy")
        self.writer.write_table(table.combine_chunks())
        self.written += table.num_rows

    def close(self, columns: list[str]) -> int:
        """Write what is left; returns the number of rows written."""
        if not self.parts:  # nothing added: an empty file with the columns
            self.parts = [pa.Table.from_pandas(pd.DataFrame({c: [] for c in columns}, dtype=object).astype(str),
                                               preserve_index=False)]
        table = pa.concat_tables(self.parts).combine_chunks()
        self.parts = []
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(table, self.path, compression="snappy")
            self.written = table.num_rows
        else:
            if table.num_rows:
                self._write(table)
            self.writer.close()
        return self.written


def _ts(d: date | str) -> np.datetime64:
    return np.datetime64(str(d), "s")


class _Gen:
    def __init__(self, out: Path, scale: float, seed: int, end: date):
        self.out = out
        self.rng = np.random.default_rng(seed)
        self.n = max(50, int(round(10_000 * scale)))
        self.end = _ts(end) + np.timedelta64(86399, "s")
        self.end_date = end
        self.summary = DemoSummary(out=out, people=self.n)
        self.planted: list[tuple[str, str, str]] = []  # (file, locator, problem)
        self.pinyin = {c: lazy_pinyin(c)[0] for c in V.SURNAMES + V.GIVEN_CHARS}
        self.order_block = ORDER_BLOCK

    # ---------------------------------------------------------------- helpers
    def choice(self, values, size, p=None):
        return np.asarray(values, dtype=object)[self.rng.choice(len(values), size=size, p=p)]

    def mask(self, size: int, share: float) -> np.ndarray:
        return self.rng.random(size) < share

    def uniform_ts(self, lo: np.ndarray | np.datetime64, hi: np.ndarray | np.datetime64, size: int,
                   rng: np.random.Generator | None = None):
        lo = np.broadcast_to(np.asarray(lo, dtype="datetime64[s]"), (size,))
        hi = np.broadcast_to(np.asarray(hi, dtype="datetime64[s]"), (size,))
        span = (hi - lo).astype(np.int64)
        rng = self.rng if rng is None else rng
        return lo + (rng.random(size) * np.maximum(span, 0)).astype(np.int64) * _SEC

    def fork(self, draw, size: int) -> np.random.Generator:
        """A copy of the generator as it stands, to make ``draw(rng, n)`` for ``size`` values later, block by
        block; the generator itself moves on past those values (drawn DRAW_BLOCK at a time and dropped).

        numpy gives the same values for one call of ``size`` as for calls of pieces adding up to it (its
        buffered bits are part of the generator's state), so drawing a block of people's orders from forks
        gives exactly the values of the whole-population draws made one after the other, as before."""
        fork = copy.deepcopy(self.rng)
        for i in range(0, size, DRAW_BLOCK):
            draw(self.rng, min(DRAW_BLOCK, size - i))
        return fork

    def blocks(self, draw, size: int) -> np.ndarray:
        """``draw(rng, size)`` from the generator itself, made DRAW_BLOCK values at a time (the same values)."""
        parts = [draw(self.rng, min(DRAW_BLOCK, size - i)) for i in range(0, size, DRAW_BLOCK)]
        return np.concatenate(parts) if parts else draw(self.rng, 0)

    def write_csv(self, df: pd.DataFrame, rel: str, encoding: str = "utf-8") -> Path:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False, encoding=encoding, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        self.summary.counts[rel] = len(df)
        return path

    def append_csv(self, df: pd.DataFrame, rel: str, rows: dict[str, int], encoding: str = "utf-8") -> None:
        """Append ``df`` to the CSV file ``rel``, with the header the first time; ``rows`` counts the rows."""
        path = self.out / rel
        first = rel not in rows
        if first:
            path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, mode="w" if first else "a", header=first, index=False, encoding=encoding,
                  quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        rows[rel] = rows.get(rel, 0) + len(df)

    def append_broken(self, path: Path, lines: list[str], problem: str, encoding: str = "utf-8"):
        """Append rows that a careless export produces: wrong field counts, cut lines."""
        with path.open("a", encoding=encoding, newline="") as fh:
            for line in lines:
                fh.write(line + "\n")
        with path.open(encoding=encoding) as fh:
            n_lines = sum(1 for _ in fh)
        for i, _ in enumerate(lines):
            self.planted.append((str(path.relative_to(self.out)), f"line {n_lines - len(lines) + i + 1}", problem))

    def phone_text(self, numbers: np.ndarray) -> np.ndarray:
        """Write 11-digit numbers in the many forms people use."""
        s = pd.Series(numbers.astype(np.int64).astype(str))
        a, b, c = s.str[:3], s.str[3:7], s.str[7:]
        forms = self.rng.choice(len(V.PHONE_FORMS), size=len(s))
        out = s.copy()
        for i, form in enumerate(V.PHONE_FORMS):
            m = forms == i
            if not m.any() or form == "{n}":
                continue
            sub = form.replace("{n}", "\0n").replace("{a}", "\0a").replace("{b}", "\0b").replace("{c}", "\0c")
            parts = {"n": s[m], "a": a[m], "b": b[m], "c": c[m]}
            piece = pd.Series([""] * int(m.sum()), index=s.index[m])
            for token in sub.split("\0"):
                if token and token[0] in parts:
                    piece = piece + parts[token[0]] + token[1:]
                else:
                    piece = piece + token
            out[m] = piece
        return out.to_numpy(dtype=object).copy()

    def date_text(self, dates: np.ndarray) -> np.ndarray:
        s = pd.Series(pd.to_datetime(dates))
        forms = self.rng.choice(len(V.DATE_FORMS), size=len(s))
        out = pd.Series([None] * len(s), dtype=object)
        for i, form in enumerate(V.DATE_FORMS):
            m = forms == i
            if m.any():
                out[m] = s[m].dt.strftime(form)
        out[s.isna().to_numpy()] = None
        return out.to_numpy(dtype=object).copy()

    # ---------------------------------------------------------------- people
    def people(self) -> pd.DataFrame:
        n, rng = self.n, self.rng
        w = 1.0 / (np.arange(len(V.SURNAMES)) + 4)
        sur = self.choice(V.SURNAMES, n, p=w / w.sum())
        one_char = self.mask(n, 0.3)
        g1 = np.where(self.mask(n, 0.5), self.choice(V.COMMON_GIVEN, n), self.choice(V.GIVEN_CHARS, n))
        g2 = np.where(one_char, "", self.choice(V.GIVEN_CHARS, n))
        given = np.where(one_char, g1, self.choice(V.GIVEN_CHARS, n) + g2)
        name = sur + given
        gender = self.choice(["M", "F"], n)
        birth = np.datetime64("1950-01-01") + rng.integers(0, 365 * 56, n) * _DAY
        prefixes = np.array([130, 131, 132, 133, 135, 136, 137, 139, 150, 151, 152, 155, 156, 158,
                             159, 166, 176, 177, 180, 181, 182, 185, 186, 187, 188, 189, 198, 199])
        phone = self.choice(prefixes, n).astype(np.int64) * 10**8 + rng.integers(0, 10**8, n)
        for _ in range(5):  # re-draw the rare collisions so a phone means one person...
            _, idx, cnt = np.unique(phone, return_index=True, return_counts=True)
            dup = np.setdiff1d(np.arange(n), idx[cnt == 1])
            dup = dup[np.isin(phone[dup], phone[idx[cnt > 1]])]
            if len(dup) == 0:
                break
            phone[dup] = self.choice(prefixes, len(dup)).astype(np.int64) * 10**8 + rng.integers(0, 10**8, len(dup))
        # ... except in families: a spouse or child who gives the head of household's phone.
        family = np.flatnonzero(self.mask(n, 0.04))
        heads = (family + 1 + rng.integers(0, 3, len(family))) % n
        phone[family] = phone[heads]
        py_sur = np.array([self.pinyin[c] for c in sur], dtype=object)
        py_given = np.array(["".join(self.pinyin[c] for c in g) for g in given], dtype=object)
        email = (py_sur + py_given + rng.integers(1, 999, n).astype(str).astype(object) + "@"
                 + self.choice(V.EMAIL_DOMAINS, n))
        has_email = self.mask(n, 0.65)
        union = np.array([f"o{x:016x}{y:011x}" for x, y in
                          zip(rng.integers(0, 2**63, n), rng.integers(0, 2**43, n), strict=True)], dtype=object)
        has_union = self.mask(n, 0.4)
        place = rng.integers(0, len(V.PLACES), n)
        prov = np.array([V.PLACES[i][0] for i in place], dtype=object)
        cty = np.array([V.PLACES[i][1] for i in place], dtype=object)
        dist = np.array([V.PLACES[i][2][k % len(V.PLACES[i][2])] for i, k in
                         zip(place, rng.integers(0, 12, n), strict=True)], dtype=object)
        street = self.choice(V.STREETS, n) + rng.integers(1, 300, n).astype(str).astype(object) + "号"
        status = self.choice(["customer", "prospect", "lead"], n, p=[0.6, 0.25, 0.15])
        idcard = np.where(self.mask(n, 0.3), [f"44010{x:013d}" for x in rng.integers(0, 10**13, n)], None)
        card = np.array([f"M{x:010d}" for x in rng.integers(0, 10**10, n)], dtype=object)
        return pd.DataFrame({
            "person_id": [f"P{i:07d}" for i in range(n)], "name": name, "gender": gender,
            "birth": birth, "phone": phone, "email": np.where(has_email, email, None),
            "unionid": np.where(has_union, union, None), "province": prov, "city": cty,
            "district": dist, "street": street, "status": status, "id_card": idcard,
            "card": card, "place": place, "family": np.isin(np.arange(n), family) | np.isin(np.arange(n), heads),
        })

    # ---------------------------------------------------------------- CRM
    def crm(self, p: pd.DataFrame) -> pd.DataFrame:
        rng = self.rng
        cust = p.index[p.status == "customer"].to_numpy()
        lead = p.index[p.status == "lead"].to_numpy()
        primary_sys = rng.choice(3, len(cust), p=[0.55, 0.35, 0.10])
        rows = [pd.DataFrame({"pix": cust, "sys": primary_sys, "kind": "primary"})]
        # Leads who registered on the web shop (never bought).
        web_leads = lead[self.mask(len(lead), 0.5)]
        rows.append(pd.DataFrame({"pix": web_leads, "sys": 2, "kind": "primary"}))
        second = cust[self.mask(len(cust), 0.3)]
        second_sys = (primary_sys[np.searchsorted(cust, second)] + rng.integers(1, 3, len(second))) % 3
        rows.append(pd.DataFrame({"pix": second, "sys": second_sys, "kind": "cross_source_dup"}))
        same = cust[self.mask(len(cust), 0.05)]
        rows.append(pd.DataFrame({"pix": same, "sys": primary_sys[np.searchsorted(cust, same)],
                                  "kind": "same_source_dup"}))
        r = pd.concat(rows, ignore_index=True)
        r = r.iloc[rng.permutation(len(r))].reset_index(drop=True)
        r["system"] = SYSTEMS[r.sys.to_numpy()]
        r["seq"] = r.groupby("system").cumcount()
        r["source_customer_id"] = r.system.map(SYSTEM_PREFIX) + (100000 + r.seq).astype(str)
        pp = p.loc[r.pix.to_numpy()].reset_index(drop=True)
        m = len(r)
        dup = (r.kind != "primary").to_numpy()
        name = pp.name.to_numpy(dtype=object).copy()
        trad = self.mask(m, 0.12) | (dup & self.mask(m, 0.25))
        name[trad] = [_S2T.convert(x) for x in name[trad]]
        typo = dup & self.mask(m, 0.08) & (pd.Series(name).str.len().to_numpy() >= 3)
        name[typo] = [x[:-1] + self.choice(V.GIVEN_CHARS, 1)[0] for x in name[typo]]
        phone_n = pp.phone.to_numpy().copy()
        wrong = dup & self.mask(m, 0.05)
        pos = rng.integers(3, 11, m)
        digit = (phone_n // 10 ** (10 - pos)) % 10
        phone_n[wrong] += (((digit + rng.integers(1, 9, m)) % 10 - digit) * 10 ** (10 - pos))[wrong]
        phone = self.phone_text(phone_n)
        phone[self.mask(m, 0.06) | (dup & self.mask(m, 0.1))] = None
        birth = pp.birth.to_numpy()
        swap = dup & self.mask(m, 0.04)  # day and month swapped where that is still a date
        bd = pd.Series(pd.to_datetime(birth))
        ok_swap = swap & (bd.dt.day <= 12).to_numpy() & (bd.dt.day != bd.dt.month).to_numpy()
        swapped = pd.to_datetime(dict(year=bd.dt.year, month=bd.dt.day.clip(upper=12), day=bd.dt.month),
                                 errors="coerce")
        birth = np.where(ok_swap, swapped.to_numpy(), birth)
        birth_txt = self.date_text(birth)
        birth_txt[self.mask(m, 0.05)] = None
        email = pp.email.to_numpy(dtype=object).copy()
        email[self.mask(m, 0.2)] = None
        upper = self.mask(m, 0.1)
        email[upper] = [x.upper() if isinstance(x, str) else None for x in email[upper]]
        union = pp.unionid.to_numpy(dtype=object).copy()
        union[(r.system != "member_club").to_numpy() & self.mask(m, 0.7)] = None
        card = np.where(r.system.to_numpy() == "web_shop", None, pp.card.to_numpy(dtype=object))
        joined = self.uniform_ts(_ts("2015-01-01"), self.end - np.timedelta64(30, "D"), m)
        updated = self.uniform_ts(joined, self.end, m)
        stale = dup & self.mask(m, 0.3)  # an old record with the address the person moved from
        updated[stale] = joined[stale]
        street = pp.street.to_numpy(dtype=object).copy()
        street[stale] = self.choice(V.STREETS, int(stale.sum())) + "88号"
        prov = pp.province.to_numpy(dtype=object).copy()
        short = self.mask(m, 0.3)
        prov[short] = [x.rstrip("省市") for x in prov[short]]
        cty = pp.city.to_numpy(dtype=object).copy()
        strip_city = self.mask(m, 0.3)
        cty[strip_city] = [x.rstrip("市") for x in cty[strip_city]]
        gender = np.where(self.mask(m, 0.5), np.where(pp.gender == "M", "男", "女"), pp.gender)
        gender[self.mask(m, 0.05)] = None
        df = pd.DataFrame({
            "source_system": r.system, "source_customer_id": r.source_customer_id, "name": name,
            "gender": gender, "birth_date": birth_txt, "phone": phone, "email": email,
            "wechat_unionid": union, "member_card_no": card,
            "id_card_no": np.where(self.mask(m, 0.5), pp.id_card, None),
            "province": prov, "city": cty, "district": pp.district,
            "address": pp.district.to_numpy(dtype=object) + street,
            "postcode": None, "store_id": [f"ST{int(x):03d}" for x in pp.place * 4 + rng.integers(0, 4, m)],
            "employee_id": [f"E{x:04d}" for x in rng.integers(0, 200, m)],
            "joined_at": pd.Series(joined).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "updated_at": pd.Series(updated).dt.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
        })
        df.loc[df.source_system == "web_shop", ["store_id", "employee_id"]] = None
        # Planted junk and unreadable values, recorded for the tests.
        for col, values, share in (("phone", V.JUNK_PHONE_VALUES, 0.015), ("email", V.JUNK_EMAIL_VALUES, 0.015),
                                   ("name", V.JUNK_NAME_VALUES, 0.005),
                                   ("birth_date", V.UNREADABLE_DATES, 0.005)):
            hit = np.flatnonzero(self.mask(m, share))
            df.loc[hit, col] = self.choice(values, len(hit))
            self.planted += [("crm", f"{df.source_system[i]}:{df.source_customer_id[i]}",
                              f"{'unreadable' if col == 'birth_date' else 'junk'}_{col}") for i in hit]
        self.planted += [("crm", f"{df.source_system[i]}:{df.source_customer_id[i]}", "wrong_phone_digit")
                         for i in np.flatnonzero(wrong & ~pd.isna(phone))]
        df["lunar_birthday"] = lunar_birthdays(pp.birth, r.pix, df.source_system)
        df["_pix"] = r.pix.to_numpy()
        df["_kind"] = r.kind.to_numpy()
        return df

    # ---------------------------------------------------------------- orders
    RICH_PROVINCES = ("广东省", "上海市", "浙江省", "江苏省")

    def affinity(self, p: pd.DataFrame) -> pd.Series:
        """How much more often than average a person buys appliances: people setting up a home
        (28-45) and shoppers in the richer coastal provinces buy more. Value then depends on
        who someone is, as it does in real life, which is what a lookalike score can find."""
        age = (np.datetime64(self.end_date) - p.birth.to_numpy()).astype("timedelta64[D]").astype(int) / 365.25
        home = np.where((age >= 28) & (age <= 45), 1.8, 0.8)
        rich = np.where(p.province.isin(self.RICH_PROVINCES).to_numpy(), 1.5, 0.85)
        return pd.Series(home * rich, index=p.index)

    def catalogue(self):
        """The products: category index, SKU, list price and unit cost of each (no random numbers)."""
        cat_ix, sku, price, cost = [], [], [], []
        for ci, (_cat, stems, (lo, hi), (clo, chi)) in enumerate(V.CATEGORIES):
            for stem in stems:
                for model in range(4):
                    cat_ix.append(ci)
                    sku.append(f"SKU-{ci}{len(sku):04d}")
                    pr = round(float(np.exp(np.log(lo) + (np.log(hi) - np.log(lo)) * ((model + 0.5) / 4))), 0)
                    price.append(pr)
                    cost.append(round(pr * (clo + (chi - clo) * ((model * 7 + len(stem)) % 5) / 4), 2))
        return map(np.array, (cat_ix, sku, price, cost))

    def orders(self, p: pd.DataFrame, crm: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
        """Write orders and order lines, a block of ``order_block`` people at a time.

        Returns what later files need of the orders: each order's person, time and number (for the
        contacts' conversions) and the paid store orders' store, month and amount, with the stores' ids
        (for the store targets). These are filled into arrays made once for all orders, not gathered
        block by block (small pieces kept between the blocks' freed memory would keep it from the system).

        Per-person values (first purchase, lifetime, rate, number of orders), the order numbers (one
        permutation) and the lines per order are drawn for everyone at once; they are small arrays. Every
        other per-order and per-line value is drawn block by block from a fork of the generator (``fork``),
        so the files are byte for byte those of one whole-population draw, whatever the block size, while
        memory holds one block's orders and lines as text.
        """
        rng = self.rng
        by_person = pd.DataFrame({"_pix": crm._pix.to_numpy(), "_rix": np.arange(len(crm))}).sort_values(
            ["_pix", "_rix"], kind="stable")
        has_orders = by_person[by_person._pix.isin(p.index[p.status == "customer"])]
        people = has_orders._pix.unique()
        first_rec = has_orders.groupby("_pix")._rix.agg(["min", "count"])
        k = len(people)
        start = self.uniform_ts(_ts("2021-01-01"), self.end - np.timedelta64(14, "D"), k)
        life_days = rng.exponential(900, k)
        stop = np.minimum(start + (life_days * 86400).astype(np.int64) * _SEC, self.end)
        years = (stop - start).astype(np.int64) / (365.25 * 86400)
        rate = rng.gamma(1.3, 8.0, k) * self.affinity(p).loc[people].to_numpy()
        n = 1 + rng.poisson(rate * years)
        m = int(n.sum())
        first = np.r_[0, np.cumsum(n)[:-1]]  # each person's first order
        d_ts = self.fork(lambda g, size: g.random(size), m)
        d_hour = self.fork(lambda g, size: g.integers(8 * 3600, 21 * 3600, size), m)
        n_recs = first_rec.loc[people]["count"].to_numpy()  # orders go to the person's records in turn
        rix_sorted = has_orders._rix.to_numpy()
        pos_start = np.searchsorted(has_orders._pix.to_numpy(), people)
        d_pick = self.fork(lambda g, size: g.random(size), m)
        order_no = rng.permutation(m).astype(np.int32) + 1
        cat_ix, sku, price, cost = self.catalogue()
        pop = 1.0 / np.asarray([1, 1.5, 1.2, 0.8, 1.5, 0.6])[cat_ix] / price ** 0.35
        pop = pop / pop.sum()
        nl = self.blocks(lambda g, size: g.choice([1, 2, 3, 4], size, p=[0.5, 0.3, 0.15, 0.05]).astype(np.int8), m)
        n_lines = int(nl.sum(dtype=np.int64))
        d_sku = self.fork(lambda g, size: g.choice(len(sku), size, p=pop), n_lines)
        d_qty = self.fork(lambda g, size: g.choice([1, 1, 1, 2, 3], size), n_lines)
        d_coupon = self.fork(lambda g, size: g.random(size), m)
        d_discount = self.fork(lambda g, size: g.uniform(0.05, 0.2, size), m)
        d_channel = self.fork(lambda g, size: g.choice(2, size=size), m)
        d_status = self.fork(lambda g, size: g.random(size), m)
        d_code = self.fork(lambda g, size: g.choice(4, size=size), m)
        # Planted: unreadable order times and amounts.
        bad = np.flatnonzero(self.blocks(lambda g, size: g.random(size) < 0.0005, m))
        bad_ts, bad_amount = bad[: len(bad) // 2], bad[len(bad) // 2:]
        self.planted += [("orders", f"O{order_no[i]:09d}", "unreadable_order_ts") for i in bad_ts]
        self.planted += [("orders", f"O{order_no[i]:09d}", "unreadable_amount") for i in bad_amount]

        del by_person, has_orders, first_rec
        # The records' fields as codes into their few values where that saves a Python string per record.
        crm_system_code, systems = pd.factorize(crm.source_system)
        systems = np.asarray(systems, dtype=object)
        crm_id = crm.source_customer_id.to_numpy()
        crm_store_code, store_ids = pd.factorize(crm.store_id)  # -1: none (web shop)
        store_ids = np.asarray(store_ids, dtype=object)
        stores_or_nan = np.r_[store_ids, np.array([np.nan], dtype=object)]  # as the column's to_numpy() gives
        crm_pix = crm._pix.to_numpy()
        category = np.array([V.CATEGORIES[c][0] for c in range(len(V.CATEGORIES))], dtype=object)[cat_ix]
        channels = np.asarray(["online", "app"], dtype=object)
        codes = np.asarray(["CP-SPRING", "CP-618", "CP-1111", "CP-VIP"], dtype=object)
        o_cols = ["order_id", "source_system", "source_customer_id", "order_ts", "amount", "store_id", "channel",
                  "discount_amount", "coupon_code", "status"]
        web_sink = _ParquetSink(self.out / "orders" / "web_shop_orders.parquet")
        rows: dict[str, int] = {}
        placed_pix, placed_ts = np.empty(m, np.int64), np.empty(m, "datetime64[s]")
        sold_store = np.empty(m, np.int32)  # index into store_ids; -1: not a paid store order with an amount
        sold_month, sold_amount = np.empty(m, np.int32), np.empty(m, np.float64)
        for b0 in range(0, k, self.order_block):
            b1 = min(b0 + self.order_block, k)
            i0, i1 = int(first[b0]), (int(first[b1]) if b1 < k else m)
            mc = i1 - i0
            cix = np.repeat(np.arange(b0, b1), n[b0:b1])
            ts = self.uniform_ts(start[cix], stop[cix], mc, rng=d_ts)
            ts[first[b0:b1] - i0] = start[b0:b1]  # the first purchase opens the relationship
            ts += d_hour.integers(8 * 3600, 21 * 3600, mc) * _SEC - (ts - ts.astype("datetime64[D]"))
            pick = (d_pick.random(mc) * n_recs[cix]).astype(int)
            rix = rix_sorted[pos_start[cix] + pick]
            order_id = np.array([f"O{i:09d}" for i in order_no[i0:i1]], dtype=object)
            nl_b = nl[i0:i1].astype(np.int64)
            lix = np.repeat(np.arange(mc), nl_b)
            line_no = np.arange(len(lix)) - np.repeat(np.r_[0, np.cumsum(nl_b)[:-1]], nl_b) + 1
            s = d_sku.choice(len(sku), len(lix), p=pop)
            qty = d_qty.choice([1, 1, 1, 2, 3], len(lix))
            amount_line = qty * price[s]
            gross = np.bincount(lix, weights=amount_line, minlength=mc)
            coupon = d_coupon.random(mc) < 0.06
            discount = np.where(coupon, np.round(gross * d_discount.uniform(0.05, 0.2, mc), 2), 0.0)
            system = systems[crm_system_code[rix]]
            channel = np.where(system == "web_shop", channels[d_channel.choice(2, size=mc)], "store")
            status = np.where(d_status.random(mc) < 0.04, "refunded", "paid")
            orders = pd.DataFrame({
                "order_id": order_id, "source_system": system, "source_customer_id": crm_id[rix],
                "order_ts": pd.Series(ts).dt.strftime("%Y-%m-%d %H:%M:%S"),
                "amount": np.round(gross - discount, 2),
                "store_id": np.where(channel == "store", stores_or_nan[crm_store_code[rix]], None),
                "channel": channel, "discount_amount": discount,
                "coupon_code": np.where(coupon, codes[d_code.choice(4, size=mc)], None),
                "status": status,
            })
            lines = pd.DataFrame({
                "order_id": order_id[lix], "line_no": line_no, "sku": sku[s], "category": category[s],
                "quantity": qty, "unit_price": price[s], "amount": amount_line, "unit_cost": cost[s],
            })
            orders["amount"] = orders.amount.map("{:.2f}".format).astype(object)
            orders.loc[bad_ts[(bad_ts >= i0) & (bad_ts < i1)] - i0, "order_ts"] = "2025-13-45 25:61:00"
            orders.loc[bad_amount[(bad_amount >= i0) & (bad_amount < i1)] - i0, "amount"] = "abc"
            year = pd.Series(ts).dt.year.to_numpy()
            web = (orders.source_system == "web_shop").to_numpy()
            for y in np.unique(year):  # a year with only web orders still gets its (header-only) file
                self.append_csv(orders[(year == y) & ~web][o_cols], f"orders/orders_{y}.csv", rows)
            web_sink.add(orders[web][o_cols].astype(str).replace({"None": None, "nan": None}))
            lyear = year[lix]
            for y in np.unique(year):
                self.append_csv(lines[lyear == y], f"order_lines/order_lines_{y}.csv", rows)
            placed_pix[i0:i1], placed_ts[i0:i1] = crm_pix[rix], ts
            amount = pd.to_numeric(orders.amount, errors="coerce").to_numpy()
            paid = (status == "paid") & orders.store_id.notna().to_numpy() & ~np.isnan(amount)
            sold_store[i0:i1] = np.where(paid, crm_store_code[rix], -1)
            sold_month[i0:i1] = ts.astype("datetime64[M]").astype(np.int64)  # a monthly Period's ordinal
            sold_amount[i0:i1] = amount
            self.summary.order_blocks += 1
        web_rows = web_sink.close(o_cols)
        for rel in sorted(r for r in rows if r.startswith("orders/")):
            self.summary.counts[rel] = rows[rel]
        self.summary.counts["orders/web_shop_orders.parquet"] = web_rows
        for rel in sorted(r for r in rows if r.startswith("order_lines/")):
            self.summary.counts[rel] = rows[rel]
        placed = pd.DataFrame({"_pix": placed_pix, "_ts": placed_ts, "order_id": order_no}, copy=False)
        keep = sold_store >= 0
        sold = pd.DataFrame({"store": sold_store[keep], "month": sold_month[keep], "amount": sold_amount[keep]})
        pa.default_memory_pool().release_unused()  # pandas' text columns live in Arrow's pool, which keeps freed memory
        return placed, sold, store_ids

    # ---------------------------------------------------------------- events
    def events(self, p: pd.DataFrame, crm: pd.DataFrame, truth: list) -> int:
        rng = self.rng
        web_acct = crm[crm.source_system == "web_shop"].drop_duplicates("_pix").set_index("_pix")
        online = np.union1d(web_acct.index.to_numpy(),
                            p.index[(p.status == "lead") | self.mask(len(p), 0.25)].to_numpy())
        devices = 1 + (rng.random(len(online)) < 0.3)
        owner = np.repeat(online, devices)
        anon_known = len(owner)
        strangers = int(0.3 * self.n)
        owner = np.r_[owner, np.full(strangers, -1)]
        anon = np.array([f"a-{x:012x}" for x in rng.permutation(len(owner)) + 0xA00000], dtype=object)
        per = np.where(owner >= 0, rng.poisson(75, len(owner)), rng.poisson(6, len(owner))) + 1
        total = 0
        block = 20_000  # visitors per file: bounds memory at scale 100 (~1.5M events per block)
        (self.out / "events").mkdir(parents=True, exist_ok=True)
        for part, b0 in enumerate(range(0, len(owner), block)):
            sl = slice(b0, b0 + block)
            o, a, k = owner[sl], anon[sl], per[sl]
            ix = np.repeat(np.arange(len(o)), k)
            first = np.r_[0, np.cumsum(k)[:-1]]
            m = len(ix)
            ts = self.uniform_ts(_ts("2025-01-01"), self.end, m)
            # Text columns are held as codes into small tables of values until DuckDB writes the file:
            # a block has about 1.5M events, and a Python string per value would cost gigabytes.
            etype = self.rng.choice(4, size=m, p=[0.6, 0.27, 0.08, 0.05]).astype(np.int8)  # EVENT_TYPES
            user_id = np.full(m, None, dtype=object)
            phone = np.full(m, None, dtype=object)
            email = np.full(m, None, dtype=object)
            oo = o[ix]
            known = oo >= 0
            acct = np.isin(oo, web_acct.index.to_numpy()) & known
            login = np.zeros(m, bool)
            login[first] = True
            login &= acct
            etype[login] = EVENT_TYPES.index("login")
            user_id[login] = web_acct.source_customer_id.reindex(oo[login]).to_numpy()
            form = np.zeros(m, bool)
            form[first] = True
            form &= known & ~acct & self.mask(m, 0.7)
            etype[form] = EVENT_TYPES.index("form_submit")
            by_phone = form & self.mask(m, 0.7)
            phone[by_phone] = self.phone_text(p.phone.to_numpy()[oo[by_phone]])
            by_mail = form & ~by_phone
            email[by_mail] = p.email.to_numpy()[oo[by_mail]]
            form_anon = np.unique(a[ix][form & ~(by_mail & pd.isna(email))])
            ident = np.union1d(np.unique(a[ix][login]), form_anon)
            idset = set(ident)
            truth += [("events", x, f"P{int(w):07d}") for x, w in zip(a, o, strict=True) if x in idset]
            sku = self.rng.choice(len(EVENT_SKUS), size=m)
            query = self.rng.choice(len(EVENT_QUERIES), size=m)
            # properties: an index into EVENT_PROPERTIES (a product's SKU, a search's query, a form, or {})
            props = np.where(etype == EVENT_TYPES.index("product_view"), sku,
                             np.where(etype == EVENT_TYPES.index("search"), len(EVENT_SKUS) + query,
                                      np.where(etype == EVENT_TYPES.index("form_submit"), len(EVENT_PROPERTIES) - 2,
                                               len(EVENT_PROPERTIES) - 1)))
            del sku, query
            prov_i = np.where(known, p.place.to_numpy()[np.maximum(oo, 0)], rng.integers(0, len(V.PLACES), m))
            referrer = self.rng.choice(len(EVENT_REFERRERS), size=m)
            utm = self.rng.choice(len(EVENT_UTM), size=m)
            order = np.argsort(ts, kind="stable")  # the file is in time order (its text sorts as its time)

            def text(values: np.ndarray, codes: np.ndarray | None = None, order=order) -> pa.Array:
                return pa.array(values[order] if codes is None else values[codes[order]], type=pa.string(),
                                from_pandas=True)

            table = pa.table({
                "event_no": order.astype(np.int64), "ts": ts[order], "anonymous_id": text(a, ix),
                "event_type": text(EVENT_TYPE_TEXT, etype), "user_id": text(user_id), "phone": text(phone),
                "email": text(email), "page_url": text(EVENT_PAGE_URLS, etype),
                "referrer": text(EVENT_REFERRERS, referrer), "utm_source": text(EVENT_UTM, utm),
                "province": text(PROVINCES, prov_i), "city": text(CITIES, prov_i),
                "properties": text(EVENT_PROPERTIES, props),
            })
            del ts, etype, user_id, phone, email, oo, known, acct, login, form, by_phone, by_mail, props, prov_i
            del referrer, utm, order
            path = self.out / "events" / f"events_part{part:03d}.jsonl"
            con = duckdb.connect()
            con.execute("SET enable_progress_bar = false")  # a bar per file would bury the output
            con.register("t", table)
            con.execute(f"""COPY (SELECT printf('ev-%03d-%08d', {part}::BIGINT, event_no) AS event_id,
                                         strftime(ts, '%Y-%m-%dT%H:%M:%S+08:00') AS event_ts,
                                         * EXCLUDE (event_no, ts) REPLACE (properties::JSON AS properties)
                                  FROM t) TO '{path}' (FORMAT JSON)""")
            con.close()
            del table
            total += m
            if part == 0:
                self.append_broken(path, ['{"event_id": "ev-broken-1", "event_ts": "2026-01-0',
                                          '{"event_id": "ev-broken-2", "anonymous_id": "a-x", '
                                          '"event_type": "page_view"}'],
                                   "broken_json_or_missing_required")
        self.summary.counts["events"] = total
        return anon_known

    # ---------------------------------------------------------------- lists
    def lists(self, p: pd.DataFrame, truth: list):
        rng = self.rng
        prospects = p.index[p.status == "prospect"].to_numpy()
        cust = p.index[p.status == "customer"].to_numpy()
        which = rng.random(len(prospects)) < 0.6
        specs = [
            ("fair_gz_2026", "广州家电博览会", prospects[which], "utf-8",
             {"legal_basis": "consent_with_transfer", "basis_note": "visitor consent at fair registration",
              "permitted_channels": ["sms", "phone"],
              "expires_at": "2027-03-31", "cost": 6000, "acquired_at": "2026-05-20", "encoding": "utf-8"}),
            ("alliance_baby_2026", "宝贝影楼联盟", prospects[~which], "gb18030",
             {"legal_basis": "consent_with_transfer", "basis_note": "partner exchange with opt-in",
              "permitted_channels": ["sms"],
              "expires_at": "2026-12-31", "cost": 0, "acquired_at": "2026-09-01"}),
        ]
        for list_id, vendor, members, enc, meta in specs:
            overlap = cust[rng.random(len(cust)) < 0.06 * len(members) / max(len(cust), 1) * 2]
            ids = np.r_[members, overlap]
            ids = ids[rng.permutation(len(ids))]
            pp = p.loc[ids].reset_index(drop=True)
            m = len(pp)
            name = pp.name.to_numpy(dtype=object).copy()
            trad = self.mask(m, 0.2)
            name[trad] = [_S2T.convert(x) for x in name[trad]]
            age = ((np.datetime64(self.end_date) - pp.birth.to_numpy()).astype("timedelta64[D]").astype(int) // 365)
            use_age = self.mask(m, 0.5)
            df = pd.DataFrame({
                "list_record_id": [f"R{i:06d}" for i in range(1, m + 1)], "name": name,
                "phone": self.phone_text(pp.phone.to_numpy()),
                "email": np.where(self.mask(m, 0.4), pp.email, None),
                "gender": np.where(pp.gender == "M", "男", "女"),
                "birth_date": np.where(use_age, None, self.date_text(pp.birth.to_numpy())),
                "age": np.where(use_age, age.astype(str), None),
                "province": [x.rstrip("省市") for x in pp.province], "city": pp.city, "district": pp.district,
                "address": pp.district + pp.street, "postcode": None, "company": None, "title": None,
                "industry": None,
            })
            if list_id == "fair_gz_2026":  # the fair's registration survey asked for a yearly budget
                stated = self.mask(m, 0.4)
                budget = 6000 * self.affinity(pp).to_numpy() * rng.lognormal(0, 0.5, m)
                df["annual_budget"] = np.where(stated, (np.round(budget / 500) * 500).astype(int).astype(str), None)
            junk = np.flatnonzero(self.mask(m, 0.01))
            df.loc[junk, "phone"] = "13800138000"
            truth += [("lists", f"{list_id}:{r}", pid) for r, pid in zip(df.list_record_id, pp.person_id, strict=True)]
            folder = self.out / "lists" / list_id
            folder.mkdir(parents=True, exist_ok=True)
            manifest = {"list_id": list_id, "vendor": vendor, **meta}
            (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
            path = self.write_csv(df, f"lists/{list_id}/records.csv", encoding=enc)
            if enc != "utf-8":
                self.planted.append((str(path.relative_to(self.out)), "file", "undeclared_gb18030"))

    # ---------------------------------------------------------------- contacts, service, consents
    def feedback(self, p: pd.DataFrame, crm: pd.DataFrame, orders: pd.DataFrame):
        """``orders``: person (_pix), time (_ts) and number (order_id, the digits of the id) of every order."""
        rng = self.rng
        cust = p.index[p.status == "customer"].to_numpy()
        who = cust[self.mask(len(cust), 0.3)]
        who = np.repeat(who, rng.integers(1, 4, len(who)))
        m = len(who)
        camp = self.choice([("CMP-2025-SPRING", "sms"), ("CMP-2025-618", "sms"), ("CMP-2025-VIP", "phone"),
                            ("CMP-2026-NEWYEAR", "email"), ("CMP-2026-TRADEIN", "mail")], m)
        sent = self.uniform_ts(_ts("2025-02-01"), self.end - np.timedelta64(3, "D"), m)
        responded = self.mask(m, 0.09)
        resp_ts = sent + (rng.random(m) * 7 * 86400).astype(np.int64) * _SEC
        contacts = pd.DataFrame({
            "contact_id": [f"K{i:08d}" for i in range(1, m + 1)],
            "campaign_id": [c[0] for c in camp], "channel": [c[1] for c in camp],
            "sent_at": pd.Series(sent).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "phone": self.phone_text(p.phone.to_numpy()[who]),
            "delivered": np.where(self.mask(m, 0.95), "true", "false"),
            "opened": None, "clicked": None,
            "responded_at": np.where(responded, pd.Series(resp_ts).dt.strftime("%Y-%m-%d %H:%M:%S"), None),
            "coupon_code": np.where(responded, "CP-VIP", None), "converted_order_id": None,
            "opt_out": np.where(self.mask(m, 0.01), "true", "false"),
            "complaint": np.where(self.mask(m, 0.003), "true", "false"),
        })
        # conversions: the person's first order within 14 days of responding
        o = orders[["_pix", "_ts", "order_id"]].sort_values("_ts")
        c = pd.DataFrame({"_pix": who, "_ts": resp_ts, "i": np.arange(m)})[responded].sort_values("_ts")
        if len(c) and len(o):
            hit = pd.merge_asof(c, o, on="_ts", by="_pix", direction="forward", tolerance=pd.Timedelta("14D"))
            contacts.loc[hit.i.to_numpy(), "converted_order_id"] = np.array(
                [None if pd.isna(x) else f"O{int(x):09d}" for x in hit.order_id], dtype=object)
        self.write_csv(contacts, "contacts/contacts_2026.csv")

        rec = crm[crm._kind == "primary"]
        svc_rec = rec[self.mask(len(rec), 0.15)]
        svc_rec = svc_rec.loc[np.repeat(svc_rec.index.to_numpy(), rng.integers(1, 6, len(svc_rec)))]
        k = len(svc_rec)
        stype = self.choice(["hotline", "repair", "install", "gift_redeem", "return_handling"], k,
                            p=[0.35, 0.2, 0.15, 0.2, 0.1])
        base = pd.Series(stype).map({"hotline": 12, "repair": 180, "install": 120, "gift_redeem": 80,
                                     "return_handling": 60}).to_numpy()
        service = pd.DataFrame({
            "interaction_id": [f"SV{i:08d}" for i in range(1, k + 1)],
            "ts": pd.Series(self.uniform_ts(_ts("2024-01-01"), self.end, k)).dt.strftime("%Y/%m/%d %H:%M"),
            "type": stype, "source_system": svc_rec.source_system.to_numpy(),
            "source_customer_id": svc_rec.source_customer_id.to_numpy(), "phone": None,
            "cost": np.round(base * rng.uniform(0.5, 1.5, k), 2),
        })
        self.write_csv(service, "service/service_2026.csv")

        everyone = p.index[p.status != "lead"].to_numpy()
        g = everyone[self.mask(len(everyone), 0.35)]
        rows = [pd.DataFrame({"pix": g, "channel": self.choice(["sms", "email", "phone", "wechat"], len(g)),
                              "status": "granted"})]
        w = g[self.mask(len(g), 0.1)]
        rows.append(pd.DataFrame({"pix": w, "channel": "sms", "status": "withdrawn"}))
        d = everyone[self.mask(len(everyone), 0.02)]
        rows.append(pd.DataFrame({"pix": d, "channel": "all", "status": "do_not_contact"}))
        cons = pd.concat(rows, ignore_index=True)
        k = len(cons)
        ts = self.uniform_ts(_ts("2024-01-01"), self.end, k)
        later = (cons.status != "granted").to_numpy()
        ts[later] = np.maximum(ts[later], _ts("2026-06-01"))
        consents = pd.DataFrame({
            "ts": pd.Series(ts).dt.strftime("%Y-%m-%d %H:%M:%S"), "channel": cons.channel,
            "status": cons.status, "customer_id": None,
            "phone": self.phone_text(p.phone.to_numpy()[cons.pix.to_numpy()]),
            "email": None, "reason": np.where(cons.status == "do_not_contact", "customer asked by phone", None),
        })
        self.write_csv(consents, "consents/consents_2026.csv")

    def stores(self):
        rows = [{"store_id": f"ST{i * 4 + j:03d}", "store_name": f"{city.rstrip('市')}{d}店",
                 "province": prov, "city": city, "district": d, "opened_at": "2015-06-01"}
                for i, (prov, city, dists) in enumerate(V.PLACES) for j, d in enumerate((dists * 4)[:4])]
        self.write_csv(pd.DataFrame(rows), "stores/stores.csv")

    def store_targets(self, sold: pd.DataFrame, store_ids: np.ndarray) -> None:
        """Monthly revenue targets per store, as a head office sets them: the same month's revenue a year
        earlier plus 10%, rounded to 1,000 (at least 1,000), for the end date's year up to the month after it (set in
        advance). Every eighth store has none, so the KPIs show stores without a target (NULL attainment).
        Drawn from no random numbers: the rest of the demo stays byte for byte the same. ``sold``: store (an
        index into ``store_ids``), month (a monthly Period's ordinal) and amount of every paid store order with
        a readable amount, in the order of the orders (the sums are added up in that order)."""
        code = {st: i for i, st in enumerate(store_ids)}
        stores = sorted(store_ids[np.unique(sold.store)])
        sold = sold.groupby(["store", "month"]).amount.sum()
        end = pd.Period(pd.Timestamp(self.end), "M")
        rows = [{"store_id": st, "month": (m.start_time.date()).isoformat(),
                 "revenue_target": f"{max(round(sold.get((code[st], (m - 12).ordinal), 0.0) * 1.1, -3), 1000.0):.2f}"}
                for i, st in enumerate(stores) if i % 8 != 7
                for m in pd.period_range(pd.Period(f"{end.year}-01", "M"), end + 1, freq="M")]
        self.write_csv(pd.DataFrame(rows, columns=["store_id", "month", "revenue_target"]),
                       f"store_targets/targets_{end.year}.csv")

    # ---------------------------------------------------------------- main
    def run(self, parts: frozenset[str] = PARTS) -> DemoSummary:
        people = self.people()
        self.stores()
        crm = self.crm(people)
        truth: list[tuple[str, str, str]] = [
            ("crm_customers", f"{s}:{c}", f"P{int(x):07d}")
            for s, c, x in zip(crm.source_system, crm.source_customer_id, crm._pix, strict=True)]
        cols = [c for c in crm.columns if not c.startswith("_")]
        for system in SYSTEMS:
            part = crm[crm.source_system == system][cols]
            path = self.write_csv(part, f"crm_customers/{system}.csv")
            if system == "store_pos":
                self.append_broken(path, [
                    "store_pos,S999901,刘洋,男,1988-02-03,13912345670,liuyang@qq.com,,,,广东省,广州市,天河区,"
                    "天河区体育西路,广州,extra,,,,2024-01-01,2024-01-01",
                    "store_pos,S999902,\"周敏"], "wrong_field_count")
        orders = None
        if "orders" in parts:
            orders, sold, store_ids = self.orders(people, crm)
            self.store_targets(sold, store_ids)
            del sold
        if "events" in parts:
            self.events(people, crm, truth)
        if "lists" in parts:
            self.lists(people, truth)
        if orders is not None:
            self.feedback(people, crm, orders)  # contacts, service and consents refer to orders
        tdir = self.out / "_truth"
        tdir.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(truth, columns=["source", "source_record_id", "person_id"]).sort_values(
            ["source", "source_record_id"]).to_csv(tdir / "identity.csv", index=False)
        pd.DataFrame(self.planted, columns=["where", "locator", "problem"]).to_csv(tdir / "planted.csv", index=False)
        people[["person_id", "status", "family"]].to_csv(tdir / "people.csv", index=False)
        return self.summary


def generate(out: Path | str, scale: float = 1.0, seed: int = 42, end: date = DEMO_END,
             overwrite: bool = True, parts: frozenset[str] | set[str] = PARTS,
             order_block: int = ORDER_BLOCK) -> DemoSummary:
    """Write a demo landing zone to ``out``; returns counts of what was written.

    ``parts`` limits what is written besides stores and CRM customers (``orders``,
    ``events``, ``lists``): the identity benchmark needs only people, not a year of events.
    ``order_block``: people whose orders are made and written together (memory, not the files, depends on it).
    """
    unknown = set(parts) - PARTS
    if unknown:
        raise ValueError(f"unknown demo parts {sorted(unknown)}; choose from {sorted(PARTS)}")
    out = Path(out)
    if out.exists() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    if order_block < 1:
        raise ValueError(f"order_block must be at least 1, not {order_block}")
    gen = _Gen(out, scale, seed, end)
    gen.order_block = order_block
    return gen.run(frozenset(parts))
