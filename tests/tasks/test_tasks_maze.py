"""Maze task: generator validity / threshold / uniqueness, augmentation, verification, text form."""
import numpy as np
import pytest

from trm_edge.tasks import PuzzleError, get_task
from trm_edge.tasks.dihedral import INVERSE, dihedral, inverse_dihedral
from trm_edge.tasks.maze import GOAL, OPEN, PATH, START, WALL, Maze
from trm_edge.runtime import EagerSession


@pytest.fixture(scope="module")
def maze8():
    m = Maze(8)
    return m, *m.generate(64, seed=3)


def test_registry_sizes():
    for name, size in (("maze8", 8), ("maze12", 12), ("maze30", 30)):
        t = get_task(name)
        assert (t.size, t.vocab_size, t.seq_len) == (size, 6, size * size)
    assert get_task("maze30").min_len == 110  # Maze-Hard: shortest path > 110


@pytest.mark.parametrize("size", [8, 12, 30])
def test_generator_valid_over_threshold_unique(size):
    m = Maze(size)
    x, y = m.generate(12 if size == 30 else 40, seed=size)
    assert x.dtype == np.int32 and x.shape == (len(x), size * size)
    assert m.verify(x, y).all()
    L = m.shortest_lengths(x)
    assert (L > m.min_len).all()
    assert ((y == PATH).sum(1) == L - 1).all()
    assert ((x == START).sum(1) == 1).all() and ((x == GOAL).sum(1) == 1).all() and not (x == PATH).any()
    # the label's path is THE shortest path: BFS path count at G is exactly 1
    for row in x[:5]:
        g = row.reshape(size, size)
        dist, count = Maze.bfs(g != WALL, tuple(np.argwhere(g == START)[0]))
        assert count[tuple(np.argwhere(g == GOAL)[0])] == 1


def test_generator_deterministic(maze8):
    m, x, y = maze8
    x2, y2 = m.generate(64, seed=3)
    assert (x == x2).all() and (y == y2).all()
    assert not (m.generate(64, seed=4)[0] == x).all()


def test_dihedral_inverse():
    g = np.arange(3 * 4 * 5).reshape(3, 4, 5)  # batched and non-square
    for k in range(8):
        assert (inverse_dihedral(dihedral(g, k), k) == g).all()
        assert (dihedral(dihedral(g, k), INVERSE[k]) == g).all()
    sq = np.arange(16).reshape(4, 4)
    assert len({dihedral(sq, k).tobytes() for k in range(8)}) == 8


def test_augment_keeps_valid(maze8):
    m, x, y = maze8
    xa, ya = m.augment(x, y, np.random.default_rng(0))
    assert m.verify(xa, ya).all()
    assert (m.shortest_lengths(xa) == m.shortest_lengths(x)).all()
    assert (xa != x).any(axis=1).mean() > 0.5  # most samples actually moved


def _replace_path(m, x, y):
    """A *different* valid S->G path (a detour) when one exists, else None."""
    S = m.size
    g = x.reshape(S, S)
    free = g != WALL
    on_path = y.reshape(S, S) == PATH
    # block one path cell and look for another route
    for cell in np.argwhere(on_path):
        f = free.copy()
        f[tuple(cell)] = False
        s, goal = tuple(np.argwhere(g == START)[0]), tuple(np.argwhere(g == GOAL)[0])
        dist, _ = Maze.bfs(f, s)
        if dist[goal] > 0:
            lab = np.where(g == OPEN, OPEN, g)
            cur = goal
            while dist[cur] > 1:
                r, c = cur
                cur = next((r + dr, c + dc) for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1))
                           if 0 <= r + dr < S and 0 <= c + dc < S and dist[r + dr, c + dc] == dist[cur] - 1)
                lab[cur] = PATH
            return lab.reshape(-1)
    return None


def test_verify_rejects_bad_paths(maze8):
    m, x, y = maze8
    i = 0
    assert m.verify(x[i], y[i])[0]
    # input itself (no path), and a path with one cell removed (broken)
    assert not m.verify(x[i], x[i])[0]
    broken = y[i].copy()
    broken[np.flatnonzero(broken == PATH)[0]] = OPEN
    assert not m.verify(x[i], broken)[0]
    # a path cell painted onto a wall
    through_wall = y[i].copy()
    through_wall[np.flatnonzero(x[i] == WALL)[0]] = PATH
    assert not m.verify(x[i], through_wall)[0]
    # an extra 'o' on an open cell off the path (branch or stray)
    extra = y[i].copy()
    extra[np.flatnonzero(y[i] == OPEN)[0]] = PATH
    assert not m.verify(x[i], extra)[0]
    # S moved / wall removed
    moved = y[i].copy()
    moved[moved == WALL] = OPEN
    assert not m.verify(x[i], moved)[0]
    # a valid but longer path (a detour through a loop) is not optimal
    found = 0
    for k in range(len(x)):
        d = _replace_path(m, x[k], y[k])
        if d is not None:
            assert (d == PATH).sum() > (y[k] == PATH).sum()  # unique shortest path: any other is longer
            assert not m.verify(x[k], d)[0]
            found += 1
    assert found, "no maze with an alternative route in this sample"


def test_verify_accepts_other_shortest_path():
    """Validity + optimality, not exact match: in an open room every monotone path is optimal."""
    m = Maze(5, min_len=0)
    x = np.full((5, 5), OPEN, np.int32)
    x[0, 0], x[2, 2] = START, GOAL
    a, b = x.copy(), x.copy()
    a[0, 1] = a[0, 2] = a[1, 2] = PATH   # right, right, down, down
    b[1, 0] = b[2, 0] = b[2, 1] = PATH   # down, down, right, right
    assert m.verify(np.stack([x.ravel()] * 2), np.stack([a.ravel(), b.ravel()])).all()
    c = x.copy()
    c[0, 1] = c[1, 1] = c[1, 2] = PATH   # a staircase is also optimal (4 moves)
    assert m.verify(x.ravel(), c.ravel())[0]
    assert m.shortest_lengths(x.ravel())[0] == 4


def test_parse_render_roundtrip(maze8):
    m, x, y = maze8
    text = m.render(y[0])
    assert "o" in text and text.count("S") == 1
    assert (m.parse(text) == x[0]).all()          # the path is read back as open cells
    assert (m.parse(text.replace(" ", ".")) == x[0]).all()
    assert (m.parse(m.render(x[0]).replace("\n", "")) == x[0]).all()  # one line of S*S chars


@pytest.mark.parametrize("bad, msg", [
    ("#" * 8 + "\n", "8 lines"),
    ("\n".join(["S" + " " * 6 + "G"] + ["x" * 8] * 7), "invalid character"),
    ("\n".join([" " * 8] * 8), "exactly one S"),
    ("\n".join(["S#     G"] + ["##" + " " * 6] * 7), "cannot be reached"),
])
def test_parse_rejects(bad, msg):
    with pytest.raises(PuzzleError, match=msg):
        Maze(8).parse(bad)


# ---- export parity (fp32, Linux runtimes): attention + RoPE through init/step artifacts ------------
@pytest.mark.parametrize("target", [
    "onnx",
    pytest.param("executorch", marks=pytest.mark.slow),  # ~5 min on the loaded 2-core machine
    pytest.param("tflite", marks=pytest.mark.slow),
])
def test_maze_export_parity_fp32(target, tmp_path):
    """maze-tiny (attention + RoPE, 8x8) exported looped: same answers and q_halt as eager at every
    step on real mazes. Untrained weights with a sharpened head (so argmax is not decided by noise)."""
    import torch

    from trm_edge.export import Recipe, export, target_module
    from trm_edge.model import TRMConfig, build_model
    from trm_edge.runtime import load

    why = target_module(target).available()
    if why:
        pytest.skip(why)
    torch.manual_seed(0)
    cfg = TRMConfig.preset("maze-tiny")
    assert cfg.mixer == "attention" and cfg.pos == "rope" and cfg.task == "maze8"
    model = build_model(cfg).eval()
    with torch.no_grad():
        model.q_head.weight.normal_(0, 0.5)  # non-trivial q_halt
    m = Maze(8)
    x, _ = m.generate(3, seed=11)
    art = export(model, Recipe(target=target, mode="looped", batch=1, in_graph_loop=False), tmp_path)
    sess = load(art.path)
    got = sess.solve(x, max_steps=cfg.n_sup, halt=False)
    want = EagerSession(model).solve(x, max_steps=cfg.n_sup, halt=False)
    assert got.preds.shape == want.preds.shape == (cfg.n_sup, 3, 64)
    np.testing.assert_allclose(got.q_halt, want.q_halt, atol=1e-3, rtol=1e-3)
    assert (got.preds == want.preds).mean() > 0.999


def test_maze_coreml_converts_with_attention_and_rope(tmp_path):
    """Core ML on Linux: maze-tiny (attention + RoPE) converts to the multifunction package whose
    init/step I/O match the manifest (numeric parity needs macOS: tests/test_export.py)."""
    import torch

    from trm_edge.export import Recipe, export, target_module
    from trm_edge.validate import validate
    from trm_edge.model import TRMConfig, build_model

    why = target_module("coreml").available()
    if why:
        pytest.skip(why)
    torch.manual_seed(0)
    model = build_model(TRMConfig.preset("maze-tiny")).eval()
    art = export(model, Recipe(target="coreml", mode="looped"), tmp_path)
    rep = validate(art.path)
    if rep.get("spec_check") is None:
        pytest.skip("on macOS validate runs Core ML predictions instead (tests/test_export.py)")
    assert rep["spec_check"]["functions"] == ["init", "step"] and rep["spec_check"]["problems"] == []
