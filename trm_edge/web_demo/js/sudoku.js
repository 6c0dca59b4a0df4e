// Sudoku in the page: the CLI's parser and messages (trm_edge/tasks/sudoku.py `Sudoku.parse`),
// its exact-answer check (`Sudoku.verify`) and a board renderer. Tokens: 0 pad, 1 blank, d -> d + 1;
// the encoding itself is read from the manifest's `task.tokens`, the board and box from `task`.

export class PuzzleError extends Error {}

const IGNORED = new Set([" ", "\t", "\r", "\n", "|", "-", "+"]);

export class Sudoku {
  constructor(taskInfo) {                       // manifest.task
    const [n, n2] = taskInfo.board || [];
    if (!n || n !== n2 || !taskInfo.box) throw new Error(`task ${taskInfo.name} is not a square Sudoku board`);
    this.name = taskInfo.name;
    this.N = n;
    [this.boxRows, this.boxCols] = taskInfo.box;
    this.tokens = taskInfo.tokens;              // {pad, blank, symbols: {"1": 2, ...}}
    this.digitOf = new Map(Object.entries(this.tokens.symbols).map(([s, t]) => [t, Number(s)]));
  }

  boxOf(i) {
    const r = Math.floor(i / this.N), c = i % this.N;
    return Math.floor(r / this.boxRows) * (this.N / this.boxCols) + Math.floor(c / this.boxCols);
  }

  // text -> Int32Array tokens; PuzzleError with the CLI's message on bad input
  parse(text) {
    const N = this.N;
    const s = [...text].filter((ch) => !IGNORED.has(ch));
    if (s.length !== N * N) throw new PuzzleError(`a ${N}x${N} Sudoku needs ${N * N} cells, got ${s.length}`);
    const bad = [...new Set(s.filter((ch) => ch !== "." && !(/^[0-9]$/.test(ch) && Number(ch) <= N)))].sort();
    if (bad.length) throw new PuzzleError(`invalid character(s) '${bad.join("")}': use digits 1-${N} and '.' or '0' for blanks`);
    const grid = s.map((ch) => (ch === "." ? 0 : Number(ch)));
    if (this.countSolutions(grid, 1) === 0) throw new PuzzleError("this puzzle has no solution");
    return Int32Array.from(grid, (d) => (d === 0 ? this.tokens.blank : this.tokens.symbols[String(d)]));
  }

  // Solutions up to `limit` by bitmask DFS (minimum remaining values), like SudokuSolver.solve;
  // throws on contradictory givens with the CLI's message.
  countSolutions(grid, limit = 2) {
    const N = this.N, full = (1 << N) - 1, g = grid.slice();
    const rows = new Array(N).fill(0), cols = new Array(N).fill(0), boxes = new Array(N).fill(0);
    for (let i = 0; i < g.length; i++) {
      if (!g[i]) continue;
      const bit = 1 << (g[i] - 1), r = Math.floor(i / N), c = i % N, b = this.boxOf(i);
      if (rows[r] & bit || cols[c] & bit || boxes[b] & bit) {
        throw new PuzzleError(`contradictory givens: digit ${g[i]} repeats in a row, column or box`);
      }
      rows[r] |= bit; cols[c] |= bit; boxes[b] |= bit;
    }
    let count = 0;
    const popcount = (m) => { let n = 0; for (; m; m &= m - 1) n++; return n; };
    const dfs = () => {
      let best = -1, bestMask = 0, bestN = N + 1;
      for (let i = 0; i < g.length; i++) {
        if (g[i]) continue;
        const mask = full & ~(rows[Math.floor(i / N)] | cols[i % N] | boxes[this.boxOf(i)]);
        const n = popcount(mask);
        if (n < bestN) { best = i; bestMask = mask; bestN = n; if (n <= 1) break; }
      }
      if (best < 0) return ++count >= limit;
      const r = Math.floor(best / N), c = best % N, b = this.boxOf(best);
      for (let d = 0; d < N; d++) {
        if (!(bestMask >> d & 1)) continue;
        const bit = 1 << d;
        g[best] = d + 1; rows[r] |= bit; cols[c] |= bit; boxes[b] |= bit;
        const stop = dfs();
        rows[r] &= ~bit; cols[c] &= ~bit; boxes[b] &= ~bit; g[best] = 0;
        if (stop) return true;
      }
      return false;
    };
    dfs();
    return count;
  }

  // Sudoku.verify: a complete valid grid that keeps every given
  verify(inputs, preds) {
    const N = this.N, want = (1 << N) - 1;
    const digits = Array.from(preds, (t) => (this.digitOf.has(t) ? this.digitOf.get(t) : 0));
    if (digits.some((d) => d < 1)) return false;
    for (let i = 0; i < inputs.length; i++) {
      if (this.digitOf.has(inputs[i]) && preds[i] !== inputs[i]) return false;
    }
    const rows = new Array(N).fill(0), cols = new Array(N).fill(0), boxes = new Array(N).fill(0);
    digits.forEach((d, i) => {
      const bit = 1 << (d - 1);
      rows[Math.floor(i / N)] |= bit; cols[i % N] |= bit; boxes[this.boxOf(i)] |= bit;
    });
    return [...rows, ...cols, ...boxes].every((m) => m === want);
  }

  toText(tokens) {
    return Array.from(tokens, (t) => (this.digitOf.has(t) ? String(this.digitOf.get(t)) : ".")).join("");
  }
}
