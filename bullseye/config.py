"""Where a run reads and writes, and for which date. One object passed to every step."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"


@dataclass
class RunConfig:
    landing: Path
    warehouse: Path
    as_of: date = field(default_factory=date.today)
    # Everything else lives beside the warehouse unless set.
    home: Path | None = None
    # Identity resolution mode: auto, incremental, full or retrain (bullseye.identity.resolver).
    identity_mode: str = "auto"
    # Campaign definitions and contact policy (campaigns/ in the repo unless set).
    campaigns: Path | None = None

    def __post_init__(self) -> None:
        self.landing = Path(self.landing).resolve()
        self.warehouse = Path(self.warehouse).resolve()
        if isinstance(self.as_of, str):
            self.as_of = date.fromisoformat(self.as_of)
        self.home = Path(self.home).resolve() if self.home else self.warehouse.parent
        env = os.environ.get("BULLSEYE_CAMPAIGNS", "")
        self.campaigns = Path(self.campaigns or env or PROJECT_ROOT / "campaigns").expanduser().resolve()

    @property
    def run_id(self) -> str:
        return f"{self.as_of.isoformat()}"

    @property
    def published(self) -> Path:
        """The read-only copy BI tools open (contract section 2)."""
        return self.home / "published" / self.warehouse.name

    @property
    def exports(self) -> Path:
        return self.home / "exports" / self.as_of.isoformat()

    @property
    def quality_dir(self) -> Path:
        return self.home / "quality"

    @property
    def dbt_target(self) -> Path:
        return self.home / "dbt_target"

    @property
    def logs(self) -> Path:
        return self.home / "logs"


def working_copy(warehouse: Path, as_of: object) -> Path:
    """The working copy a night runs on (bullseye.night): beside the warehouse, so that the
    commit is a rename, and under the same file name, so that DuckDB's catalog name stays."""
    return Path(warehouse).parent / ".nights" / str(as_of) / Path(warehouse).name


def default_home() -> Path:
    return Path(os.environ.get("BULLSEYE_HOME", PROJECT_ROOT / "var")).resolve()
