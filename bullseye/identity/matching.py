"""Probabilistic matching (Fellegi-Sunter) with Splink on DuckDB, fitted to tonight's columns.

Records that share no usable key can still be one person: a web-shop account typed
with a wrong phone digit, a list record with a junk phone, a clerk's typo in the
name, an old store system that kept only name, birth date and address. Splink scores
candidate pairs on whatever of these the records carry: name (Hanzi folded to
simplified, pinyin, Latin names in either order and with initials), birth date,
phone, email, address tokens, postcode, city, gender and account identifiers that
are not hashed (member card, web login, a list's own record id), with term-frequency
adjustment on the name so that two 王伟 (or two John Smiths) prove less than two 欧阳娜娜.

Nothing here assumes the demo's columns. At training time :func:`plan` looks at the
records: comparisons whose columns are (almost) always empty are left out, EM
training blocks are chosen among those that yield pairs tonight so that every
comparison is trained by a block that does not fix it, and the prediction blocking
rules are those whose columns are present, within a budget of comparisons. What was
left out is written into the model as a note, which the night's summary shows.

The model is trained unsupervised (u by random sampling, m by EM) and kept with the
run (``identity.match_models``), together with the name frequency table, so that an
incremental night scores new records exactly as a full rebuild with the same model.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field, replace

import duckdb
import pandas as pd

# The columns the resolver hands over (see resolver.match_input_sql), before features are derived.
BASE_COLUMNS = ("unique_id", "name", "name_pinyin", "birth_date", "phone", "email", "city", "address", "postcode",
                "gender", "member_card", "web_login", "list_ref")
TF_COLUMNS = ("name_key",)
# Bump when comparisons, features or blocking change: a stored model of another version
# is retrained, and its cached pair scores dropped, on the next ``auto`` night.
MODEL_VERSION = 3

# A comparison is left out when fewer records than this carry its column (share or count).
MIN_FILL_SHARE = 0.005
MIN_FILL_RECORDS = 20
# An EM training block needs at least this many pairs to estimate anything.
MIN_TRAINING_PAIRS = 50
# Prediction may score at most this many candidate pairs per record (plus a floor), so a
# blocking rule on a column with few values (a city, a common street) cannot blow up.
COMPARISONS_PER_RECORD = 40
MIN_COMPARISON_BUDGET = 1_000_000
# Precision guard (see _guard_sql): for a name carried by at least this many records of the
# training data, name, birth date, gender and city never overrule the rest.
COMMON_NAME_RECORDS = 5
WEAK_COMPARISONS = ("name", "birth_date", "gender", "city")

# The input columns each comparison reads (a blocking rule on any of them fixes it).
COMPARISON_COLUMNS = {
    "name": ("name_key", "name_pinyin", "name_initials", "name_tokens", "name_tok1", "name_tok2"),
    "birth_date": ("birth_date", "birth_year"),
    "phone": ("phone",),
    "email": ("email",),
    "member_card": ("member_card",),
    "web_login": ("web_login",),
    "list_ref": ("list_ref",),
    "address": ("address", "addr_street", "addr_number", "addr_unit", "addr_tokens", "addr_district"),
    "postcode": ("postcode",),
    "city": ("city",),
    "gender": ("gender",),
}
# The column whose fill rate decides whether a comparison is in the model.
PRIMARY_COLUMN = {"name": "name_key", "address": "address"}

# Candidate blocking rules, strongest first. Each catches a duplicate that kept the
# fields it names; together they catch one that lost or garbled any one or two of them.
BLOCKING_CANDIDATES = (
    ("phone",), ("email",), ("member_card",), ("web_login",),
    ("name_key", "birth_date"), ("address",), ("name_key", "addr_street"), ("birth_date", "addr_street"),
    ("name_pinyin", "city"), ("birth_date", "city"), ("name_key", "postcode"), ("birth_date", "postcode"),
    ("addr_street", "addr_number"), ("name_pinyin", "addr_street"), ("name_initials", "birth_date"),
    ("name_initials", "addr_street"), ("name_pinyin", "birth_date"), ("addr_street", "addr_unit"), ("list_ref",),
    ("name_tok1", "birth_year"), ("name_tok2", "birth_year"), ("name_tok1", "addr_street"),
    ("name_tok2", "addr_street"), ("birth_date",), ("name_key",),
    ("postcode", "addr_number"),
)
# EM training blocks, in order of preference: narrow blocks full of true pairs first.
TRAINING_CANDIDATES = (
    ("phone",), ("name_key", "birth_date"), ("member_card",), ("email",), ("address",), ("web_login",),
    ("name_key", "addr_street"), ("birth_date", "addr_street"), ("name_key", "postcode"),
)
# Rules precise enough to count as matches when estimating how likely two random records match.
DETERMINISTIC_CANDIDATES = (
    ("phone", "name_key"), ("email", "name_key"), ("member_card", "name_key"),
    ("name_key", "birth_date"), ("name_key", "address"), ("birth_date", "address"),
)

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


@dataclass
class Plan:
    """What tonight's records allow: comparisons, blocking rules and training blocks, and what was left out."""

    comparisons: list[str]
    blocking: list[tuple[str, ...]]
    training: list[tuple[str, ...]]
    deterministic: list[tuple[str, ...]]
    notes: list[str] = field(default_factory=list)


def features_sql(base: str) -> str:
    """The columns the model compares, derived from the resolver's base columns in plain SQL.

    Names: ``name_key`` is the folded name for Hanzi, and for Latin script the lower-case,
    accent-free tokens in sorted order (so "Smith, John" = "john smith"); ``name_initials``
    the sorted first letters. Addresses: lower-case, accent-free, common street words
    abbreviated; ``addr_tokens`` split after 省市区县路街号栋室… and around numbers;
    ``addr_number`` the first number (the house number: 体育西路123号, 123 Main St);
    ``addr_street`` the first token ending in 路/街/道/巷/弄 or, in Latin script, the words
    after the house number.
    """
    abbreviations = {"street": "st", "road": "rd", "avenue": "ave", "drive": "dr", "lane": "ln",
                     "boulevard": "blvd", "place": "pl", "court": "ct", "square": "sq", "apartment": "apt",
                     "calle": "c", "avenida": "av"}
    addr = "lower(strip_accents(address))"
    for word, short in abbreviations.items():
        addr = f"regexp_replace({addr}, '\\b{word}\\b', '{short}', 'g')"
    split = (f"regexp_replace(regexp_replace({addr}, '([省市区县镇乡路街道巷弄号栋幢室])', '\\1 ', 'g'), "
             "'([0-9]+)', ' \\1 ', 'g')")
    latin = "regexp_matches(lower(strip_accents(name)), '[a-z]')"
    return f"""
    with b as (
        select *, regexp_extract_all(lower(strip_accents(name)), '[a-z]+') as _name_tokens,
               list_filter(regexp_extract_all({split}, '[^ ,.;#/()-]+'),
                           lambda t: length(t) > 1 or regexp_full_match(t, '[0-9a-z]')) as _addr_tokens,
               {addr} as _addr
        from {base}
    )
    select unique_id, name,
           case when {latin} then array_to_string(list_sort(_name_tokens), ' ') else name end as name_key,
           case when {latin} then list_sort(_name_tokens) end as name_tokens,
           case when {latin} then array_to_string(list_sort(list_transform(_name_tokens, lambda t: left(t, 1))), '')
           end as name_initials,
           name_pinyin, birth_date, phone, email, city, gender,
           nullif(regexp_replace(lower(postcode), '[^0-9a-z]', '', 'g'), '') as postcode,
           member_card, web_login, list_ref,
           nullif(regexp_replace(_addr, '[^0-9a-z\\p{{Han}}]', '', 'g'), '') as address,
           nullif(list_sort(list_distinct(_addr_tokens)), []) as addr_tokens,
           list_filter(_addr_tokens, lambda t: regexp_full_match(t, '[0-9]+'))[1] as addr_number,
           case when len(list_filter(_addr_tokens, lambda t: regexp_full_match(t, '[0-9]+'))) > 1
                then list_filter(_addr_tokens, lambda t: regexp_full_match(t, '[0-9]+'))[-1] end as addr_unit,
           coalesce(list_filter(_addr_tokens, lambda t: regexp_matches(t, '(路|街|道|巷|弄|胡同)$'))[1],
                    nullif(trim(regexp_replace(
                        regexp_extract(_addr, '[0-9]+[a-z]?\\s+([a-z][a-z ]*?)\\s*(,|$)', 1),
                        '\\s(st|rd|ave|av|dr|ln|blvd|pl|ct|sq|way|close|c)(\\s.*)?$', '')), ''))
               as addr_street,
           coalesce(list_filter(_addr_tokens, lambda t: regexp_matches(t, '(区|县|旗)$'))[1],
                    nullif(trim(regexp_extract(_addr, ',\\s*([^,]+)$', 1)), '')) as addr_district,
           -- blocking keys only: a Latin name's tokens (sorted) and the birth year
           -- (for Hanzi: the family name character and the given name)
           case when {latin} then list_sort(_name_tokens)[1] else left(name, 1) end as name_tok1,
           case when {latin} then list_sort(_name_tokens)[-1] else nullif(substr(name, 2), '') end as name_tok2,
           substr(birth_date, 1, 4) as birth_year
    from b"""


def _quiet_splink() -> None:
    for name in ("splink", "splink.internals"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # "Level ... not observed in dataset, unable to train m value": expected on small or
    # clean data, and handled by _floor_probabilities, so it is not the user's concern.
    logging.getLogger("splink.internals.expectation_maximisation").setLevel(logging.ERROR)


# Jaro-Winkler on Spark: DuckDB's own jaro_winkler_similarity, registered by bullseye.identity.spark_match.
# The jaro_winkler of Splink's jar counts otherwise (katherineraylor/kathcrinetaylor: 0.8851 on DuckDB,
# 0.8774 from the jar), so the same stored model would put some names on another level.
SPARK_JARO_WINKLER = "bz_jaro_winkler"
# The list functions of the custom levels, per SQL dialect (Splink's own levels write theirs).
LIST_SQL = {
    "duckdb": {"overlap": "len(list_intersect({a}, {b}))", "union": "len(list_distinct(list_concat({a}, {b})))"},
    "spark": {"overlap": "size(array_intersect({a}, {b}))", "union": "size(array_distinct(concat({a}, {b})))"},
}


def _comparison(name: str, dialect: str = "duckdb"):
    """The Splink comparison for one attribute: its levels, strongest first, in ``dialect``'s SQL."""
    import splink.comparison_level_library as cll
    from splink.comparison_library import CustomComparison

    def jaro_winkler(col: str, threshold: float):
        if dialect == "duckdb":
            return cll.JaroWinklerLevel(col, threshold)
        return cll.CustomLevel(f"{SPARK_JARO_WINKLER}({col}_l, {col}_r) >= {threshold}",
                               f"Jaro-Winkler distance of {col} >= {threshold}")

    def simple(col: str, *middle) -> CustomComparison:
        return CustomComparison(
            [cll.NullLevel(col), cll.ExactMatchLevel(col), *middle, cll.ElseLevel()], output_column_name=col)

    if name == "name":
        lists = LIST_SQL[dialect]
        common = lists["overlap"].format(a="name_tokens_l", b="name_tokens_r")
        initials = f"name_initials_l = name_initials_r and {common} > 0"
        return CustomComparison([
            cll.NullLevel("name_key"),
            cll.ExactMatchLevel("name_key", term_frequency_adjustments=True),
            cll.CustomLevel("name_pinyin_l = name_pinyin_r", "same pinyin (homophone or variant)"),
            jaro_winkler("name_key", 0.92),
            jaro_winkler("name_pinyin", 0.88),
            cll.CustomLevel(initials, "initials and a name in common"),
            cll.ElseLevel(),
        ], output_column_name="name")
    if name == "birth_date":
        swapped = ("substr(birth_date_l, 1, 4) = substr(birth_date_r, 1, 4) "
                   "and substr(birth_date_l, 6, 2) = substr(birth_date_r, 9, 2) "
                   "and substr(birth_date_l, 9, 2) = substr(birth_date_r, 6, 2)")
        return simple("birth_date", cll.CustomLevel(swapped, "day and month swapped"),
                      cll.LevenshteinLevel("birth_date", 1),
                      cll.CustomLevel("substr(birth_date_l, 6, 5) = substr(birth_date_r, 6, 5)", "same day and month"))
    if name == "address":
        lists = LIST_SQL[dialect]
        jaccard = (lists["overlap"].format(a="addr_tokens_l", b="addr_tokens_r") + " / "
                   + lists["union"].format(a="addr_tokens_l", b="addr_tokens_r") + " >= 0.6")
        # 中山路 is in every city: a street only counts in the same district (or where one is unknown).
        district = "coalesce(addr_district_l = addr_district_r, true)"
        return simple("address",
                      cll.CustomLevel(f"addr_street_l = addr_street_r and addr_number_l = addr_number_r and {district}",
                                      "same street and house number"),
                      cll.CustomLevel(f"{jaccard} and {district}", "most address tokens in common"),
                      cll.CustomLevel(f"addr_street_l = addr_street_r and {district}", "same street"))
    if name in ("phone", "member_card", "web_login", "list_ref", "postcode"):
        return simple(name, cll.DamerauLevenshteinLevel(name, 1))
    return simple(name)


def settings_creator(plan: Plan, dialect: str = "duckdb"):
    """The comparisons and blocking rules of the match model (untrained) for ``plan``."""
    from splink import SettingsCreator, block_on

    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="unique_id",
        comparisons=[_comparison(c, dialect) for c in plan.comparisons],
        blocking_rules_to_generate_predictions=[block_on(*cols) for cols in plan.blocking],
        retain_matching_columns=False,
        retain_intermediate_calculation_columns=False,
        max_iterations=20,
    )


def _pairs(con: duckdb.DuckDBPyConnection, table: str, cols: tuple[str, ...]) -> int:
    """Record pairs a blocking rule on ``cols`` would generate (all columns non-null and equal)."""
    where = " and ".join(f"{c} is not null" for c in cols)
    group = ", ".join(cols)
    got = con.execute(f"""select coalesce(sum(n * (n - 1) / 2), 0) from (
        select count(*) as n from {table} where {where} group by {group})""").fetchall()[0][0]
    return int(got)


def plan(con: duckdb.DuckDBPyConnection, table: str) -> Plan:
    """Choose comparisons, blocking rules and training blocks from what tonight's records carry."""
    n = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    cols = sorted({c for group in COMPARISON_COLUMNS.values() for c in group})
    counts = con.execute("select " + ", ".join(f"count({c}), count(distinct {c})" for c in cols)
                         + f" from {table}").fetchall()[0]
    filled = {c: counts[2 * i] for i, c in enumerate(cols)}
    distinct = {c: counts[2 * i + 1] for i, c in enumerate(cols)}
    notes: list[str] = []
    floor = max(MIN_FILL_RECORDS, MIN_FILL_SHARE * n)
    present = {c for c in cols if filled[c] >= floor and distinct[c] >= 2}
    comparisons = [c for c in COMPARISON_COLUMNS if PRIMARY_COLUMN.get(c, c) in present]
    sparse = [f"{c} (filled in {filled[PRIMARY_COLUMN.get(c, c)]:,} of {n:,} records)" for c in COMPARISON_COLUMNS
              if c not in comparisons and filled[PRIMARY_COLUMN.get(c, c)] > 0]
    if sparse:
        notes.append(f"comparisons left out, as their columns are almost always empty: {', '.join(sparse)}")

    counted: dict[tuple[str, ...], int] = {}

    def pairs_of(rule: tuple[str, ...]) -> int:
        """Pair counts, each rule counted once (blocking and training candidates overlap)."""
        if rule not in counted:
            counted[rule] = _pairs(con, table, rule)
        return counted[rule]

    budget = max(MIN_COMPARISON_BUDGET, COMPARISONS_PER_RECORD * n)
    blocking, used, over = [], 0, []
    for rule in BLOCKING_CANDIDATES:
        if not set(rule) <= present:
            continue
        pairs = pairs_of(rule)
        if pairs == 0:
            continue
        if used + pairs > budget:
            over.append(f"{'+'.join(rule)} ({pairs:,} pairs)")
            continue
        blocking.append(rule)
        used += pairs
    if over:
        notes.append(f"blocking rules left out to stay within {budget:,} comparisons: {', '.join(over)}")

    training, untrained = _training_blocks(pairs_of, comparisons, present)
    if untrained:
        notes.append(f"comparisons left out, as no training block without them yields {MIN_TRAINING_PAIRS} "
                     f"pairs tonight: {', '.join(untrained)}")
        comparisons = [c for c in comparisons if c not in untrained]
    absent = [c for c in COMPARISON_COLUMNS if c not in comparisons and c not in untrained
              and c not in ("list_ref", "web_login")]
    if absent and comparisons:
        log.info("identity: no %s in tonight's records to compare", ", ".join(absent))
    deterministic = [r for r in DETERMINISTIC_CANDIDATES if set(r) <= present and pairs_of(r) > 0]
    if not comparisons or not blocking or not training:
        raise CannotTrain(
            "no column tonight both identifies people and is filled often enough to block and train on "
            f"(filled: {', '.join(sorted(present)) or 'none'})")
    return Plan(comparisons, blocking, training, deterministic, notes)


def _training_blocks(pairs_of, comparisons: list[str], present: set[str]
                     ) -> tuple[list[tuple[str, ...]], list[str]]:
    """EM blocks such that every comparison is trained by at least one block that does not fix it.

    A block fixes the comparisons whose columns it uses (EM cannot learn their m from
    pairs that agree on them by construction); the others it can train. Blocks are taken
    in order of preference, each only if it trains something not yet trained.
    """
    fixes = {rule: _fixed_by(rule) for rule in TRAINING_CANDIDATES}
    todo, chosen = set(comparisons), []
    for rule in TRAINING_CANDIDATES:
        if not todo:
            break
        if not set(rule) <= present or not (todo - fixes[rule]):
            continue
        if pairs_of(rule) < MIN_TRAINING_PAIRS:
            continue
        chosen.append(rule)
        todo -= set(comparisons) - fixes[rule]
    return chosen, [c for c in comparisons if c in todo]


def _fixed_by(rule: tuple[str, ...]) -> set[str]:
    """The comparisons a blocking rule fixes: those reading one of its columns (EM cannot learn them on it)."""
    return {c for c, group in COMPARISON_COLUMNS.items() if set(rule) & set(group)}


def _linker(db_api, table, settings, tf: dict[str, pd.DataFrame] | None = None):
    """A Splink linker on ``db_api`` (DuckDB or Spark) over ``table`` (a table name or a frame the backend takes)."""
    from splink import Linker

    if isinstance(settings, dict):
        settings = {k: v for k, v in settings.items() if not k.startswith("bullseye_")}
    _quiet_splink()
    sdf = db_api.register(table)
    linker = Linker(sdf, settings, log_level=logging.WARNING)
    for col, frame in (tf or {}).items():
        linker.table_management.register_term_frequency_lookup(db_api.register(frame), col)
    return linker


def _duckdb_api(con: duckdb.DuckDBPyConnection):
    from splink import DuckDBAPI

    return DuckDBAPI(connection=con)


def train(con: duckdb.DuckDBPyConnection, table: str, seed: int = 1) -> MatchModel:
    """Plan the model from tonight's columns, then train u by random sampling and m by EM.

    The prior (how likely two random records match) is estimated from the precise
    deterministic rules the records allow; without any, Splink's default stands and
    the note says so.
    """
    p = plan(con, table)
    n = con.execute(f"select count(*) from {table}").fetchall()[0][0]
    return with_frequencies(con, table, fit(_duckdb_api(con), table, p, n, seed))


def with_frequencies(con: duckdb.DuckDBPyConnection, table: str, settings: dict) -> MatchModel:
    """The model of trained ``settings``, with the name frequency table of ``table`` and the share of
    records that makes a name common (the precision guard's)."""
    tf = {col: term_frequencies(con, table, col) for col in TF_COLUMNS}
    named = con.execute(f"select count(name_key) from {table}").fetchall()[0][0]
    settings["bullseye_common_name_tf"] = COMMON_NAME_RECORDS / named if named else None
    return MatchModel(settings=settings, tf=tf)


def fit(db_api, table, p: Plan, n: int, seed: int) -> dict:
    """Splink's training steps for plan ``p`` on ``db_api`` (``n`` records): prior, u, m by EM per block.
    Returns the trained settings with the plan and notes (``bullseye_*``)."""
    from splink import block_on

    linker = _linker(db_api, table, settings_creator(p, db_api.sql_dialect.sql_dialect_str))
    notes = list(p.notes)
    if p.deterministic:
        linker.training.estimate_probability_two_random_records_match(
            [block_on(*r) for r in p.deterministic], recall=0.8)
    else:
        notes.append("no precise rule (contact key and name, or name, birth date and address) to estimate how "
                     "often two records match: Splink's default prior used")
    linker.training.estimate_u_using_random_sampling(max_pairs=min(5e6, max(1e5, n * 5.0)), seed=seed)
    trained: set[str] = set()
    failed: list[tuple[tuple[str, ...], str]] = []
    for rule in p.training:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*rule), record_sample_proportion=1.0 if n < 2_000_000 else 0.5)
        except ValueError as exc:
            # Splink 5's EM stops when an iteration sets some level's m or u to exactly 0 (a level its pairs
            # reach only with a vanishing weight; Splink refuses a 0 it cannot take the log of). The block's
            # estimates are then not kept.
            if "below the minimum allowed value" not in str(exc):
                raise
            failed.append((rule, str(exc).splitlines()[0]))
            continue
        trained |= set(p.comparisons) - _fixed_by(rule)
    if failed:
        blocks = ", ".join("+".join(rule) for rule, _ in failed)
        missing = [c for c in p.comparisons if c not in trained]
        why = f"EM failed on block {blocks} ({failed[0][1].split('. ')[0]})"
        if not missing:
            notes.append(f"{why}; its comparisons were trained on the other blocks")
        elif len(missing) == len(p.comparisons):
            raise CannotTrain(why)
        else:
            # Train again without the comparisons no block could train: a model on fewer columns, said so,
            # rather than no model (keys only) or one with an untrained comparison.
            return fit(db_api, table, replace(
                p, comparisons=[c for c in p.comparisons if c not in missing],
                notes=[*p.notes, f"{', '.join(missing)} left out of the match model tonight: {why}, and no "
                                 "other block could train it"]), n, seed)
    settings = _floor_probabilities(linker.misc.save_model_to_json())
    settings["bullseye_model_version"] = MODEL_VERSION
    settings["bullseye_note"] = "; ".join(notes) or None
    settings["bullseye_plan"] = {"comparisons": p.comparisons, "blocking": [list(r) for r in p.blocking],
                                 "training": [list(r) for r in p.training],
                                 "deterministic": [list(r) for r in p.deterministic]}
    return settings


def plan_of(settings: dict) -> Plan:
    """The plan a trained model's settings were made for (``bullseye_plan``)."""
    stored = settings["bullseye_plan"]
    return Plan(list(stored["comparisons"]), [tuple(r) for r in stored["blocking"]],
                [tuple(r) for r in stored["training"]], [tuple(r) for r in stored["deterministic"]])


def in_dialect(settings: dict, dialect: str) -> dict:
    """The same trained model written in another SQL dialect: each level's condition and each blocking
    rule are rebuilt from the stored plan for ``dialect``; m, u, prior and term-frequency settings are
    kept as they are. A level whose label differs from the rebuilt one is an error, not a guess."""
    rebuilt = settings_creator(plan_of(settings), dialect).create_settings_dict(dialect)
    out = json.loads(json.dumps(settings))
    if len(rebuilt["comparisons"]) != len(out["comparisons"]):
        raise ValueError("the stored model's comparisons are not those of its plan")
    for mine, theirs in zip(out["comparisons"], rebuilt["comparisons"], strict=True):
        levels, fresh = mine["comparison_levels"], theirs["comparison_levels"]
        if [lv.get("label_for_charts") for lv in levels] != [lv.get("label_for_charts") for lv in fresh]:
            raise ValueError(f"comparison {mine.get('output_column_name')}: levels differ from its plan's")
        for level, new in zip(levels, fresh, strict=True):
            level["sql_condition"] = new["sql_condition"]
    out["blocking_rules_to_generate_predictions"] = rebuilt["blocking_rules_to_generate_predictions"]
    out["sql_dialect"] = dialect
    return out


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
    Returns unique_id_l, unique_id_r (l < r), match_weight, match_probability, and
    ``guard``: why the precision guard keeps the pair apart (None when it does not).
    """
    db_api = _duckdb_api(con)
    if new_table is None:
        return predict_on(db_api, model, table, threshold)
    con.execute(f"""create or replace temp table __bz_existing as
                    select * from {table} anti join {new_table} using (unique_id)""")
    return predict_on(db_api, model, table, threshold, ("__bz_existing", new_table))


def predict_on(db_api, model: MatchModel, table, threshold: float, between: tuple | None = None) -> pd.DataFrame:
    """:func:`predict` on any Splink backend (``db_api``: DuckDBAPI, SparkAPI), with the model's settings
    written in the backend's dialect. ``table`` (and the two of ``between``: existing, new) are table names or
    frames the backend registers. Returns the same frame as :func:`predict`."""
    dialect = db_api.sql_dialect.sql_dialect_str
    settings = model.settings if model.settings.get("sql_dialect", "duckdb") == dialect else \
        in_dialect(model.settings, dialect)
    # Gamma columns (which level each comparison reached) feed the precision guard.
    settings = {**settings, "retain_intermediate_calculation_columns": True}
    linker = _linker(db_api, table, settings, model.tf)
    if between is None:
        results = [linker.inference.predict(threshold_match_probability=threshold, warning_mode="never")]
    else:
        existing = db_api.register(between[0], table_name="__bz_existing_role")
        new = db_api.register(between[1], table_name="__bz_new_role")
        results = [
            linker.inference.predict_between(existing, new, threshold_match_probability=threshold,
                                             warning_mode="never"),
            linker.inference.predict_within(new, threshold_match_probability=threshold, warning_mode="never"),
        ]
    guard = _guard_sql(model)
    out = pd.concat([db_api.query_sql(f"""select unique_id_l, unique_id_r, match_weight, match_probability,
                                                 {guard} as guard from {r.physical_name}""", output_type="pandas")
                     for r in results], ignore_index=True)
    for r in results:
        r.drop_table_from_database_and_remove_from_cache()
    swap = out["unique_id_l"] > out["unique_id_r"]
    out.loc[swap, ["unique_id_l", "unique_id_r"]] = out.loc[swap, ["unique_id_r", "unique_id_l"]].to_numpy()
    return out.drop_duplicates(["unique_id_l", "unique_id_r"]).reset_index(drop=True)


GUARD_REASON = "a common name and birth date agree, but everything else known (address, card, ...) disagrees"


def _guard_sql(model: MatchModel) -> str:
    """The precision guard, as a SQL expression on Splink's prediction columns: a common
    name and a birth date (with gender and city) never overrule the rest of the evidence.
    When the records carry something else (an address, a card, a phone) and all of it
    disagrees, they are two people, however high the probability. A name is common when
    the training data had ``COMMON_NAME_RECORDS`` records carrying it (the stored frequency
    table, so every night under one model judges alike); a rare name and a birth date are
    left to the model, as they are more often one person who moved than two namesakes.

    Term-frequency adjustment weighs a common name less, but a shared birthday weighs so
    much that two different 王伟 born the same day, living in different districts, would
    still be merged. When nothing else is known on one side (a record without address),
    there is nothing to disagree with and the tf-adjusted probability decides; the
    resolver then also keeps two guarded records out of one cluster, so such a record
    joins at most one of them.
    """
    comparisons = model.settings.get("bullseye_plan", {}).get("comparisons", [])
    strong = [c for c in comparisons if c not in WEAK_COMPARISONS]
    common_tf = model.settings.get("bullseye_common_name_tf")
    if "name" not in comparisons or not strong or common_tf is None:
        return "cast(null as string)"  # DuckDB and Spark SQL alike
    agrees = " or ".join(f"mw_{c} > 0" for c in strong)
    # A disagreement counts when it is evidence (Bayes factor below 1/2): two different record
    # ids within one list disagree on every pair, true or not, and weigh nothing.
    disagrees = " or ".join(f"mw_{c} < -1" for c in strong)
    common = f"greatest(tf_name_key_l, tf_name_key_r) >= {float(common_tf) * (1 - 1e-9)!r}"
    return (f"case when mw_name > 0 and {common} and not coalesce({agrees}, false) "
            f"and coalesce({disagrees}, false) then '{GUARD_REASON}' end")


def score_pair(con: duckdb.DuckDBPyConnection, model: MatchModel, table: str, left: str, right: str) -> dict:
    """Match weight of one pair and the contribution of each comparison (for "why not merged")."""
    settings = {**model.settings, "retain_intermediate_calculation_columns": True}
    linker = _linker(_duckdb_api(con), table, settings, model.tf)
    rows = con.execute(f"select * from {table} where unique_id in (?, ?)", [left, right]).df()
    if len(rows) < 2:
        return {}
    a = rows[rows.unique_id == left].iloc[0].to_dict()
    b = rows[rows.unique_id == right].iloc[0].to_dict()
    res = linker.inference.score_pair(_clean(a), _clean(b), include_found_by_blocking_rules=True)
    df = res.as_pandas_dataframe()
    return df.iloc[0].to_dict() if len(df) else {}


def _clean(row: dict) -> dict:
    return {k: (None if _isna(v) else v) for k, v in row.items()}


def _isna(v) -> bool:
    try:
        return bool(pd.isna(v))
    except (TypeError, ValueError):  # lists (name and address tokens)
        return False
