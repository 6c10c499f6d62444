"""Deterministic demo landing zone for a Chinese retail chain, with planted problems.

Everything is drawn from one ``numpy`` generator seeded by ``seed``, in a fixed
order, so a seed always gives byte-identical files. Work is vectorized per
column so that scale 100 (1M people, ~10M orders, ~50M events) stays in minutes.

The truth file ``_truth/identity.csv`` says which source records are one
person; ``_truth/planted.csv`` lists the problems planted on purpose (junk,
broken rows, wrong digits, shared family phones ...) so tests can find them.

Behaviour has structure a model can find: people aged 28-45 and shoppers in the richer
coastal provinces buy more often (``affinity``), which the lookalike score should pick
up, and the fair's list carries a stated ``annual_budget`` for 40% of its records.
"""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
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

    # ---------------------------------------------------------------- helpers
    def choice(self, values, size, p=None):
        return np.asarray(values, dtype=object)[self.rng.choice(len(values), size=size, p=p)]

    def mask(self, size: int, share: float) -> np.ndarray:
        return self.rng.random(size) < share

    def uniform_ts(self, lo: np.ndarray | np.datetime64, hi: np.ndarray | np.datetime64, size: int):
        lo = np.broadcast_to(np.asarray(lo, dtype="datetime64[s]"), (size,))
        hi = np.broadcast_to(np.asarray(hi, dtype="datetime64[s]"), (size,))
        span = (hi - lo).astype(np.int64)
        return lo + (self.rng.random(size) * np.maximum(span, 0)).astype(np.int64) * _SEC

    def write_csv(self, df: pd.DataFrame, rel: str, encoding: str = "utf-8") -> Path:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        df.to_csv(path, index=False, encoding=encoding, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        self.summary.counts[rel] = len(df)
        return path

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

    def orders(self, p: pd.DataFrame, crm: pd.DataFrame):
        rng = self.rng
        crm = crm.assign(_rix=np.arange(len(crm))).sort_values(["_pix", "_rix"], kind="stable")
        has_orders = crm[crm._pix.isin(p.index[p.status == "customer"])]
        people = has_orders._pix.unique()
        first_rec = has_orders.groupby("_pix")._rix.agg(["min", "count"])
        k = len(people)
        start = self.uniform_ts(_ts("2021-01-01"), self.end - np.timedelta64(14, "D"), k)
        life_days = rng.exponential(900, k)
        stop = np.minimum(start + (life_days * 86400).astype(np.int64) * _SEC, self.end)
        years = (stop - start).astype(np.int64) / (365.25 * 86400)
        rate = rng.gamma(1.3, 8.0, k) * self.affinity(p).loc[people].to_numpy()
        n = 1 + rng.poisson(rate * years)
        cix = np.repeat(np.arange(k), n)
        first = np.r_[0, np.cumsum(n)[:-1]]
        ts = self.uniform_ts(start[cix], stop[cix], len(cix))
        ts[first] = start  # the first purchase opens the relationship
        ts += rng.integers(8 * 3600, 21 * 3600, len(ts)) * _SEC - (ts - ts.astype("datetime64[D]"))
        recs = crm.set_index("_rix")
        grp = first_rec.loc[people]
        rix = grp["min"].to_numpy()[cix]  # orders go to the person's records in turn
        pick = (rng.random(len(cix)) * grp["count"].to_numpy()[cix]).astype(int)
        rix_sorted = has_orders._rix.to_numpy()
        pos_start = np.searchsorted(has_orders._pix.to_numpy(), people)[cix]
        rix = rix_sorted[pos_start + pick]
        rec = recs.loc[rix]
        m = len(cix)
        order_id = np.array([f"O{i:09d}" for i in rng.permutation(m) + 1], dtype=object)
        # lines
        cat_ix, sku, price, cost = [], [], [], []
        for ci, (_cat, stems, (lo, hi), (clo, chi)) in enumerate(V.CATEGORIES):
            for stem in stems:
                for model in range(4):
                    cat_ix.append(ci)
                    sku.append(f"SKU-{ci}{len(sku):04d}")
                    pr = round(float(np.exp(np.log(lo) + (np.log(hi) - np.log(lo)) * ((model + 0.5) / 4))), 0)
                    price.append(pr)
                    cost.append(round(pr * (clo + (chi - clo) * ((model * 7 + len(stem)) % 5) / 4), 2))
        cat_ix, sku, price, cost = map(np.array, (cat_ix, sku, price, cost))
        pop = 1.0 / np.asarray([1, 1.5, 1.2, 0.8, 1.5, 0.6])[cat_ix] / price ** 0.35
        nl = rng.choice([1, 2, 3, 4], m, p=[0.5, 0.3, 0.15, 0.05])
        lix = np.repeat(np.arange(m), nl)
        line_no = np.arange(len(lix)) - np.repeat(np.r_[0, np.cumsum(nl)[:-1]], nl) + 1
        s = rng.choice(len(sku), len(lix), p=pop / pop.sum())
        qty = rng.choice([1, 1, 1, 2, 3], len(lix))
        amount_line = qty * price[s]
        gross = np.bincount(lix, weights=amount_line, minlength=m)
        coupon = self.mask(m, 0.06)
        discount = np.where(coupon, np.round(gross * rng.uniform(0.05, 0.2, m), 2), 0.0)
        channel = np.where(rec.source_system.to_numpy() == "web_shop", self.choice(["online", "app"], m),
                           "store")
        status = np.where(self.mask(m, 0.04), "refunded", "paid")
        orders = pd.DataFrame({
            "order_id": order_id, "source_system": rec.source_system.to_numpy(),
            "source_customer_id": rec.source_customer_id.to_numpy(),
            "order_ts": pd.Series(ts).dt.strftime("%Y-%m-%d %H:%M:%S"),
            "amount": np.round(gross - discount, 2), "store_id": np.where(channel == "store", rec.store_id, None),
            "channel": channel, "discount_amount": discount,
            "coupon_code": np.where(coupon, self.choice(["CP-SPRING", "CP-618", "CP-1111", "CP-VIP"], m), None),
            "status": status,
        })
        lines = pd.DataFrame({
            "order_id": order_id[lix], "line_no": line_no, "sku": sku[s],
            "category": np.array([V.CATEGORIES[c][0] for c in range(len(V.CATEGORIES))], dtype=object)[cat_ix[s]],
            "quantity": qty, "unit_price": price[s], "amount": amount_line, "unit_cost": cost[s],
        })
        orders["_pix"] = rec._pix.to_numpy()
        orders["_ts"] = ts
        return orders, lines

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
            etype = self.choice(["page_view", "product_view", "search", "add_to_cart"], m, p=[0.6, 0.27, 0.08, 0.05])
            user_id = np.full(m, None, dtype=object)
            phone = np.full(m, None, dtype=object)
            email = np.full(m, None, dtype=object)
            oo = o[ix]
            known = oo >= 0
            acct = np.isin(oo, web_acct.index.to_numpy()) & known
            login = np.zeros(m, bool)
            login[first] = True
            login &= acct
            etype[login] = "login"
            user_id[login] = web_acct.source_customer_id.reindex(oo[login]).to_numpy()
            form = np.zeros(m, bool)
            form[first] = True
            form &= known & ~acct & self.mask(m, 0.7)
            etype[form] = "form_submit"
            by_phone = form & self.mask(m, 0.7)
            phone[by_phone] = self.phone_text(p.phone.to_numpy()[oo[by_phone]])
            by_mail = form & ~by_phone
            email[by_mail] = p.email.to_numpy()[oo[by_mail]]
            form_anon = np.unique(a[ix][form & ~(by_mail & pd.isna(email))])
            ident = np.union1d(np.unique(a[ix][login]), form_anon)
            idset = set(ident)
            truth += [("events", x, f"P{int(w):07d}") for x, w in zip(a, o, strict=True) if x in idset]
            sku = self.choice([f"SKU-{c}{i:04d}" for c in range(6) for i in range(0, 100, 7)], m)
            props = np.where(etype == "product_view", '{"sku": "' + sku + '"}',
                             np.where(etype == "search",
                                      '{"query": "' + self.choice(["冰箱", "空调", "奶粉", "茶叶"], m) + '"}',
                                      np.where(etype == "form_submit", '{"form": "enquiry"}', "{}")))
            prov_i = np.where(known, p.place.to_numpy()[np.maximum(oo, 0)], rng.integers(0, len(V.PLACES), m))
            df = pd.DataFrame({
                "event_id": [f"ev-{part:03d}-{i:08d}" for i in range(m)],
                "event_ts": pd.Series(ts).dt.strftime("%Y-%m-%dT%H:%M:%S+08:00"),
                "anonymous_id": a[ix], "event_type": etype, "user_id": user_id, "phone": phone,
                "email": email, "page_url": "/" + etype,
                "referrer": self.choice([None, "https://www.baidu.com/", "https://weixin.qq.com/"], m),
                "utm_source": self.choice([None, "baidu", "wechat", "douyin"], m),
                "province": np.array([V.PLACES[i][0] for i in range(len(V.PLACES))], dtype=object)[prov_i],
                "city": np.array([V.PLACES[i][1] for i in range(len(V.PLACES))], dtype=object)[prov_i],
                "properties": props,
            }).sort_values("event_ts", kind="stable")
            path = self.out / "events" / f"events_part{part:03d}.jsonl"
            con = duckdb.connect()
            con.register("df", df)
            con.execute(f"COPY (SELECT * REPLACE (properties::JSON AS properties) FROM df) TO '{path}' (FORMAT JSON)")
            con.close()
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
            contacts.loc[hit.i.to_numpy(), "converted_order_id"] = hit.order_id.to_numpy()
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

    def store_targets(self, orders: pd.DataFrame) -> None:
        """Monthly revenue targets per store, as a head office sets them: the same month's revenue a year
        earlier plus 10%, rounded to 1,000 (at least 1,000), for the end date's year up to the month after it (set in
        advance). Every eighth store has none, so the KPIs show stores without a target (NULL attainment).
        Drawn from no random numbers: the rest of the demo stays byte for byte the same."""
        amount = pd.to_numeric(orders.amount, errors="coerce")
        paid = (orders.status == "paid").to_numpy() & orders.store_id.notna().to_numpy() & amount.notna().to_numpy()
        sold = pd.DataFrame({"store_id": orders.store_id[paid], "month": orders._ts[paid].dt.to_period("M"),
                             "amount": amount[paid]}).groupby(["store_id", "month"]).amount.sum()
        end = pd.Period(pd.Timestamp(self.end), "M")
        stores = sorted(orders.store_id[paid].unique())
        rows = [{"store_id": st, "month": (m.start_time.date()).isoformat(),
                 "revenue_target": f"{max(round(sold.get((st, m - 12), 0.0) * 1.1, -3), 1000.0):.2f}"}
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
        orders = self._orders(people, crm) if "orders" in parts else None
        if orders is not None:
            self.store_targets(orders)
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

    def _orders(self, people: pd.DataFrame, crm: pd.DataFrame) -> pd.DataFrame:
        """Write orders and order lines; returns the orders for the feedback files."""
        orders, lines = self.orders(people, crm)
        o_cols = [c for c in orders.columns if not c.startswith("_")]
        bad = np.flatnonzero(self.mask(len(orders), 0.0005))
        orders["amount"] = orders.amount.map("{:.2f}".format).astype(object)
        orders.loc[bad[: len(bad) // 2], "order_ts"] = "2025-13-45 25:61:00"
        orders.loc[bad[len(bad) // 2:], "amount"] = "abc"
        self.planted += [("orders", orders.order_id[i], "unreadable_order_ts") for i in bad[: len(bad) // 2]]
        self.planted += [("orders", orders.order_id[i], "unreadable_amount") for i in bad[len(bad) // 2:]]
        year = orders._ts.dt.year.to_numpy()
        web = (orders.source_system == "web_shop").to_numpy()
        for y in np.unique(year):
            self.write_csv(orders[(year == y) & ~web][o_cols], f"orders/orders_{y}.csv")
        (self.out / "orders").mkdir(parents=True, exist_ok=True)
        orders[web][o_cols].astype(str).replace({"None": None, "nan": None}).to_parquet(
            self.out / "orders" / "web_shop_orders.parquet", index=False)
        self.summary.counts["orders/web_shop_orders.parquet"] = int(web.sum())
        lyear = lines.order_id.map(pd.Series(np.asarray(year), index=orders.order_id))
        for y in np.unique(year):
            self.write_csv(lines[(lyear == y).to_numpy()], f"order_lines/order_lines_{y}.csv")
        return orders


def generate(out: Path | str, scale: float = 1.0, seed: int = 42, end: date = DEMO_END,
             overwrite: bool = True, parts: frozenset[str] | set[str] = PARTS) -> DemoSummary:
    """Write a demo landing zone to ``out``; returns counts of what was written.

    ``parts`` limits what is written besides stores and CRM customers (``orders``,
    ``events``, ``lists``): the identity benchmark needs only people, not a year of events.
    """
    unknown = set(parts) - PARTS
    if unknown:
        raise ValueError(f"unknown demo parts {sorted(unknown)}; choose from {sorted(PARTS)}")
    out = Path(out)
    if out.exists() and overwrite:
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return _Gen(out, scale, seed, end).run(frozenset(parts))
