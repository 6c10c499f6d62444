import hashlib
import re

import pandas as pd
import pytest

from bullseye.demo import generate


def _digest(folder):
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(folder)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
    a, b, c = (generate(tmp_path / x, scale=0.02, seed=s).out for x, s in (("a", 3), ("b", 3), ("c", 4)))
    assert _digest(a) == _digest(b)
    assert _digest(a) != _digest(c)


def test_demo_has_every_source_and_planted_problems(demo_landing):
    for folder in ["crm_customers", "orders", "order_lines", "events", "lists", "contacts", "service",
                   "consents", "stores", "store_targets"]:
        assert any((demo_landing / folder).rglob("*.*")), folder
    crm_sources = {p.stem for p in (demo_landing / "crm_customers").glob("*.csv")}
    assert len(crm_sources) >= 2
    gb = demo_landing / "lists" / "alliance_baby_2026" / "records.csv"
    with pytest.raises(UnicodeDecodeError):
        gb.read_bytes().decode("utf-8")
    assert "编码" not in gb.read_bytes().decode("gb18030")  # decodes cleanly as GB18030
    planted = pd.read_csv(demo_landing / "_truth" / "planted.csv")
    for problem in ["junk_phone", "junk_email", "wrong_phone_digit", "unreadable_birth_date",
                    "wrong_field_count", "unreadable_order_ts", "undeclared_gb18030"]:
        assert (planted.problem == problem).any(), problem
    people = pd.read_csv(demo_landing / "_truth" / "people.csv")
    assert people.family.any()  # family members sharing one phone
    crm = "".join(p.read_text(encoding="utf-8") for p in (demo_landing / "crm_customers").glob("*.csv"))
    assert re.search("陳|張|劉|楊|趙|黃|吳|鄭|偉|麗|華|國", crm)  # traditional variants
    assert ",0086-1" in crm and re.search(r",\+86 1\d\d \d{4} \d{4},", crm)  # many phone forms


def test_truth_names_one_person_per_record(demo_landing):
    truth = pd.read_csv(demo_landing / "_truth" / "identity.csv")
    assert not truth.duplicated(["source", "source_record_id"]).any()
    sizes = truth.groupby("person_id").size()
    assert (sizes > 1).sum() > 50  # plenty of duplicates to find
