"""Sudoku task: unique-solution generation, augmentations, verification, the text parser."""
import numpy as np
import pytest

from trm_edge.tasks import PuzzleError, get_task
from trm_edge.tasks.sudoku import Sudoku

N_PUZZLES = {4: 20, 6: 10, 9: 2}


@pytest.mark.parametrize("size", [4, 6, 9])
def test_generated_puzzles_have_exactly_one_solution(size):
    task = Sudoku(size)
    inputs, labels = task.generate(N_PUZZLES[size], seed=1)
    assert inputs.dtype == np.int32 and inputs.shape == (N_PUZZLES[size], size * size)
    for x, y in zip(inputs, labels):
        count, sol, _ = task.solver.solve(x - 1, limit=2)
        assert count == 1
        assert np.array_equal(np.asarray(sol) + 1, y)
        clues = int((x >= 2).sum())
        assert task.min_clues <= clues <= task.max_clues
    assert task.verify(inputs, labels).all()
    # deterministic in the seed
    again, _ = task.generate(N_PUZZLES[size], seed=1)
    assert np.array_equal(inputs, again)


@pytest.mark.parametrize("size", [4, 6, 9])
def test_augmentations_keep_puzzles_valid(size):
    task = Sudoku(size)
    inputs, labels = task.generate(N_PUZZLES[size], seed=2)
    rng = np.random.default_rng(0)
    changed = 0
    for _ in range(3):
        ai, al = task.augment(inputs, labels, rng)
        assert task.verify(ai, al).all()                       # label is a valid solution of the input
        assert ((ai < 2) | (ai == al)).all()                   # givens agree with the label
        assert ((ai >= 2).sum(1) == (inputs >= 2).sum(1)).all()  # same clue count
        for x, y in zip(ai, al):
            count, sol, _ = task.solver.solve(x - 1, limit=2)
            assert count == 1 and np.array_equal(np.asarray(sol) + 1, y)
        changed += int((ai != inputs).any(1).sum())
    assert changed > 0


def test_verify_rejects_wrong_answers():
    task = Sudoku(6)
    inputs, labels = task.generate(3, seed=3)
    bad = labels.copy()
    blank = np.flatnonzero(inputs[0] == 1)[0]
    bad[0, blank] = 2 + (bad[0, blank] - 2 + 1) % 6   # one wrong digit in a blank cell
    bad[1] = np.where(inputs[1] >= 2, 1, labels[1])    # blanks where givens were
    ok = task.verify(inputs, bad)
    assert ok.tolist() == [False, False, True]


def test_parser_roundtrip_and_blanks():
    task = get_task("sudoku6")
    inputs, _ = task.generate(1, seed=4)
    text = task.to_text(inputs[0])
    assert np.array_equal(task.parse(text), inputs[0])
    assert np.array_equal(task.parse(text.replace(".", "0")), inputs[0])
    board = task.render(inputs[0])                      # the rendered grid parses back too
    assert np.array_equal(task.parse(board), inputs[0])


@pytest.mark.parametrize("text,match", [
    ("garbage", "needs 36 cells"),
    ("1" * 35, "needs 36 cells"),
    ("1" * 37, "needs 36 cells"),
    ("x" + "." * 35, "invalid character"),
    ("7" + "." * 35, "invalid character"),
    ("11" + "." * 34, "contradictory"),              # same digit twice in a row
    ("1" + "." * 5 + "1" + "." * 29, "contradictory"),  # same digit twice in a column
])
def test_parser_rejects_bad_strings(text, match):
    with pytest.raises(PuzzleError, match=match):
        get_task("sudoku6").parse(text)


def test_parser_rejects_unsolvable():
    # 4x4: row 0 = 1 2 . ., column 2 holds 3 and 4 below -> cell (0,2) has no candidate
    text = "12.." "..3." "..4." "...."
    with pytest.raises(PuzzleError):
        get_task("sudoku4").parse(text)


def test_parse_81_char_form():
    task = get_task("sudoku9")
    inputs, _ = task.generate(1, seed=5)
    text = task.to_text(inputs[0])
    assert len(text) == 81
    assert np.array_equal(task.parse(text.replace(".", "0")), inputs[0])


def test_givens_range_is_part_of_the_task_name():
    """`sudoku9-30-36` rebuilds a 9x9 task with 30..36 givens; the name round-trips through get_task."""
    task = get_task("sudoku9-30-36")
    assert (task.size, task.min_clues, task.max_clues, task.name) == (9, 30, 36, "sudoku9-30-36")
    assert get_task("sudoku9").name == "sudoku9" and Sudoku(9, 22, 30).name == "sudoku9"  # default range
    inputs, _ = task.generate(2, seed=5)
    assert ((inputs >= 2).sum(1) >= 30).all() and ((inputs >= 2).sum(1) <= 36).all()
    for bad in ("sudoku9-40-30", "sudoku4-3-16", "sudoku7-1-2"):
        with pytest.raises(ValueError):
            get_task(bad)
