"""Nothing lost: every command that writes a folder keeps the files trm-edge did not write (keep.txt),
refuses a foreign folder unless --force, and never touches the bundled models."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from conftest import run_main

from trm_edge.checkpoint import BUNDLED_DIR
from trm_edge.safe_io import OutputError, atomic_write_dir, write_text

FIXTURES = Path(__file__).parent / "fixtures" / "official-trm"


def snapshot(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def one_error(code, err):
    assert code == 2, err
    assert err.count("error:") == 1 and err.count("\n") == 1 and "Traceback" not in err, err


def test_calibrate_writes_only_its_own_files(tiny_ckpt, tmp_path):
    ck = shutil.copytree(tiny_ckpt, tmp_path / "ck")
    (ck / "keep.txt").write_text("mine")
    (ck / "evals").mkdir()
    (ck / "evals" / "step-10.json").write_text("{}")
    before = snapshot(ck)
    code, out, err = run_main(["calibrate", "--checkpoint", ck, "--n", "32", "--device", "cpu"])
    assert code == 0, err
    after = snapshot(ck)
    changed = {k for k in after if before.get(k) != after[k]}
    assert changed <= {"config.json", "calibration.json"}
    assert after["keep.txt"] == b"mine" and "evals/step-10.json" in after
    assert after["model.safetensors"] == before["model.safetensors"]
    assert after["training.json"] == before["training.json"]
    cfg0, cfg1 = json.loads(before["config.json"]), json.loads(after["config.json"])
    assert {k for k in cfg0 if cfg0[k] != cfg1[k]} <= {"halt_threshold"}
    assert cfg1["halt_threshold"] == json.loads(after["calibration.json"])["threshold"]


def test_calibrate_refuses_the_bundled_model():
    before = snapshot(BUNDLED_DIR)
    code, _, err = run_main(["calibrate", "--n", "8", "--device", "cpu"])
    one_error(code, err)
    assert "bundled" in err and "copy it" in err
    assert snapshot(BUNDLED_DIR) == before


def test_import_keeps_a_users_files_and_refuses_a_foreign_folder(tmp_path):
    src = FIXTURES / "sudoku-mlp-tiny"
    out = tmp_path / "imp"
    assert run_main(["import", src, "--out", out])[0] == 0
    (out / "keep.txt").write_text("mine")
    code, _, err = run_main(["import", src, "--out", out])   # a checkpoint: replaced, keep.txt kept
    assert code == 0, err
    assert (out / "keep.txt").read_text() == "mine" and (out / "model.safetensors").is_file()

    foreign = tmp_path / "docs"
    foreign.mkdir()
    (foreign / "keep.txt").write_text("mine")
    code, _, err = run_main(["import", src, "--out", foreign])
    one_error(code, err)
    assert "--force" in err and sorted(os.listdir(foreign)) == ["keep.txt"]
    code, _, err = run_main(["import", src, "--out", foreign, "--force"])
    assert code == 0, err
    assert (foreign / "keep.txt").read_text() == "mine" and (foreign / "config.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["docs", "imp"]   # no temporary folders left


TRAIN = ["--preset", "sudoku4-tiny", "--steps", "2", "--batch-size", "8", "--n-train", "64", "--val-n", "0",
         "--checkpoint-every", "0", "--log-every", "1", "--quiet", "--device", "cpu"]


def test_train_refuses_an_existing_run_without_resume(tmp_path):
    run = tmp_path / "run"
    assert run_main(["train", "--out", run, *TRAIN])[0] == 0
    (run / "model" / "keep.txt").write_text("mine")
    (run / "notes.md").write_text("mine")
    before = snapshot(run)
    code, _, err = run_main(["train", "--out", run, *TRAIN])
    one_error(code, err)
    assert "run exists" in err and "--resume" in err and "--force" in err
    assert snapshot(run) == before
    code, _, err = run_main(["train", "--out", run, *TRAIN, "--force"])   # start over: user files stay
    assert code == 0, err
    assert (run / "model" / "keep.txt").read_text() == "mine" and (run / "notes.md").read_text() == "mine"
    assert len((run / "train_log.jsonl").read_text().splitlines()) == 2   # a fresh log, not appended


def test_export_replaces_only_the_files_of_its_manifest(tiny_ckpt, tmp_path):
    pytest.importorskip("onnx")
    args = ["export", "--checkpoint", tiny_ckpt, "--target", "onnx", "--out", tmp_path / "a"]
    assert run_main(args)[0] == 0
    art = tmp_path / "a" / "onnx-fp32-looped"
    (art / "keep.txt").write_text("mine")
    code, _, err = run_main(args)
    assert code == 0, err
    assert (art / "keep.txt").read_text() == "mine"
    manifest = json.loads((art / "manifest.json").read_text())
    assert "keep.txt" not in manifest["files"]

    foreign = tmp_path / "b" / "onnx-fp32-looped"
    foreign.mkdir(parents=True)
    (foreign / "keep.txt").write_text("mine")
    code, _, err = run_main(args[:-1] + [tmp_path / "b"])
    one_error(code, err)
    assert sorted(os.listdir(foreign)) == ["keep.txt"]


def test_atomic_dir_carries_foreign_files_and_drops_stale_owned_ones(tmp_path):
    t = tmp_path / "t"
    owned = lambda d: {"a", "sub"} if (d / "a").exists() else None   # noqa: E731
    atomic_write_dir(t, lambda d: ((d / "a").write_text("1"), (d / "sub").mkdir(), (d / "sub" / "x").write_text("")),
                     owned=owned)
    (t / "keep.txt").write_text("mine")
    (t / "mydir").mkdir()
    (t / "mydir" / "f").write_text("mine")
    atomic_write_dir(t, lambda d: (d / "a").write_text("2"), owned=owned)
    assert snapshot(t) == {"a": b"2", "keep.txt": b"mine", "mydir/f": b"mine"}   # stale sub/ dropped
    with pytest.raises(OutputError, match="not empty"):
        atomic_write_dir(tmp_path / "t" / "mydir", lambda d: None, owned=owned)


def test_unwritable_outputs_are_one_line_and_leave_no_temp_files(tmp_path):
    with pytest.raises(OutputError, match="is a directory"):
        write_text(tmp_path, "x")
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        if os.access(ro, os.W_OK):
            pytest.skip("running as root: a read-only folder is still writable")
        with pytest.raises(OutputError, match="not writable"):
            write_text(ro / "x.json", "x")
        with pytest.raises(OutputError):
            atomic_write_dir(ro / "d", lambda d: None)
        assert list(ro.iterdir()) == []
    finally:
        ro.chmod(0o755)
