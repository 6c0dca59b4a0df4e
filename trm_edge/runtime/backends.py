"""The backends of a Session, and `load`: eager PyTorch (the reference), onnxruntime,
executorch.runtime, LiteRT (ai_edge_litert, or the classic tflite_runtime), coremltools.

Each artifact session opens the file(s) named in the manifest's entry points and feeds them numpy /
torch tensors by the manifest's input names. Backends are imported lazily (require -> the extra);
this module imports neither torch nor any runtime at import time.
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np

from .. import artifact, targets
from ..errors import ArtifactError, MissingExtraError, TRMEdgeError, require
from .session import Session


# ---- eager PyTorch: the reference --------------------------------------------------------------
class EagerSession(Session):
    backend = "eager"

    def __init__(self, model, source: str | None = None, device: str = "cpu"):
        import torch

        self.torch, self.model, self.device = torch, model.eval().to(device), device
        manifest = {"name": "eager", "target": "eager", "mode": "looped", "batch": None, "depth": None,
                    "task": {"name": model.cfg.task}, "model": artifact.model_block(model.cfg),
                    "source": {"checkpoint": source}}
        super().__init__(manifest, Path(source) if source else None)

    def _init(self, tokens, puzzle_ids):
        torch = self.torch
        with torch.no_grad():
            tok = torch.from_numpy(tokens).to(self.device)
            pid = None if puzzle_ids is None else torch.from_numpy(puzzle_ids).to(self.device)
            x = self.model.embed(tok, pid)
            return (x, *self.model.initial_state(x))

    def _step(self, native):
        x, y, z = native
        with self.torch.no_grad():
            y, z, logits, q = self.model.step(x, y, z)
        np_ = lambda t: t.float().cpu().numpy()  # noqa: E731
        return (x, y, z), np_(y), np_(z), np_(logits), logits.argmax(-1).int().cpu().numpy(), np_(q)


def pick_device(device: str | None) -> str:
    """--device autodetect for eager PyTorch: cuda, then mps, then cpu; a named device must exist here."""
    import torch

    if device and device != "auto":
        return check_device(device)
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def check_device(device: str) -> str:
    """An explicit device must exist here: one error line now, never a silent CPU run or a crash later."""
    import torch

    try:
        d = torch.device(device)
    except (RuntimeError, ValueError):
        raise TRMEdgeError(f"--device {device}: not a torch device (cpu, cuda, cuda:N, mps or auto)") from None
    if d.type == "cpu":
        return device
    if d.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        why = "torch was built without CUDA" if torch.version.cuda is None else "no GPU is visible"
        if count == 0:
            raise TRMEdgeError(f"--device {device}: CUDA is not available ({why}; torch {torch.__version__})")
        if d.index is not None and d.index >= count:
            raise TRMEdgeError(f"--device {device}: this machine has {count} CUDA device(s)")
        return device
    backend = getattr(torch.backends, d.type, None) if d.type == "mps" else getattr(torch, d.type, None)
    if backend is None or not backend.is_available():
        raise TRMEdgeError(f"--device {device}: {d.type} is not available on this machine")
    return device


def _entry(manifest: dict, name: str) -> dict:
    try:
        return manifest["entry_points"][name]
    except KeyError:
        raise ArtifactError(f"artifact {manifest.get('name')} has no entry point {name!r}") from None


def _names(spec: dict, key: str) -> list[str]:
    return [t["name"] for t in spec[key]]


def _question(tokens, puzzle_ids) -> list[np.ndarray]:
    return [tokens] if puzzle_ids is None else [tokens, puzzle_ids]


class _Looped:
    """Glue shared by the looped sessions: init -> (x, y, z); step -> x stays, y/z move on."""

    def _init(self, tokens, puzzle_ids):
        return tuple(self._call("init", _question(tokens, puzzle_ids)))

    def _step(self, native):
        x, y, z = native
        y2, z2, logits, preds, q = self._call("step", [x, y, z])
        return (x, y2, z2), self._np(y2), self._np(z2), self._np(logits), self._np(preds), self._np(q)

    def _forward(self, tokens, puzzle_ids):
        return tuple(self._np(a) for a in self._call("forward", _question(tokens, puzzle_ids)))

    @staticmethod
    def _np(a):
        return np.asarray(a.numpy() if hasattr(a, "numpy") else a)


# ---- onnxruntime -------------------------------------------------------------------------------
class OnnxSession(_Looped, Session):
    backend = "onnxruntime"

    def __init__(self, manifest, path: Path, threads: int | None = None):
        super().__init__(manifest, path)
        ort = require("onnxruntime", "onnxruntime")
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        if threads:
            opts.intra_op_num_threads = threads
            opts.inter_op_num_threads = 1
        self._ort = ort
        self._opts = opts
        self._sessions: dict = {}
        for entry in ("init", "step", "forward"):
            if entry in manifest["entry_points"]:
                self._open(entry)

    def _open(self, entry):
        if entry not in self._sessions:
            spec = _entry(self.manifest, entry)
            self._sessions[entry] = (self._ort.InferenceSession(str(self.path / spec["file"]), self._opts,
                                                                providers=["CPUExecutionProvider"]), spec)
        return self._sessions[entry]

    def _call(self, entry, arrays):
        sess, spec = self._sessions[entry]
        return sess.run(_names(spec, "outputs"), dict(zip(_names(spec, "inputs"), arrays)))

    def solve_in_graph(self, tokens, max_steps: int | None = None, halt: bool = True, puzzle_ids=None,
                       threshold: float | None = None) -> dict:
        """Run loop.onnx (the whole recursion and halting inside one ONNX Loop) on N puzzles:
        -> {"preds" (N, S) final answers, "halted_at" (N,), "q_halt" (N,), "logits", "steps" per chunk}."""
        if "loop" not in self.manifest["entry_points"]:
            raise TRMEdgeError(f"{self.name} has no in-graph loop (export with in_graph_loop = true)")
        self._open("loop")
        max_steps = max_steps or self.n_sup
        thr = (self.halt_threshold if threshold is None else threshold) if halt else np.inf
        tokens, pid = self._check_inputs(tokens, puzzle_ids)
        outs = []
        for t, p in self._chunks(tokens, pid):
            args = _question(t, p) + [np.array(max_steps, np.int32), np.array(thr, np.float32)]
            outs.append(self._call("loop", args))
        res = {k: np.concatenate([o[i] for o in outs])[:len(tokens)]
               for i, k in enumerate(("preds", "halted_at", "q_halt", "logits"))}
        res["steps"] = np.array([int(o[4]) for o in outs])
        return res


# ---- executorch --------------------------------------------------------------------------------
class ExecuTorchSession(_Looped, Session):
    backend = "executorch"

    def __init__(self, manifest, path: Path, threads: int | None = None):
        super().__init__(manifest, path)
        with warnings.catch_warnings():   # ExecuTorch's notice that its Python runtime API is experimental
            warnings.filterwarnings("ignore", message="This API is experimental")
            rt_mod = require("executorch.runtime", "executorch")
        import torch
        self._torch = torch
        if threads:
            torch.set_num_threads(threads)
            # XNNPACK runs on ExecuTorch's own threadpool (one thread per core by default), which
            # torch.set_num_threads does not size: without this, --threads 1 ran on every core
            pool = require("executorch.extension.pybindings.portable_lib", "executorch")
            if pool._threadpool_get_thread_count() != threads:
                pool._unsafe_reset_threadpool(threads)
        files = {spec["file"] for spec in manifest["entry_points"].values()}
        if len(files) != 1:
            raise ArtifactError(f"{self.name}: an ExecuTorch artifact has one .pte, manifest names {sorted(files)}")
        program = rt_mod.Runtime.get().load_program(self.path / files.pop())
        self._methods = {entry: (program.load_method(spec.get("method", entry)), spec)
                         for entry, spec in manifest["entry_points"].items()}

    def _call(self, entry, arrays):
        method, _ = self._methods[entry]
        ins = [a if isinstance(a, self._torch.Tensor) else self._torch.from_numpy(np.ascontiguousarray(a))
               for a in arrays]
        return method.execute(ins)


# ---- TFLite (LiteRT) ---------------------------------------------------------------------------
def tflite_interpreter_module():
    """ai_edge_litert's interpreter, else the classic tflite_runtime (what Raspberry Pi and Coral
    installs have; 2.14 runs this project's fp32 artifacts, int8 ones only as TFLITE_RUNTIME_INT8
    says): -> (module, backend name)."""
    try:
        return require("ai_edge_litert.interpreter", "litert"), "litert"
    except MissingExtraError:
        pass
    try:
        return require("tflite_runtime.interpreter", "tflite-runtime"), "tflite-runtime"
    except MissingExtraError:
        raise MissingExtraError("a .tflite artifact needs ai_edge_litert or tflite_runtime; install one with: "
                                "pip install 'trm-edge[litert]' (or 'trm-edge[tflite-runtime]')") from None


# Measured with tflite-runtime 2.14.0 (its last release) on the bundled model's looped artifacts
# (docs/arm.md#tflite-runtime): int8-dynamic gives wrong q_halt and answers on x86 and aarch64 alike;
# static int8 is right on x86 but its aarch64 build segfaults in the first call (also without XNNPACK;
# its reference kernels return wrong numbers). ai-edge-quantizer writes per-channel int8
# FULLY_CONNECTED (one scale per output row) but leaves the op at version 5, so 2.14 loads the model
# without complaint. ai-edge-litert (its successor) runs all of them right on both ISAs.
TFLITE_RUNTIME_INT8 = {"int8-dynamic": "computes wrong answers for int8-dynamic artifacts",
                       "int8@aarch64": "crashes (SIGSEGV) on static int8 artifacts on aarch64"}


def _refuse_tflite_runtime(manifest: dict) -> None:
    import platform

    arch = "aarch64" if platform.machine().lower() in ("aarch64", "arm64") else "x86"
    why = TFLITE_RUNTIME_INT8.get(manifest["precision"]) or TFLITE_RUNTIME_INT8.get(f"{manifest['precision']}@{arch}")
    if why:
        raise TRMEdgeError(f"{manifest['name']}: tflite_runtime (the classic package, last release 2.14) {why}; "
                           "install its successor instead: pip install ai-edge-litert")


class TFLiteSession(_Looped, Session):
    backend = "litert"

    def __init__(self, manifest, path: Path, threads: int | None = None):
        super().__init__(manifest, path)
        interp_mod, self.backend = tflite_interpreter_module()
        if self.backend == "tflite-runtime":
            _refuse_tflite_runtime(manifest)
        files = {spec["file"] for spec in manifest["entry_points"].values()}
        if len(files) != 1:
            raise ArtifactError(f"{self.name}: a TFLite artifact has one .tflite, manifest names {sorted(files)}")
        self._interp = interp_mod.Interpreter(model_path=str(self.path / files.pop()), num_threads=threads)
        self._runners = {entry: (self._interp.get_signature_runner(spec.get("method", entry)), spec)
                         for entry, spec in manifest["entry_points"].items()}

    def _call(self, entry, arrays):
        runner, spec = self._runners[entry]
        ins = {t.get("runtime_name", t["name"]): np.ascontiguousarray(a)
               for t, a in zip(spec["inputs"], arrays)}
        out = runner(**ins)
        return [out[t.get("runtime_name", t["name"])] for t in spec["outputs"]]


# ---- Core ML (macOS only) ----------------------------------------------------------------------
class CoreMLSession(_Looped, Session):
    backend = "coreml"

    def __init__(self, manifest, path: Path, threads: int | None = None):
        super().__init__(manifest, path)
        if sys.platform != "darwin":
            raise TRMEdgeError("Core ML artifacts run only on macOS: coremltools has no prediction "
                               "on Linux (use the onnx, executorch or tflite artifact here)")
        ct = require("coremltools", "coreml")
        self._models = {}
        for entry, spec in manifest["entry_points"].items():
            fn = spec.get("method")
            kw = {"function_name": fn} if fn and fn != "main" else {}
            self._models[entry] = (ct.models.MLModel(str(self.path / spec["file"]), **kw), spec)

    def _call(self, entry, arrays):
        model, spec = self._models[entry]
        out = model.predict(dict(zip(_names(spec, "inputs"), (np.ascontiguousarray(a) for a in arrays))))
        return [np.asarray(out[n]) for n in _names(spec, "outputs")]


def _session_class(path: str) -> type:
    """"module:Class" of a target's registration -> the class (the sessions above: this module)."""
    import importlib

    mod, _, cls = path.partition(":")
    return getattr(sys.modules[__name__] if mod == __name__ else importlib.import_module(mod), cls)


SESSIONS = {t.name: _session_class(t.session) for t in targets.REGISTRY}   # one per registered target


def open_session(manifest: dict, path: Path, threads: int | None = None) -> Session:
    target = manifest.get("target")
    if target not in SESSIONS:
        raise ArtifactError(f"{path}: unknown target {target!r} in the manifest")
    try:
        return SESSIONS[target](manifest, path, threads=threads)
    except TRMEdgeError:
        raise
    except Exception as e:  # noqa: BLE001  each runtime raises its own types for a file it cannot parse
        msg = " ".join(str(e).split())[:160] or type(e).__name__
        raise ArtifactError(f"{path}: the {target} runtime cannot load this artifact ({msg})") from None


# ---- load ------------------------------------------------------------------------------------
def load(path, threads: int | None = None, device: str = "cpu", verify: bool = True) -> Session:
    """An artifact directory (with manifest.json) -> its runtime's Session; a checkpoint directory
    or bundled name -> the eager PyTorch reference. The sha256 of every file in the manifest is
    checked before anything is loaded (ArtifactError if a file is missing or changed)."""
    if artifact.is_artifact(path):
        art = artifact.read(path, verify=verify)
        return open_session(art.manifest, art.path, threads=threads)
    try:
        from ..checkpoint import load_model, resolve
        d = resolve(path)
    except ArtifactError:
        raise ArtifactError(f"{path} is neither an artifact (no {artifact.MANIFEST}) nor a checkpoint") from None
    torch = require("torch", "torch")   # a checkpoint runs in eager PyTorch
    device = pick_device(device)
    model, d = load_model(d, device=device)
    if threads:
        torch.set_num_threads(threads)
    return EagerSession(model, source=str(d), device=device)
