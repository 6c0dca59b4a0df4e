// The page's benchmark mode: one `runtimes[]` entry of the trm-edge-bench/1 schema
// (benchmarks/README.md), measured exactly like trm_edge/bench/host.py `measure_runtime`:
// load, first call (init + one step), then per depth W untimed + R timed solves (every step timed),
// one accuracy pass over the puzzles with halting off up to the largest depth (timed per puzzle =
// the fixed full-depth latency), one pass with adaptive halting. Batch = the artifact's batch.

import { loadArtifact, sizeBytes } from "./artifact.js";
import { hostLoop } from "./hostloop.js";
import { openSession } from "./runtimes.js";
import { Sudoku } from "./sudoku.js";

function stats(ms) {
  const a = Float64Array.from(ms).sort();
  // numpy's default percentile: linear interpolation between closest ranks
  const pct = (p) => { const i = (a.length - 1) * p, lo = Math.floor(i), hi = Math.ceil(i);
                       return a[lo] + (a[hi] - a[lo]) * (i - lo); };
  return { median: pct(0.5), p90: pct(0.9), min: a[0], n: a.length };
}

const mean = (xs) => xs.reduce((s, x) => s + x, 0) / xs.length;

// Batches of exactly B rows (the last one padded by repetition) and how many are real (host._chunks)
function* chunks(inputs, B) {
  for (let i = 0; i < inputs.length; i += B) {
    const rows = inputs.slice(i, i + B), real = rows.length;
    while (rows.length < B) rows.push(rows[rows.length - 1]);
    yield [Int32Array.from(rows.flat()), real];
  }
}

// opts: {artifact (url), depths, runs, warmup, threads, backend, halt, threshold (null: manifest's),
//        puzzles: {inputs: [[tokens]], labels: [[tokens]]}, onProgress(label)}
export async function benchArtifact(opts) {
  const tick = opts.onProgress || (() => {});
  const t0 = performance.now();
  const art = await loadArtifact(opts.artifact);
  const session = await openSession(art, { backend: opts.backend || "auto", threads: opts.threads || 0 });
  const m = art.manifest;
  const out = {
    name: `${m.name}-chromium-${session.info.backend}`, target: m.target, precision: m.precision, mode: m.mode,
    delegate: `${session.info.runtime} (${session.info.backend})`, artifact: opts.artifactPath || opts.artifact,
    size_bytes: sizeBytes(m), load_ms: performance.now() - t0, first_call_ms: null,
    peak_rss_mb: null, baseline_rss_mb: null, rss_scope: "browser", error: null, depths: [], halting: null,
    browser: opts.browser || navigator.userAgent, ...session.info,
  };
  tick("load");
  const task = new Sudoku(m.task), L = m.task.seq_len, B = session.batch;
  const thr = opts.threshold ?? m.model.halt_threshold;
  const inputs = opts.puzzles.inputs, labels = opts.puzzles.labels;
  const first = Int32Array.from(Array.from({ length: B }, (_, i) => inputs[i % inputs.length]).flat());

  let t1 = performance.now();
  await session.init(first, B);
  await session.step();
  out.first_call_ms = performance.now() - t1;

  for (const d of opts.depths) {
    const stepMs = [], solveMs = [];
    for (let r = 0; r < opts.warmup + opts.runs; r++) {
      t1 = performance.now();
      const res = await hostLoop(session, first, { maxSteps: d, threshold: thr, halt: false });
      const dt = performance.now() - t1;
      if (r >= opts.warmup) { solveMs.push(dt); stepMs.push(...res.stepMs); }
    }
    out.depths.push({ depth: d, step_ms: stats(stepMs), solve_ms: stats(solveMs), exact_acc: null,
                      cell_acc: null, speedup_vs_eager: null, roofline_pct: null });
    tick(`depth ${d}`);
  }

  // accuracy at every depth (halting off), timed per puzzle = the fixed full-depth latency
  const maxD = Math.max(...opts.depths);
  const predsByDepth = Array.from({ length: maxD }, () => []), fullMs = [];
  for (const [tok, real] of chunks(inputs, B)) {
    t1 = performance.now();
    const res = await hostLoop(session, tok, { maxSteps: maxD, threshold: thr, halt: false });
    fullMs.push((performance.now() - t1) / B);
    res.preds.forEach((p, s) => { for (let b = 0; b < real; b++) predsByDepth[s].push(p.slice(b * L, (b + 1) * L)); });
  }
  const score = (preds) => {
    let exact = 0, cells = 0;
    preds.forEach((p, i) => {
      if (task.verify(inputs[i], p)) exact++;
      p.forEach((t, j) => { if (t === labels[i][j]) cells++; });
    });
    return [exact / preds.length, cells / (preds.length * L)];
  };
  const exactByDepth = {};
  for (const e of out.depths) {
    [e.exact_acc, e.cell_acc] = score(predsByDepth[e.depth - 1]);
    exactByDepth[e.depth] = e.exact_acc;
  }
  tick("accuracy");

  if (opts.halt) {
    const haltMs = [], steps = [], finals = [];
    for (const [tok, real] of chunks(inputs, B)) {
      t1 = performance.now();
      const res = await hostLoop(session, tok, { maxSteps: maxD, threshold: thr, halt: true });
      haltMs.push((performance.now() - t1) / B);
      for (let b = 0; b < real; b++) { steps.push(res.haltedAt[b]); finals.push(res.final.slice(b * L, (b + 1) * L)); }
    }
    const [acc, cell] = score(finals);
    const solved = finals.filter((p, i) => task.verify(inputs[i], p)).length;
    const full = mean(fullMs), meanMs = mean(haltMs), fullAcc = exactByDepth[maxD];
    out.halting = {
      max_steps: maxD, threshold: thr, mean_steps: mean(steps), exact_acc: acc, cell_acc: cell,
      full_depth_exact_acc: fullAcc, acc_loss_pt: 100 * (fullAcc - acc), ms_per_puzzle: meanMs,
      full_depth_ms_per_puzzle: full, ms_per_solved: solved ? haltMs.reduce((s, x) => s + x, 0) / solved : null,
      speedup_vs_full_depth: full / meanMs,
    };
    tick("halting");
  }
  return out;
}
