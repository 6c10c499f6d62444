"""Shared fixtures: small landing zones written by hand or by the demo generator."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")


@pytest.fixture
def con(tmp_path):
    """A fresh DuckDB warehouse file for loader tests."""
    import duckdb

    c = duckdb.connect(str(tmp_path / "w.duckdb"))
    yield c
    c.close()


def q(con, sql, *params):
    """All rows of a query (fetchall: a half-read result blocks the connection)."""
    return con.execute(sql, list(params)).fetchall()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


@pytest.fixture(scope="session")
def demo_landing(tmp_path_factory) -> Path:
    """A small demo landing zone (about 1,000 people), generated once per test session."""
    from bullseye.demo import generate

    out = tmp_path_factory.mktemp("demo") / "landing"
    generate(out, scale=0.1, seed=7)
    return out


MINIMAL_CRM = """source_customer_id,name,phone
c1,张伟,138 0013 8001
c2,李娜,+86 139-0000-1111
"""
MINIMAL_ORDERS = """order_id,source_customer_id,order_ts,amount
o1,c1,2026-01-05 10:00:00,120.50
o2,c1,2026/3/1,80
o3,c2,20260401,300
"""
