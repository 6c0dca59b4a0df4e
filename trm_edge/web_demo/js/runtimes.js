// Sessions over a verified looped artifact: `init(tokens, B)` keeps (x, y, z) inside the session,
// `step()` advances them and returns {logits (B*L*V), qHalt (B)} for the host loop.
//   OrtSession    : init.onnx + step.onnx on onnxruntime-web (wasm: SIMD, threads when the page is
//                   cross-origin isolated; webgpu where the browser has it)
//   LiteRtSession : the .tflite's `init` / `step` signatures on LiteRT.js (@litertjs/core, XNNPACK in wasm)
// Tensor names, shapes and files come from the manifest only.

const ORT_DIR = new URL("../node_modules/onnxruntime-web/dist/", import.meta.url).href;
const LITERT_WASM_DIR = new URL("../node_modules/@litertjs/core/wasm/", import.meta.url).href;

const tname = (t) => t.runtime_name || t.name;

function entry(manifest, name) {
  const e = manifest.entry_points?.[name];
  if (!e) throw new Error(`artifact ${manifest.name} has no entry point '${name}'`);
  return e;
}

function checkLooped(manifest, target) {
  if (manifest.target !== target) throw new Error(`${manifest.name} is a ${manifest.target} artifact, not ${target}`);
  if (manifest.mode !== "looped") throw new Error(`${manifest.name}: the page runs looped artifacts (init + step), not ${manifest.mode}`);
  const ins = entry(manifest, "init").inputs.map((t) => t.name);
  if (ins.length !== 1 || ins[0] !== "tokens") throw new Error(`${manifest.name}: init takes ${ins.join(", ")}; the page feeds tokens only`);
}

// SIMD support: validate a one-function module that uses a v128 instruction
export function wasmSimd() {
  return WebAssembly.validate(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0,
    10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11]));
}

export async function webgpuAvailable() {
  if (!("gpu" in navigator)) return false;
  try { return !!(await navigator.gpu.requestAdapter()); } catch { return false; }
}

let ortModule = null;
async function ort() {
  if (!ortModule) {
    ortModule = await import("../node_modules/onnxruntime-web/dist/ort.all.min.mjs");
    ortModule.env.wasm.wasmPaths = ORT_DIR;
  }
  return ortModule;
}

export class OrtSession {
  // opts: {backend: "wasm" | "webgpu" | "auto", threads: 0 = runtime default}
  static async create(art, { backend = "auto", threads = 0 } = {}) {
    const m = art.manifest;
    checkLooped(m, "onnx");
    const o = await ort();
    if (backend === "auto") backend = (await webgpuAvailable()) ? "webgpu" : "wasm";
    // threads need SharedArrayBuffer, i.e. a cross-origin isolated page (COOP + COEP headers)
    const isolated = globalThis.crossOriginIsolated === true;
    o.env.wasm.numThreads = isolated ? (threads || Math.min(4, Math.ceil((navigator.hardwareConcurrency || 1) / 2))) : 1;
    o.env.wasm.simd = true;
    const opts = { executionProviders: [backend], graphOptimizationLevel: "all" };
    const init = await o.InferenceSession.create(art.files[entry(m, "init").file], opts);
    const step = await o.InferenceSession.create(art.files[entry(m, "step").file], opts);
    return new OrtSession(o, m, init, step, backend);
  }

  constructor(o, manifest, init, step, backend) {
    this.ort = o; this.manifest = manifest; this.initSess = init; this.stepSess = step;
    this.seqLen = manifest.task.seq_len; this.vocabSize = manifest.task.vocab_size;
    this.batch = manifest.batch || 1;
    const st = entry(manifest, "step");
    this.stateIn = st.inputs.map(tname);                          // x, y, z
    this.outNames = Object.fromEntries(st.outputs.map((t) => [t.name, tname(t)]));
    this.initOut = entry(manifest, "init").outputs.map(tname);    // x, y, z
    const simd = wasmSimd();
    this.info = {
      runtime: `onnxruntime-web ${o.env.versions?.web || "?"}`, backend,
      threads: backend === "wasm" ? o.env.wasm.numThreads : null, simd: backend === "wasm" ? simd : null,
      cross_origin_isolated: globalThis.crossOriginIsolated === true,
    };
  }

  async init(tokens, B) {
    const feeds = { [tname(entry(this.manifest, "init").inputs[0])]: new this.ort.Tensor("int32", tokens, [B, this.seqLen]) };
    const out = await this.initSess.run(feeds);
    this.state = this.initOut.map((n) => out[n]);                 // [x, y, z]
  }

  async step() {
    const [x, y, z] = this.state;
    const out = await this.stepSess.run({ [this.stateIn[0]]: x, [this.stateIn[1]]: y, [this.stateIn[2]]: z });
    this.state = [x, out[this.outNames.y_next], out[this.outNames.z_next]];
    return { logits: out[this.outNames.logits].data, qHalt: out[this.outNames.q_halt].data };
  }
}

let litert = null;
async function liteRt() {
  if (!litert) {
    litert = await import("@litertjs/core");
    await litert.loadLiteRt(LITERT_WASM_DIR);
  }
  return litert;
}

export class LiteRtSession {
  static async create(art, { backend = "wasm", threads = 0 } = {}) {
    const m = art.manifest;
    checkLooped(m, "tflite");
    const lrt = await liteRt();
    const file = entry(m, "step").file;
    const opts = { accelerator: backend === "webgpu" ? "webgpu" : "wasm" };
    if (threads) opts.cpuOptions = { numThreads: threads };
    const model = await lrt.loadAndCompile(art.files[file], opts);
    const sigs = model.signatures;
    for (const s of ["init", "step"]) {
      if (!sigs[entry(m, s).method || s]) throw new Error(`LiteRT.js sees signatures [${Object.keys(sigs)}], not '${s}'`);
    }
    return new LiteRtSession(lrt, m, model, opts.accelerator, threads);
  }

  constructor(lrt, manifest, model, backend, threads) {
    this.lrt = lrt; this.manifest = manifest; this.model = model;
    this.seqLen = manifest.task.seq_len; this.vocabSize = manifest.task.vocab_size;
    this.batch = manifest.batch || 1;
    this.initEp = entry(manifest, "init"); this.stepEp = entry(manifest, "step");
    this.info = { runtime: "LiteRT.js (@litertjs/core)", backend, threads: threads || null, simd: wasmSimd(),
                  cross_origin_isolated: globalThis.crossOriginIsolated === true };
  }

  async init(tokens, B) {
    const input = new this.lrt.Tensor(tokens, [B, this.seqLen]);
    const out = await this.model.run(this.initEp.method || "init", { [tname(this.initEp.inputs[0])]: input });
    input.delete();
    this.free();
    this.state = Object.fromEntries(this.initEp.outputs.map((t) => [t.name, out[tname(t)]]));  // x, y, z
  }

  async step() {
    const ins = Object.fromEntries(this.stepEp.inputs.map((t) => [tname(t), this.state[t.name]]));
    const out = await this.model.run(this.stepEp.method || "step", ins);
    const get = (n) => out[tname(this.stepEp.outputs.find((t) => t.name === n))];
    const logits = get("logits").toTypedArray().slice(), qHalt = get("q_halt").toTypedArray().slice();
    for (const n of ["logits", "preds", "q_halt"]) get(n)?.delete();
    this.state.y.delete(); this.state.z.delete();
    this.state = { x: this.state.x, y: get("y_next"), z: get("z_next") };
    return { logits, qHalt };
  }

  free() {
    for (const t of Object.values(this.state || {})) t.delete();
    this.state = null;
  }
}

export async function openSession(art, opts = {}) {
  if (art.manifest.target === "onnx") return OrtSession.create(art, opts);
  if (art.manifest.target === "tflite") return LiteRtSession.create(art, opts);
  throw new Error(`${art.manifest.name}: the page runs onnx (onnxruntime-web) and tflite (LiteRT.js) artifacts, not ${art.manifest.target}`);
}
