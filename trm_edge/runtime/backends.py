"""Sessions over the exported runtimes: onnxruntime, executorch.runtime, ai_edge_litert, coremltools.

Each one opens the artifact's file(s) named in the manifest's entry points and feeds them numpy /
torch tensors by the manifest's input names. Backends are imported lazily (require -> the extra).
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from ..errors import ArtifactError, TRMEdgeError, require
from .session import Session


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
        ort = require("onnxruntime", "onnx")
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
        rt_mod = require("executorch.runtime", "executorch")
        import torch
        self._torch = torch
        if threads:
            torch.set_num_threads(threads)
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
class TFLiteSession(_Looped, Session):
    backend = "litert"

    def __init__(self, manifest, path: Path, threads: int | None = None):
        super().__init__(manifest, path)
        interp_mod = require("ai_edge_litert.interpreter", "tflite")
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


SESSIONS = {"onnx": OnnxSession, "executorch": ExecuTorchSession, "tflite": TFLiteSession,
            "coreml": CoreMLSession}


def open_session(manifest: dict, path: Path, threads: int | None = None) -> Session:
    target = manifest.get("target")
    if target not in SESSIONS:
        raise ArtifactError(f"{path}: unknown target {target!r} in the manifest")
    return SESSIONS[target](manifest, path, threads=threads)
