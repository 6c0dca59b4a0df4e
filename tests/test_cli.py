"""`trm-edge` CLI: solve prints the refining board; bad input = one stderr line, exit != 0, no traceback."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from trm_edge.cli import cli
from trm_edge.tasks import get_task

TRM = [sys.executable, "-c", "from trm_edge.cli import main; main()"]


def one_line_error(args):
    r = subprocess.run(TRM + args, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    return lines[0]


def test_solve_prints_each_step_with_confidence(tiny_ckpt):
    task = get_task("sudoku4")
    inputs, _ = task.generate(1, 123)
    puzzle = task.to_text(inputs[0])
    r = CliRunner().invoke(cli, ["solve", puzzle, "--checkpoint", str(tiny_ckpt), "--all-steps"])
    assert r.exception is None or isinstance(r.exception, SystemExit), r.output
    assert r.exit_code in (0, 1)  # 1 = not solved by this barely trained model
    for s in range(1, 5):
        assert f"step {s}/4: halting confidence" in r.output
    assert ("solved after 4 step(s)" in r.output)


def test_solve_bundled_default_solves():
    from trm_edge.checkpoint import resolve

    task = get_task(json.loads((resolve(None) / "config.json").read_text())["task"])  # the default's board
    inputs, _ = task.generate(1, 5)
    r = CliRunner().invoke(cli, ["solve", task.to_text(inputs[0])])
    assert r.exit_code == 0, r.output
    assert "halting confidence" in r.output and "\nsolved after" in r.output


@pytest.mark.parametrize("puzzle,msg", [
    ("garbage", "cells"),
    ("1" * 15, "cells"),                      # wrong length for 4x4
    ("x" * 16, "invalid character"),
    ("11" + "." * 14, "contradictory"),       # contradictory givens (same digit twice in a row)
])
def test_solve_bad_puzzle_is_one_line(tiny_ckpt, puzzle, msg):
    line = one_line_error(["solve", puzzle, "--checkpoint", str(tiny_ckpt)])
    assert line.startswith("error:") and msg in line


def test_solve_missing_checkpoint_is_one_line(tmp_path):
    assert "no checkpoint" in one_line_error(["solve", "1...", "--checkpoint", str(tmp_path / "nope")])


def test_solve_binary_or_missing_puzzle_file_is_one_line(tiny_ckpt, tmp_path):
    binary = tmp_path / "puzzle.bin"
    binary.write_bytes(bytes(range(256)))
    assert "is not a text file" in one_line_error(["solve", str(binary), "--checkpoint", str(tiny_ckpt)])
    for missing in (str(tmp_path / "nope.txt"), "puzzle.txt"):
        line = one_line_error(["solve", missing, "--checkpoint", str(tiny_ckpt)])
        assert line == f"error: no such puzzle file: {missing}", line


def test_export_all_targets_with_an_unsupported_precision_fails_before_exporting(tmp_path):
    line = one_line_error(["export", "--target", "all", "--precision", "int8-dynamic", "--out", str(tmp_path / "a")])
    assert "coreml-int8-dynamic-looped" in line and "no dynamic activation quantization" in line
    assert not (tmp_path / "a").exists()


def test_train_bad_model_key_is_one_line(tmp_path):
    line = one_line_error(["train", "--out", str(tmp_path / "r"), "--preset", "sudoku4-tiny", "--model",
                           "not_a_field=3", "--steps", "1", "--quiet"])
    assert "not_a_field" in line


def test_train_unknown_preset_is_one_line(tmp_path):
    one_line_error(["train", "--out", str(tmp_path / "r"), "--preset", "nope", "--steps", "1", "--quiet"])


def test_eval_json(tiny_ckpt, tmp_path):
    out = tmp_path / "out.json"
    r = CliRunner().invoke(cli, ["eval", "--checkpoint", str(tiny_ckpt), "--n", "32", "--json", str(out),
                                 "--device", "cpu"])
    assert r.exit_code == 0, r.output
    res = json.loads(out.read_text())
    assert res["n"] == 32 and len(res["exact"]) == 4 and {"exact", "mean_steps"} <= set(res["halt"])
    assert "depth  exact   cell" in r.output


def test_eval_on_a_givens_range(tiny_ckpt, tmp_path):
    """--givens scores the same board with another clue range (de-duplicated against training)."""
    out = tmp_path / "g.json"
    r = CliRunner().invoke(cli, ["eval", "--checkpoint", str(tiny_ckpt), "--n", "16", "--givens", "9-11",
                                 "--json", str(out), "--device", "cpu"])
    assert r.exit_code == 0, r.output
    assert "16 puzzles with 9-11 givens" in r.output and json.loads(out.read_text())["givens"] == [9, 11]
    assert "LO-HI" in one_line_error(["eval", "--checkpoint", str(tiny_ckpt), "--givens", "30"])
    assert "givens" in one_line_error(["eval", "--checkpoint", str(tiny_ckpt), "--givens", "3-99"])


def test_demo_runs(tiny_ckpt):
    r = CliRunner().invoke(cli, ["demo", "--checkpoint", str(tiny_ckpt), "--n", "50", "--seed", "1",
                                 "--export", "none"])
    assert r.exit_code == 0, r.output
    assert "accuracy per depth" in r.output and "sudoku4: 50 puzzles" in r.output


def test_train_cli_writes_run(tmp_path):
    r = CliRunner().invoke(cli, ["train", "--out", str(tmp_path / "r"), "--preset", "sudoku4-tiny", "--steps", "3",
                                 "--batch-size", "8", "--n-train", "64", "--val-n", "16", "--quiet",
                                 "--device", "cpu"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.output.strip().splitlines()[-1])
    assert summary["step"] == 3 and "threshold" in summary["calibration"]
    assert (tmp_path / "r" / "model" / "config.json").exists()


def test_a_clean_error_is_one_line_even_after_a_library_warning(monkeypatch):
    """Issue 32: a library's UserWarning (torch's, say) raised before a clean error is not printed
    above it; on success it is shown after the command."""
    import warnings

    from conftest import run_main
    from trm_edge.apps import demo
    from trm_edge.errors import TRMEdgeError

    def warn_then(fail):
        def open_for_solve(*a, **k):
            warnings.warn("a torch-style notice", UserWarning)
            if fail:
                raise TRMEdgeError("the one line")
            return type("Session", (), {"backend": "eager"})(), None, None
        return open_for_solve

    monkeypatch.setattr(demo, "open_for_solve", warn_then(True))
    code, _, err = run_main(["solve", "1..."])
    assert code == 2 and err == "error: the one line\n", err
    monkeypatch.setattr(demo, "open_for_solve", warn_then(False))
    monkeypatch.setattr(demo, "solve_steps", lambda *a, **k: (None, None, True))
    with pytest.warns(UserWarning, match="a torch-style notice"):
        code, _, err = run_main(["solve", "1..."])
    assert code == 0
