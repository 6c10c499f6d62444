"""Pairwise scores and the recall ceiling, on a truth whose answer is worked out by hand."""

import duckdb
import pandas as pd
import pytest

from bullseye.evaluation import PairScores, pairwise_scores, recall_ceiling

# P1: two named records (A, C) and a nameless web visitor E who gave the family phone X,
# which P2's named record B carries too. P2: B, H and a nameless visitor G whose email
# only H carries. Truth pairs: 3 + 3.
TRUTH = [("crm", "A", "P1"), ("crm", "C", "P1"), ("events", "E", "P1"),
         ("crm", "B", "P2"), ("crm", "H", "P2"), ("events", "G", "P2")]
NAMES = {"A": "王芳", "C": "王芳", "E": None, "B": "李强", "H": "李强", "G": None}
KEYS = [("crm", "A", "phone", "X", "shared key: same name only"), ("events", "E", "phone", "X",
                                                                    "shared key: record has no name"),
        ("crm", "B", "phone", "X", "shared key: same name only"), ("crm", "H", "email", "Y", "key"),
        ("events", "G", "email", "Y", "key")]


@pytest.fixture
def world(tmp_path):
    truth = tmp_path / "identity.csv"
    pd.DataFrame(TRUTH, columns=["source", "source_record_id", "person_id"]).to_csv(truth, index=False)
    con = duckdb.connect()
    con.register("recs", pd.DataFrame([(s, r, NAMES[r]) for s, r, _ in TRUTH],
                                      columns=["source", "source_record_id", "name"]))
    con.register("edges", pd.DataFrame(KEYS, columns=["source", "source_record_id", "key_type", "key_value", "rule"]))
    return con, truth


def test_pairwise_scores_count_pairs_per_cluster(world):
    con, truth = world
    # A resolver that joined A with C, B with H and G, and wrongly E with B.
    guess = {"A": "c1", "C": "c1", "E": "c2", "B": "c2", "H": "c2", "G": "c2"}
    con.register("map", pd.DataFrame([(s, r, guess[r]) for s, r, _ in TRUTH],
                                     columns=["source", "source_record_id", "customer_id"]))
    s = pairwise_scores(con, truth, "map")
    assert (s.true_pairs, s.predicted_pairs, s.correct_pairs) == (6, 1 + 6, 1 + 3)
    assert s.recall == pytest.approx(4 / 6) and s.precision == pytest.approx(4 / 7)
    assert s.f1 == pytest.approx(2 * 4 / (6 + 7))  # 2PR/(P+R) = 2*correct/(true+predicted)


def test_f1_of_the_extremes():
    assert PairScores(true_pairs=4, predicted_pairs=0, correct_pairs=0).f1 == 0.0  # linked nothing
    assert PairScores(true_pairs=4, predicted_pairs=10, correct_pairs=4).f1 == pytest.approx(8 / 14)  # merged all
    assert PairScores(true_pairs=0, predicted_pairs=0, correct_pairs=0).f1 == 1.0  # nothing to find, none wrong


def test_recall_ceiling_leaves_out_a_visitor_on_a_phone_two_people_share(world):
    con, truth = world
    # A-C and B-H-G can be found; E is on phone X, which P1 and P2 both carry.
    assert recall_ceiling(con, truth, "recs", "edges") == pytest.approx(4 / 6)
