"""One session API over every artifact: `load(path) -> Session` (eager PyTorch, onnxruntime,
executorch.runtime, ai_edge_litert or tflite_runtime, coremltools on macOS). The host loop is in
loop.py, the Session base in session.py, the backends and `load` in backends.py. Importing this
package imports no torch: only numpy and the standard library (checked in tests/runtime/test_torch_free.py).
"""
from __future__ import annotations

from .backends import EagerSession, load, pick_device
from .loop import SolveResult, host_loop
from .session import Session, State, StepOutput

__all__ = ["EagerSession", "Session", "SolveResult", "State", "StepOutput", "host_loop", "load", "pick_device"]
