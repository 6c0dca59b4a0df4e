"""Voting evaluation: ranking, tie-breaking, the official pass@k rule, undoing augmentations."""
import numpy as np
import pytest

from trm_edge.evaluate.arc import evaluate_arc, pass_at_k, vote
from trm_edge.tasks.arc import ArcData, ArcSpec, Puzzle, encode_grid

A = np.array([[1, 2], [3, 4]])
B = np.array([[5, 5, 5]])
C = np.array([[6], [7]])


def test_vote_ranks_by_count_then_confidence():
    ranked = vote([(A, -3.0), (B, 2.0), (A, -3.0), (C, 5.0), (B, 1.0), (A, -1.0), (np.zeros((0, 0)), 9.0)])
    assert [c.votes for c in ranked] == [3, 2, 1]  # the empty grid gets no slot
    assert (ranked[0].grid == A).all() and (ranked[1].grid == B).all()
    tie = vote([(B, 0.0), (C, 2.0), (B, 0.0), (C, 2.0)])
    assert (tie[0].grid == C).all()            # same count: higher mean sigmoid(q_halt) first
    assert tie[0].confidence == pytest.approx(1 / (1 + np.exp(-2.0)))


def test_pass_at_k_official_rule():
    truth = {("p", 0): A, ("p", 1): B, ("q", 0): C}
    ranked = {("p", 0): [A, B], ("p", 1): [C, B], ("q", 0): [A]}
    s = pass_at_k(ranked, truth)
    # p: test 0 solved at 1, test 1 only at 2 -> 0.5 / 1.0; q unsolved -> 0 / 0
    assert s["pass@1"] == pytest.approx(0.25) and s["pass@2"] == pytest.approx(0.5)
    assert s["per_puzzle"]["p"] == {"pass@1": 0.5, "pass@2": 1.0}
    assert pass_at_k({}, truth)["pass@2"] == 0.0
    # a wrong shape with the right prefix is not a match
    assert pass_at_k({("q", 0): [np.array([[6]])]}, {("q", 0): C})["pass@1"] == 0.0


def _toy_data(n_aug=6):
    rng = np.random.default_rng(0)
    mk = lambda h, w: rng.integers(0, 10, (h, w))  # noqa: E731
    p = Puzzle("p", "eval", ((mk(2, 3), mk(3, 2)),), ((mk(2, 2), A), (mk(1, 3), B)))
    q = Puzzle("q", "eval", ((mk(3, 3), mk(3, 3)),), ((mk(2, 2), C),))
    return ArcData(ArcSpec(n_aug=n_aug), ([], [p, q]))


def test_evaluate_arc_with_hand_made_predictions():
    """A fake model answers in the augmented frame; evaluation must undo each variant and vote.

    p test 0: every variant answers A (right)              -> solved at 1
    p test 1: 4 variants say C, 2 say B (right)            -> solved at 2 only
    q test 0: all variants answer a wrong grid              -> unsolved
    => pass@1 = mean(0.5, 0) = 0.25, pass@2 = mean(1.0, 0) = 0.5
    """
    data = _toy_data()
    assert len(data.variants) == 12
    wrong = np.array([[9, 9]])

    def predict(x, pids):
        out = []
        for t, pid in zip(x, pids):
            pi, aug = data.variants[pid - 1]
            p = data.puzzles[pi]
            # which test input is this? match the (augmented) canvas
            j = next(j for j, (a, _) in enumerate(p.tests) if (encode_grid(aug.apply(a)) == t).all())
            vi = sum(1 for v, (qi, _) in enumerate(data.variants[:pid - 1]) if qi == pi)  # variant rank
            if p.id == "p" and j == 0:
                ans = A
            elif p.id == "p":
                ans = C if vi < 4 else B
            else:
                ans = wrong
            out.append(encode_grid(aug.apply(ans)))
        preds = np.stack(out)[None]                   # one supervision step
        return np.concatenate([np.zeros_like(preds), preds]), np.zeros((2, len(x)))  # step 1: all pad

    rep = evaluate_arc(predict, data, batch_size=5)
    assert rep["pass@1"] == pytest.approx(0.25) and rep["pass@2"] == pytest.approx(0.5)
    assert rep["pass@2_per_depth"] == [0.0, pytest.approx(0.5)]
    assert rep["n_puzzles"] == 2 and rep["n_test_inputs"] == 3 and rep["n_variants"] == 18
    only_first = evaluate_arc(predict, data, subset=1)
    assert only_first["n_puzzles"] == 1 and only_first["pass@2"] == pytest.approx(1.0)


def test_augmented_answers_need_undoing():
    """Without undoing the transform the votes would split: check the variants really differ."""
    data = _toy_data()
    frames = {data.variants[v][1].apply(A).tobytes() for v in range(6)}
    assert len(frames) > 1
