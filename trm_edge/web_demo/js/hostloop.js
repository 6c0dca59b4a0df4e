// The host recursion loop, the JavaScript twin of trm_edge/runtime/loop.py `host_loop` and the
// apps' HostLoop.kt (same semantics, checked against the same golden vectors):
//
//   init(tokens) once; then for s in 1..maxSteps: step() -> logits (B, L, V), qHalt (B)
//   preds = argmax(logits), confidence = max softmax prob, per cell (decoding is on the host)
//   a sample halts at the first step with qHalt > threshold; its answer is frozen from then on
//   stop when every sample halted (halt = true) or after maxSteps
//
// The state (x, y, z) stays in the session's own tensors.

// logits (B*L*V) -> [preds Int32Array (B*L), confidence Float32Array (B*L)]
export function decode(logits, cells, V) {
  const preds = new Int32Array(cells), conf = new Float32Array(cells);
  for (let c = 0; c < cells; c++) {
    const o = c * V;
    let best = 0;
    for (let k = 1; k < V; k++) if (logits[o + k] > logits[o + best]) best = k;
    const m = logits[o + best];
    let sum = 0;
    for (let k = 0; k < V; k++) sum += Math.exp(logits[o + k] - m);
    preds[c] = best;
    conf[c] = 1 / sum;
  }
  return [preds, conf];
}

export const sigmoid = (x) => 1 / (1 + Math.exp(-x));

// session: {seqLen, vocabSize, init(tokens, B), step() -> {logits, qHalt}}
// onStep(update) runs after each step, outside the timed region (the page redraws there).
export async function hostLoop(session, tokens, { maxSteps, threshold, halt = true, onStep = null }) {
  if (maxSteps < 1) throw new Error(`maxSteps must be >= 1, got ${maxSteps}`);
  const L = session.seqLen, B = tokens.length / L;
  const t0 = performance.now();
  await session.init(tokens, B);
  const initMs = performance.now() - t0;
  const haltedAt = new Int32Array(B).fill(maxSteps), done = new Uint8Array(B);
  const preds = [], qs = [], confs = [], stepMs = [];
  for (let s = 1; s <= maxSteps; s++) {
    const t1 = performance.now();
    const out = await session.step();
    stepMs.push(performance.now() - t1);
    const [pred, conf] = decode(out.logits, B * L, session.vocabSize);
    if (halt && preds.length) {           // frozen answers for samples that halted at an earlier step
      const prev = preds[preds.length - 1];
      for (let b = 0; b < B; b++) if (done[b]) pred.set(prev.subarray(b * L, (b + 1) * L), b * L);
    }
    const q = Float32Array.from(out.qHalt);
    preds.push(pred); qs.push(q); confs.push(conf);
    for (let b = 0; b < B; b++) if (!done[b] && q[b] > threshold) { haltedAt[b] = s; done[b] = 1; }
    if (onStep) await onStep({ step: s, preds: pred, confidence: conf, qHalt: q, logits: out.logits, done: Uint8Array.from(done) });
    if (halt && done.every((d) => d)) break;
  }
  const stepsRun = preds.length;
  // the answer at each sample's halting step (SolveResult.final)
  const final = new Int32Array(B * L);
  for (let b = 0; b < B; b++) {
    const s = Math.min(haltedAt[b], stepsRun) - 1;
    final.set(preds[s].subarray(b * L, (b + 1) * L), b * L);
  }
  return { preds, qs, confs, haltedAt, final, stepsRun, maxSteps, initMs, stepMs };
}
