// The page: pick an installed artifact (assets/trm/index.json, written by
// `trm-edge export --for-app web`), type or paste a puzzle, watch it being solved one supervision
// step at a time (like `trm-edge demo`), or run the benchmark mode. `window.trm` is the same
// functionality for scripts (the tests and `trm-edge bench --device chromium` drive it).

import { ArtifactError, loadArtifact } from "./artifact.js";
import { benchArtifact } from "./bench.js";
import { hostLoop, sigmoid } from "./hostloop.js";
import { openSession } from "./runtimes.js";
import { PuzzleError, Sudoku } from "./sudoku.js";

const $ = (id) => document.getElementById(id);
const ASSETS = new URL("../assets/trm/", import.meta.url).href;
const current = { key: null, art: null, session: null, task: null };

function status(text, cls = "") { const el = $("status"); el.textContent = text; el.className = cls; }

// -- loading -------------------------------------------------------------------------------------
async function useArtifact(url, { backend = "auto", threads = 0 } = {}) {
  const key = `${url}|${backend}|${threads}`;
  if (current.key === key) return current;
  status(`verifying ${url} ...`);
  const art = await loadArtifact(url);
  const session = await openSession(art, { backend, threads });
  const sel = $("artifact");
  if (![...sel.options].some((o) => o.value === url)) sel.add(new Option(art.manifest.name, url));  // a script's URL
  sel.value = url;
  Object.assign(current, { key, art, session, task: new Sudoku(art.manifest.task) });
  const i = session.info;
  status(`${art.manifest.name}: sha256 of ${Object.keys(art.files).length} file(s) verified; ${i.runtime}, `
    + `backend ${i.backend}, threads ${i.threads ?? "-"}, SIMD ${i.simd ?? "-"}, `
    + `cross-origin isolated ${i.cross_origin_isolated}`, "ok");
  return current;
}

// -- drawing -------------------------------------------------------------------------------------
function boardElement(task, tokens, { givens = null, changed = null, confidence = null } = {}) {
  const N = task.N, table = document.createElement("table");
  table.className = "board";
  for (let r = 0; r < N; r++) {
    const tr = table.insertRow();
    for (let c = 0; c < N; c++) {
      const i = r * N + c, td = tr.insertCell();
      td.textContent = task.toText([tokens[i]]);
      if (givens && task.digitOf.has(givens[i])) td.classList.add("given");
      if (changed && changed[i]) td.classList.add("changed");
      if (confidence) td.style.setProperty("--conf", confidence[i].toFixed(3));
      if (c % task.boxCols === task.boxCols - 1 && c !== N - 1) td.classList.add("box-right");
      if (r % task.boxRows === task.boxRows - 1 && r !== N - 1) td.classList.add("box-bottom");
    }
  }
  return table;
}

function stepCard(task, title, tokens, opts) {
  const card = document.createElement("figure");
  card.className = "step";
  card.append(boardElement(task, tokens, opts));
  const cap = document.createElement("figcaption");
  cap.textContent = title;
  card.append(cap);
  return card;
}

// -- solving (what `trm-edge solve` prints, as boards) -------------------------------------------
async function solveText(text, { allSteps = false } = {}) {
  const { art, session, task } = current;
  const tokens = task.parse(text);                     // PuzzleError with the CLI's message
  const m = art.manifest, thr = m.model.halt_threshold, nSup = m.model.n_sup;
  const steps = $("steps");
  steps.replaceChildren(stepCard(task, `puzzle (${tokens.filter((t) => task.digitOf.has(t)).length} givens)`, tokens,
                                 { givens: tokens }));
  let prev = tokens, wasDone = false;
  const res = await hostLoop(session, tokens, {
    maxSteps: nSup, threshold: thr, halt: !allSteps,
    onStep: async (u) => {
      const changed = u.preds.map((t, i) => t !== prev[i]);
      const nChanged = changed.reduce((a, b) => a + b, 0);
      const halted = u.done[0] && !wasDone ? " -> halt" : "";
      wasDone = u.done[0] === 1;
      steps.append(stepCard(task, `step ${u.step}/${nSup}: halting confidence ${sigmoid(u.qHalt[0]).toFixed(3)} `
        + `(threshold ${sigmoid(thr).toFixed(3)}), ${nChanged} cells changed${halted}`, u.preds,
        { givens: tokens, changed, confidence: u.confidence }));
      prev = u.preds;
      await new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));  // let the browser paint
    },
  });
  const answer = res.final, solved = task.verify(tokens, answer), steps_ = allSteps ? res.stepsRun : res.haltedAt[0];
  $("result").textContent = `${solved ? "solved" : "NOT solved"} after ${steps_} step(s): ${task.toText(answer)}`;
  $("result").className = solved ? "ok" : "bad";
  return { solved, steps: steps_, answer: task.toText(answer), halted_at: res.haltedAt[0] };
}

// -- golden vectors (trm_edge/golden_vectors/*.json): every case at the artifact's batch, halting off and on ---
async function runVectors(vectors) {
  const { session } = current;
  const L = session.seqLen, thr = vectors.halt_threshold, S = vectors.max_steps;
  const cases = [];
  for (const c of vectors.cases) {
    const tokens = Int32Array.from(c.tokens), logits = [], q = [], preds = [];
    const full = await hostLoop(session, tokens, { maxSteps: S, threshold: thr, halt: false,
      onStep: (u) => { logits.push(Array.from(u.logits)); q.push(u.qHalt[0]); preds.push(Array.from(u.preds)); } });
    const halted = await hostLoop(session, tokens, { maxSteps: S, threshold: thr, halt: true });
    cases.push({ name: c.name, logits, q_halt: q, preds, halted_at: full.haltedAt[0],
                 halting_run: { halted_at: halted.haltedAt[0], steps_run: halted.stepsRun, final: Array.from(halted.final) } });
    if (L !== c.tokens.length) throw new Error(`vectors have ${c.tokens.length} tokens, the artifact ${L}`);
  }
  return { info: session.info, cases };
}

// -- wiring --------------------------------------------------------------------------------------
async function populate() {
  let index;
  try {
    index = await (await fetch(ASSETS + "index.json", { cache: "no-store" })).json();
  } catch {
    status("no artifacts installed: run `trm-edge export --for-app web --out artifacts` then `trm-edge web`", "bad");
    return null;
  }
  const sel = $("artifact");
  sel.replaceChildren(...index.artifacts.map((a) => new Option(`${a.name} (${a.target} ${a.precision})`, ASSETS + a.name)));
  sel.value = ASSETS + index.default;
  try {
    current.puzzles = await (await fetch(ASSETS + "puzzles.json", { cache: "no-store" })).json();
  } catch { current.puzzles = null; }
  return index;
}

function options() {
  return { backend: $("backend").value, threads: Number($("threads").value) || 0 };
}

async function guarded(fn) {
  $("error").textContent = "";
  try {
    return await fn();
  } catch (e) {
    $("error").textContent = `error: ${e.message}`;
    if (!(e instanceof PuzzleError || e instanceof ArtifactError)) console.error(e);
    return null;
  }
}

function randomPuzzle() {
  if (!current.puzzles || !current.task) return;
  const rows = current.puzzles.inputs, row = rows[Math.floor(Math.random() * rows.length)];
  $("puzzle").value = current.task.toText(row);
}

async function benchFromForm() {
  const depths = $("depths").value.split(",").map(Number).filter((d) => d >= 1);
  const p = current.puzzles;
  const entry = await benchArtifact({ artifact: $("artifact").value, depths, runs: Number($("runs").value),
    warmup: Number($("warmup").value), ...options(), halt: true, puzzles: p,
    onProgress: (label) => status(`benchmark: ${label} done`) });
  $("bench-out").textContent = JSON.stringify(entry, null, 2);
  status("benchmark done", "ok");
  return entry;
}

window.addEventListener("DOMContentLoaded", () => {
  $("solve").onclick = () => guarded(async () => { await useArtifact($("artifact").value, options()); return solveText($("puzzle").value, { allSteps: $("all-steps").checked }); });
  $("random").onclick = () => guarded(async () => { await useArtifact($("artifact").value, options()); randomPuzzle(); });
  $("bench").onclick = () => guarded(benchFromForm);
});

window.trm = {
  ready: populate().then(async (index) => {
    if (index) await guarded(async () => { await useArtifact($("artifact").value, options()); randomPuzzle(); });
    return index;
  }),
  loadArtifact, useArtifact, runVectors, benchArtifact,
  solve: async (text, opts) => { $("puzzle").value = text; return solveText(text, opts); },
  parse: (text) => current.task.parse(text),
};
