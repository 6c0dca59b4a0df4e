"""One session API over every artifact: `load(path) -> Session` (eager PyTorch, onnxruntime,
executorch.runtime, ai_edge_litert, coremltools on macOS). The host loop is in loop.py."""
from __future__ import annotations

from .loop import SolveResult, host_loop
from .session import EagerSession, Session, State, StepOutput, load

__all__ = ["EagerSession", "Session", "SolveResult", "State", "StepOutput", "host_loop", "load"]
