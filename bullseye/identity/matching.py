"""Probabilistic matching (Fellegi-Sunter) with Splink on DuckDB.

Records that share no usable key can still be one person: a web-shop account
typed with a wrong phone digit, a list record with a junk phone, a clerk's typo
in the name. Splink scores candidate pairs on name, pinyin, birth date, phone,
email, address, city and gender, with term-frequency adjustment on the name so
that two 王伟 prove less than two 欧阳娜娜.

The model is trained unsupervised (u by random sampling, m by EM) and kept with
the run (``identity.match_models``), together with the name frequency table, so
that an incremental night scores new records exactly as a full rebuild with the
same model would.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import duckdb
import pandas as pd

MATCH_COLUMNS = ("unique_id", "name", "name_pinyin", "birth_date", "phone", "email", "city", "address",
                 "gender")
TF_COLUMNS = ("name",)
# Bump when comparisons or blocking rules change: a stored model of another version is
# retrained, and its cached pair scores dropped, on the next ``auto`` night.
MODEL_VERSION = 2
# Pairs are only scored inside these blocks; each is cheap (a few candidates per record)
# and together they catch a duplicate that has lost any one of its identifying fields.
BLOCKING_RULES = (("phone",), ("email",), ("name", "birth_date"), ("name_pinyin", "city"), ("birth_date", "city"),
                  ("address",))

log = logging.getLogger(__name__)


class CannotTrain(Exception):
    """Tonight's records give the match model nothing to learn from (no column to block on)."""


@dataclass
class MatchModel:
    """A trained Splink model and the name frequencies it was trained with."""

    settings: dict
    tf: dict[str, pd.DataFrame]

    def to_json(self) -> str:
        return json.dumps(self.settings, ensure_ascii=False)


def _quiet_splink() -> None:
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # "Level ... not observed in dataset, unable to train m value": expected on small or
    # clean data, and handled by _floor_probabilities, so it is not the user's concern.
    logging.getLogger("splink.internals.expectation_maximisation").setLevel(logging.ERROR)


def settings_creator():
    """The comparisons and blocking rules of the match model (untrained)."""
    import splink.comparison_level_library as cll
    from splink import SettingsCreator, block_on
    from splink.comparison_library import CustomComparison

    def simple(col: str, *middle) -> CustomComparison:
        return CustomComparison(
            [cll.NullLevel(col), cll.ExactMatchLevel(col), *middle, cll.ElseLevel()], output_column_name=col)

    swapped = ("substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) "
               "and substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2) "
               "and substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)")
    comparisons = [
        CustomComparison([
            cll.NullLevel("name"),
            cll.ExactMatchLevel("name", term_frequency_adjustments=True),
            cll.CustomLevel("name_pinyin_l = name_pinyin_r", "same pinyin (homophone or variant)"),
            cll.JaroWinklerLevel("name_pinyin", 0.88),
            cll.ElseLevel(),
        ], output_column_name="name"),
        simple("birth_date", cll.CustomLevel(swapped, "day and month swapped"), cll.LevenshteinLevel("birth_date", 1)),
        simple("phone", cll.LevenshteinLevel("phone", 1)),
        simple("email"),
        simple("address", cll.JaroWinklerLevel("address", 0.9)),
        simple("city"),
        simple("gender"),
    ]
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=[block_on(*cols) for cols in BLOCKING_RULES],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=20,
    )


def _linker(con: duckdb.DuckDBPyConnection, table: str, settings, tf: dict[str, pd.DataFrame] | None = None):
    from splink import DuckDBAPI, Linker

    if isinstance(settings, dict):
        settings = {k: v for k, v in settings.items() if not k.startswith("bullseye_")}
    _quiet_splink()
    db_api = DuckDBAPI(connection=con)
    sdf = db_api.register(table)
    linker = Linker(sdf, settings, log_level=logging.WARNING)
    for col, frame in (tf or {}).items():
        linker.table_management.register_term_frequency_lookup(db_api.register(frame), col)
    return linker, db_api


def train(con: duckdb.DuckDBPyConnection, table: str, seed: int = 1) -> MatchModel:
    """Train u by random sampling and m by EM on two independent blocking rules.

    Each EM pass cannot learn the comparisons its own blocking rule fixes, so the
    first (same phone) learns name, birth date and address, and the second (same
    name and birth date) learns phone, email and the rest.
    """
    from splink import block_on

    linker, _ = _linker(con, table, settings_creator())
    linker.training.estimate_probability_two_random_records_match(
        [block_on("phone", "name"), block_on("email", "name")], recall=0.8)
    n = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    linker.training.estimate_u_using_random_sampling(max_pairs=min(5e6, max(1e5, n * 5.0)), seed=seed)
    for rule in (block_on("phone"), block_on("name", "birth_date")):
        linker.training.estimate_parameters_using_expectation_maximisation(
            rule, record_sample_proportion=1.0 if n < 2_000_000 else 0.5)
    settings = _floor_probabilities(linker.misc.save_model_to_json())
    settings["bullseye_model_version"] = MODEL_VERSION
    tf = {col: term_frequencies(con, table, col) for col in TF_COLUMNS}
    return MatchModel(settings=settings, tf=tf)


def _floor_probabilities(settings: dict, m_floor: float = 0.005, u_floor: float = 1e-6) -> dict:
    """Keep every level's m and u away from zero.

    A level EM never saw (no pair with two different emails among its training
    matches) would otherwise get m = 0, an infinite negative weight that forbids any
    future match with that disagreement, however strong the rest of the evidence.
    """
    for comparison in settings["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            # Rounded to 10 significant digits: EM's sums come out in a different float order
            # from run to run, and the stored model should not depend on it.
            level["m_probability"] = float(f"{max(level.get('m_probability') or 0.0, m_floor):.10g}")
            level["u_probability"] = float(f"{max(level.get('u_probability') or 0.0, u_floor):.10g}")
    return settings


def term_frequencies(con: duckdb.DuckDBPyConnection, table: str, col: str) -> pd.DataFrame:
    """Share of non-null records carrying each value of ``col`` (Splink's tf_ table)."""
    return con.execute(f"""
        select {col}, count(*) / sum(count(*)) over () as tf_{col}
        from {table} where {col} is not null group by {col}""").df()


def predict(con: duckdb.DuckDBPyConnection, model: MatchModel, table: str, threshold: float,
            new_table: str | None = None) -> pd.DataFrame:
    """Score candidate pairs and keep those at or above ``threshold`` match probability.

    Without ``new_table`` all pairs within ``table`` are scored. With it, only pairs
    that involve a new record: new against existing (``table`` minus new) and new
    against new, which is what a full run would score for those records.
    Returns unique_id_l, unique_id_r (l < r), match_weight, match_probability.
    """
    linker, db_api = _linker(con, table, model.settings, model.tf)
    if new_table is None:
        res = linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")
        frames = [res.as_pandas_dataframe()]
    else:
        con.execute(f"""create or replace temp table __bz_existing as
                        select * from {table} anti join {new_table} using (unique_id)""")
        existing = db_api.register("__bz_existing", table_name="__bz_existing_role")
        new = db_api.register(new_table, table_name="__bz_new_role")
        frames = [
            linker.inference.predict_between(existing, new, threshold_match_probability=threshold,
                                             warning_mode="never").as_pandas_dataframe(),
            linker.inference.predict_within(new, threshold_match_probability=threshold,
                                            warning_mode="never").as_pandas_dataframe(),
        ]
    out = pd.concat([f[["unique_id_l", "unique_id_r", "match_weight", "match_probability"]] for f in frames],
                    ignore_index=True)
    swap = out["unique_id_l"] > out["unique_id_r"]
    out.loc[swap, ["unique_id_l", "unique_id_r"]] = out.loc[swap, ["unique_id_r", "unique_id_l"]].to_numpy()
    return out.drop_duplicates(["unique_id_l", "unique_id_r"]).reset_index(drop=True)


def score_pair(con: duckdb.DuckDBPyConnection, model: MatchModel, table: str, left: str, right: str) -> dict:
    """Match weight of one pair and the contribution of each comparison (for "why not merged")."""
    settings = {**model.settings, "retain_intermediate_calculation_columns": True}
    linker, db_api = _linker(con, table, settings, model.tf)
    rows = con.execute(f"select * from {table} where unique_id in (?, ?)", [left, right]).df()
    if len(rows) < 2:
        return {}
    a = rows[rows.unique_id == left].iloc[0].to_dict()
    b = rows[rows.unique_id == right].iloc[0].to_dict()
    res = linker.inference.score_pair(_clean(a), _clean(b), include_found_by_blocking_rules=True)
    df = res.as_pandas_dataframe()
    return df.iloc[0].to_dict() if len(df) else {}


def _clean(row: dict) -> dict:
    return {k: (None if pd.isna(v) else v) for k, v in row.items()}
