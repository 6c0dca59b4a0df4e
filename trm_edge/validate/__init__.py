"""Checking artifacts: parity with eager PyTorch after every supervision step (parity.py) under one
pass rule (rule.py), the golden vectors the apps replay (vectors.py), and the same checks on
emulated ARM64 CPUs (arm.py over arm64.py's qemu runner); run.py is `trm-edge validate`."""
from .parity import check_passed, format_report, format_vectors_report, validate, validate_vectors

__all__ = ["check_passed", "format_report", "format_vectors_report", "validate", "validate_vectors"]
