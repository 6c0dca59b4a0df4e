"""Sudoku-Extreme from local files: the public CSV layout and the authors' built directory layout
(small files written here), training with the authors' augmentation, eval per rating bucket."""
from __future__ import annotations

import json

import numpy as np
import pytest

from trm_edge.cli import main as cli_main
from trm_edge.errors import TRMEdgeError
from trm_edge.tasks.sudoku_extreme import load, read_built, read_csv, train_stream
from trm_edge.tasks import get_task

# a valid 9x9 solution: row r is the base row shifted by 3r + r//3
SOLUTION = np.array([[(3 * r + r // 3 + c) % 9 + 1 for c in range(9)] for r in range(9)]).reshape(-1)


def puzzles(n, seed=0):
    """n (question, answer, rating) strings: relabelled copies of SOLUTION with ~50 blanks."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        sol = (rng.permutation(9) + 1)[SOLUTION - 1]
        q = sol.copy()
        q[rng.choice(81, 50, replace=False)] = 0
        out.append(("".join("." if v == 0 else str(v) for v in q), "".join(map(str, sol)), int(rng.integers(0, 150))))
    return out


def write_csv(path, rows):
    lines = ["source,question,answer,rating"] + [f"src{i},{q},{a},{r}" for i, (q, a, r) in enumerate(rows)]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("sudoku-extreme")
    write_csv(d / "train.csv", puzzles(40, seed=1))
    write_csv(d / "test.csv", puzzles(30, seed=2))
    return d


def test_csv_tokens_and_ratings(data_dir):
    rows = puzzles(30, seed=2)
    inputs, labels, rating = read_csv(data_dir / "test.csv")
    assert inputs.shape == labels.shape == (30, 81) and inputs.dtype == np.int32
    q, a, r = rows[3]
    assert inputs[3].tolist() == [1 if ch == "." else int(ch) + 1 for ch in q]   # blank 1, digit d -> d + 1
    assert labels[3].tolist() == [int(ch) + 1 for ch in a]
    assert rating.tolist() == [r for _, _, r in rows]
    assert get_task("sudoku9").verify(inputs, labels).all()


def test_built_directory_reads_the_same(data_dir, tmp_path):
    """The authors' build script layout: <dir>/test/dataset.json + all__*.npy, tokens already shifted."""
    inputs, labels, _ = read_csv(data_dir / "test.csv")
    split = tmp_path / "built" / "test"
    split.mkdir(parents=True)
    meta = {"pad_id": 0, "ignore_label_id": 0, "blank_identifier_id": 0, "vocab_size": 11, "seq_len": 81,
            "num_puzzle_identifiers": 1, "total_groups": 30, "mean_puzzle_examples": 1, "total_puzzles": 30,
            "sets": ["all"]}
    (split / "dataset.json").write_text(json.dumps(meta))
    np.save(split / "all__inputs.npy", inputs.astype(np.int64))
    np.save(split / "all__labels.npy", labels.astype(np.int64))
    np.save(split / "all__puzzle_identifiers.npy", np.zeros(30, np.int32))
    np.save(split / "all__puzzle_indices.npy", np.arange(31, dtype=np.int32))
    np.save(split / "all__group_indices.npy", np.arange(31, dtype=np.int32))
    got_i, got_l, rating = load(tmp_path / "built", "test")
    assert np.array_equal(got_i, inputs) and np.array_equal(got_l, labels) and rating is None
    meta["seq_len"] = 900
    (split / "dataset.json").write_text(json.dumps(meta))
    with pytest.raises(TRMEdgeError, match="is not 9x9 Sudoku"):
        read_built(split)


def test_bad_files_are_one_line(data_dir, tmp_path, capsys):
    (tmp_path / "test.csv").write_text("question,answer\n" + "." * 81 + "," + "1" * 81 + "\n")
    with pytest.raises(SystemExit) as e:
        cli_main(["eval", "--task", "sudoku-extreme", "--data", str(tmp_path), "--n", "2"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.startswith("error: ") and "header" in err and err.count("\n") == 1
    with pytest.raises(TRMEdgeError, match="no Sudoku-Extreme test data"):
        load(tmp_path / "nothing-here", "test")
    with pytest.raises(SystemExit) as e:   # the bundled 6x6 model cannot read 9x9 puzzles
        cli_main(["eval", "--task", "sudoku-extreme", "--data", str(data_dir), "--n", "2"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and "is not a 9x9 Sudoku model" in err and err.count("\n") == 1


def test_training_stream_uses_the_authors_augmentation(data_dir):
    """Digit permutation, transpose, band/row and stack/column shuffles: still valid, and varied."""
    task = get_task("sudoku9")
    stream = train_stream(task, data_dir, seed=0)
    x, y = stream.take(40)
    assert task.verify(x, y).all()                          # every sample is a solved valid puzzle
    base_i, _, _ = read_csv(data_dir / "train.csv")
    assert not {r.tobytes() for r in x} & {r.tobytes() for r in base_i}   # augmented, not the raw rows
    assert sorted((x == 1).sum(1).tolist()) == sorted((base_i == 1).sum(1).tolist())  # same blanks per puzzle
    with pytest.raises(TRMEdgeError, match="needs a 9x9 Sudoku model"):
        train_stream(get_task("sudoku6"), data_dir)


def test_train_then_eval_per_rating_bucket(data_dir, tmp_path, capsys):
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as e:
        cli_main(["train", "--preset", "sudoku9-small", "--task", "sudoku-extreme", "--data", str(data_dir),
                  "--model", "d_model=16", "--model", "n_sup=2", "--model", "hidden_multiple=1",
                  "--steps", "3", "--batch-size", "4", "--warmup", "1", "--log-every", "0", "--quiet",
                  "--out", str(out)])
        raise SystemExit(0)
    assert e.value.code == 0, capsys.readouterr().err
    cfg = json.loads((out / "model" / "config.json").read_text())
    assert cfg["task"] == "sudoku9" and cfg["arch_version"] == 2
    assert json.loads((out / "model" / "training.json").read_text())["train_config"]["data"] == str(data_dir)
    with pytest.raises(SystemExit) as e:
        cli_main(["eval", "--task", "sudoku-extreme", "--data", str(data_dir / "test.csv"),
                  "--checkpoint", str(out / "model"), "--n", "20", "--json", str(tmp_path / "e.json")])
        raise SystemExit(0)
    assert e.value.code == 0
    res = json.loads((tmp_path / "e.json").read_text())
    assert res["n"] == 20 and res["test_size"] == 30 and len(res["exact"]) == 2
    assert sum(b["n"] for b in res["buckets"]) == 20 and all(len(b["exact"]) == 2 for b in res["buckets"])
    assert "rating" in capsys.readouterr().out
