"""Any authors' TRM: `puzzle_emb_len: 0` (ceil(puzzle_emb_ndim / hidden_size) positions, as the
authors compute it) and a data set shape no trm-edge task knows (the generic task), each imported,
evaluated on a data set directory in the authors' built layout and exported to ONNX.

The checkpoints are synthesized here in the authors' format (torch.save of a `_orig_mod.model.inner.*`
state dict + all_config.yaml + dataset.json). The data set's labels are the imported model's own
eager predictions after 2 supervision steps, with a different puzzle id per example, so exact
accuracy at depth 2 is 1.0 only if the evaluation reads the tokens, the labels and the puzzle ids
the way the authors wrote them (and the ONNX artifact computes what eager does).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from conftest import run_main
from trm_edge.checkpoint import load_model
from trm_edge.export import Recipe, export, load_source
from trm_edge.tasks import get_task

P = "_orig_mod.model.inner."


def authors_checkpoint(d: Path, *, seq_len: int, vocab: int, n_ids: int, D: int = 32, layers: int = 2,
                       heads: int = 4, puzzle_emb_len: int = 0, seed: int = 1) -> Path:
    """An attention + RoPE TRM run directory as the authors' pretrain.py writes it."""
    g = torch.Generator().manual_seed(seed)
    r = lambda *shape, std=0.2: torch.randn(*shape, generator=g) * std   # noqa: E731
    hidden = 256  # round_up(4 * D * 2/3, 256) at D = 32
    state = {"H_init": r(D, std=1).to(torch.bfloat16), "L_init": r(D, std=1).to(torch.bfloat16),
             "embed_tokens.embedding_weight": r(vocab, D), "lm_head.weight": r(vocab, D),
             "q_head.weight": r(2, D), "q_head.bias": r(2), "puzzle_emb.weights": r(n_ids, D, std=1.0)}
    for i in range(layers):
        state.update({f"L_level.layers.{i}.self_attn.qkv_proj.weight": r(3 * D, D),
                      f"L_level.layers.{i}.self_attn.o_proj.weight": r(D, D),
                      f"L_level.layers.{i}.mlp.gate_up_proj.weight": r(2 * hidden, D),
                      f"L_level.layers.{i}.mlp.down_proj.weight": r(D, hidden, std=0.05)})
    d.mkdir(parents=True)
    torch.save({P + k: v for k, v in state.items()}, d / "step_500")
    arch = {"name": "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1", "H_cycles": 2, "L_cycles": 2,
            "H_layers": 0, "L_layers": layers, "hidden_size": D, "num_heads": heads, "expansion": 4,
            "mlp_t": False, "pos_encodings": "rope", "puzzle_emb_len": puzzle_emb_len, "puzzle_emb_ndim": D,
            "halt_max_steps": 4, "no_ACT_continue": True, "forward_dtype": "bfloat16"}
    (d / "all_config.yaml").write_text(yaml.safe_dump({"arch": arch, "lr": 1e-4, "global_batch_size": 768}))
    meta = {"pad_id": 0, "ignore_label_id": 0, "blank_identifier_id": 0, "vocab_size": vocab, "seq_len": seq_len,
            "num_puzzle_identifiers": n_ids, "total_groups": 8, "mean_puzzle_examples": 1, "total_puzzles": 8,
            "sets": ["all"]}
    (d / "dataset.json").write_text(json.dumps(meta))
    return d


def built_data(root: Path, model, n: int = 8, depth: int = 2, seed: int = 1) -> Path:
    """<root>/test/ in the authors' built layout; labels = the model's own predictions at `depth`."""
    cfg = model.cfg
    rng = np.random.default_rng(seed)
    inputs = rng.integers(1, cfg.vocab_size, (n, cfg.seq_len)).astype(np.int32)
    ids = (np.arange(n) % cfg.n_puzzle_ids).astype(np.int32)
    with torch.no_grad():
        x = model.embed(torch.from_numpy(inputs), torch.from_numpy(ids))
        y, z = model.initial_state(x)
        for _ in range(depth):
            y, z, logits, _ = model.step(x, y, z)
    labels = logits.argmax(-1).numpy().astype(np.int32)
    assert len(np.unique(labels)) > 2, "degenerate random model: every cell predicts the same token"
    labels[:, -1] = 0            # a padded cell (ignore_label_id 0): not scored, as the authors' metric
    split = root / "test"
    split.mkdir(parents=True)
    meta = {"pad_id": 0, "ignore_label_id": 0, "blank_identifier_id": 0, "vocab_size": cfg.vocab_size,
            "seq_len": cfg.seq_len, "num_puzzle_identifiers": cfg.n_puzzle_ids, "total_groups": n,
            "mean_puzzle_examples": 1, "total_puzzles": n, "sets": ["all"]}
    (split / "dataset.json").write_text(json.dumps(meta))
    np.save(split / "all__inputs.npy", inputs.astype(np.int64))
    np.save(split / "all__labels.npy", labels.astype(np.int64))
    np.save(split / "all__puzzle_identifiers.npy", ids)               # one per puzzle (1 example each)
    np.save(split / "all__puzzle_indices.npy", np.arange(n + 1, dtype=np.int32))
    np.save(split / "all__group_indices.npy", np.arange(n + 1, dtype=np.int32))
    return root


@pytest.mark.parametrize("seq_len,vocab,task", [pytest.param(64, 6, "maze8", marks=pytest.mark.slow),
                                                 (100, 7, "generic-100-7")])
def test_import_eval_export(seq_len, vocab, task, tmp_path, capsys):
    """puzzle_emb_len: 0 on a known shape (maze8) and on a shape no task knows (generic-100-7)."""
    run = authors_checkpoint(tmp_path / "run", seq_len=seq_len, vocab=vocab, n_ids=5)
    code, out, err = run_main(["import", str(run), "--dataset", str(run), "--out", str(tmp_path / "m")])
    assert code == 0, err
    assert (task.startswith("generic-")) == ("no trm-edge task has seq_len=100, vocab=7" in out), out
    model, _ = load_model(tmp_path / "m")
    assert model.cfg.task == task and model.cfg.puzzle_emb_len == 1 and model.cfg.total_len == seq_len + 1
    data = built_data(tmp_path / "data", model)
    code, out, err = run_main(["eval", "--checkpoint", str(tmp_path / "m"), "--data", str(data), "--max-steps", "3",
                           "--json", str(tmp_path / "eval.json")])
    assert code == 0, err
    res = json.loads((tmp_path / "eval.json").read_text())
    assert res["n"] == 8 and res["exact"][1] == 1.0 and res["task"] == task, res
    assert res["exact"][0] < 1.0 or res["exact"][2] < 1.0, res   # the labels are depth 2's, not any depth's

    recipe = Recipe(target="onnx", batch=4, in_graph_loop=False)
    art = export(load_source(str(tmp_path / "m")), recipe, tmp_path / "art")
    assert art.manifest["task"]["name"] == task
    code, out, err = run_main(["eval", "--artifact", str(art.path), "--data", str(data), "--max-steps", "2",
                           "--json", str(tmp_path / "art.json")])
    assert code == 0, err
    assert json.loads((tmp_path / "art.json").read_text())["exact"] == [res["exact"][0], 1.0]


def test_puzzle_ids_are_read_per_example(tmp_path):
    """Puzzle ids come from <set>__puzzle_identifiers.npy (one per puzzle) spread over the examples of
    each puzzle by <set>__puzzle_indices.npy; a wrong id changes the answer."""
    from trm_edge.tasks.generic import read_built

    run = authors_checkpoint(tmp_path / "run", seq_len=100, vocab=7, n_ids=5)
    from trm_edge.checkpoint.authors import import_checkpoint
    model, _ = load_model(import_checkpoint(run, tmp_path / "m", dataset=run)["out"])
    split = built_data(tmp_path / "data", model) / "test"
    np.save(split / "all__puzzle_identifiers.npy", np.array([4, 2], np.int32))   # 2 puzzles: 3 + 5 examples
    np.save(split / "all__puzzle_indices.npy", np.array([0, 3, 8], np.int32))
    got = read_built(split, 100, 7)
    assert got["puzzle_ids"].tolist() == [4, 4, 4, 2, 2, 2, 2, 2] and got["ignore_label_id"] == 0
    np.save(split / "all__puzzle_indices.npy", np.array([0, 3, 9], np.int32))
    with pytest.raises(Exception, match="does not cover the 8 examples"):
        read_built(split, 100, 7)


def test_generic_task_text_and_refusals():
    from trm_edge.tasks import PuzzleError

    t = get_task("generic-4-3")
    assert (t.seq_len, t.vocab_size) == (4, 3)
    assert t.parse("0 1\n2, 1").tolist() == [0, 1, 2, 1] and t.render(np.array([0, 1, 2, 1])) == "0 1\n2 1"
    with pytest.raises(PuzzleError, match="tokens must be in 0..2"):
        t.parse("0 1 2 3")
    with pytest.raises(PuzzleError, match="expected 4 integers"):
        t.parse("0 1 2")
    with pytest.raises(PuzzleError, match="no puzzle generator.*eval --data"):
        t.generate(2, 0)
    with pytest.raises(ValueError, match="vocab in 2"):
        get_task("generic-4-1")


def test_bad_data_directory_is_one_line(tmp_path, capsys):
    run = authors_checkpoint(tmp_path / "run", seq_len=100, vocab=7, n_ids=5)
    assert run_main(["import", str(run), "--dataset", str(run), "--out", str(tmp_path / "m")])[0] == 0
    (tmp_path / "data" / "test").mkdir(parents=True)
    code, _, err = run_main(["eval", "--checkpoint", str(tmp_path / "m"), "--data", str(tmp_path / "data")])
    assert code == 2 and "no test/dataset.json" in err and err.count("\n") == 1, err
    meta = {"seq_len": 81, "vocab_size": 11, "sets": ["all"]}
    (tmp_path / "data" / "test" / "dataset.json").write_text(json.dumps(meta))
    code, _, err = run_main(["eval", "--checkpoint", str(tmp_path / "m"), "--data", str(tmp_path / "data")])
    assert code == 2 and "is not the model's shape (100, 7)" in err and err.count("\n") == 1, err


def test_export_keeps_only_the_selected_puzzle_rows(tmp_path, capsys):
    """ARC-sized tables: --puzzles keeps those rows only; the artifact's puzzle_ids input is the row
    number (manifest model.puzzle_rows), and eval --data maps a data set's ids onto the rows: the
    kept puzzles give the full model's answers, the others are skipped."""
    from trm_edge.evaluate import reference_for

    n_ids, D = 3000, 32
    run = authors_checkpoint(tmp_path / "run", seq_len=100, vocab=7, n_ids=n_ids)
    assert run_main(["import", str(run), "--dataset", str(run), "--out", str(tmp_path / "m")])[0] == 0
    model, _ = load_model(tmp_path / "m")
    data = built_data(tmp_path / "data", model)              # puzzle ids 0..7, one example each
    (tmp_path / "ids.json").write_text("[3, 1]")
    (tmp_path / "r.toml").write_text('target = "onnx"\nbatch = 4\nin_graph_loop = false\n')  # init + step only
    sizes = {}
    for name, extra in (("all", []), ("sel", ["--puzzles", str(tmp_path / "ids.json")])):
        code, out, err = run_main(["export", "--checkpoint", str(tmp_path / "m"), "--recipe", str(tmp_path / "r.toml"),
                               "--out", str(tmp_path / name), *extra])
        assert code == 0, err
        art = tmp_path / name / "onnx-fp32-looped"
        man = json.loads((art / "manifest.json").read_text())
        sizes[name] = sum(f["bytes"] for f in man["files"].values())
    assert man["model"]["puzzle_rows"] == [1, 3] and man["model"]["n_puzzle_ids"] == 2
    table = (n_ids - 2) * D * 4                                # bytes of the rows left out, per graph
    assert sizes["all"] - sizes["sel"] >= table, sizes         # init.onnx carries it (loop.onnx would too)
    reference_for(man)                                         # drift reference: the same rows, same sha
    code, out, err = run_main(["eval", "--artifact", str(art), "--data", str(data), "--max-steps", "2",
                           "--json", str(tmp_path / "e.json")])
    assert code == 0, err
    res = json.loads((tmp_path / "e.json").read_text())
    assert res["n"] == 2 and res["skipped_puzzles_not_in_artifact"] == 6 and res["exact"][1] == 1.0, res
    assert "note: 6 of the data set's puzzles not scored: their puzzle ids are not among the rows" in out   # said
    np.save(tmp_path / "ids2d.npy", np.array([[1, 3]]))
    for spec, msg in (("7,3000", "distinct and in 0..2999"), ("x", "neither ids"), ("", "empty SPEC"),
                      ("0,0", "id(s) 0 listed more than once"), (str(tmp_path / "ids2d.npy"), "expected 1-D")):
        code, _, err = run_main(["export", "--checkpoint", str(tmp_path / "m"), "--puzzles", spec,
                             "--out", str(tmp_path / "bad")])
        assert code == 2 and msg in err and err.count("\n") == 1, err
