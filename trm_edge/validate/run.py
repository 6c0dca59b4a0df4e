"""`trm-edge validate` end to end: against eager PyTorch (parity.py), the golden vectors
(vectors.py), or on emulated ARM64 CPUs (arm.py); report, write JSON."""
from __future__ import annotations

import json

from ..errors import TRMEdgeError
from ..safe_io import check_writable, write_text
from .parity import format_report, format_vectors_report, validate, validate_vectors


def run_validation(artifacts: list, arch: str = "native", cpus=(), vectors=None, n: int | None = None,
                   checkpoint=None, max_steps: int | None = None, json_out=None,
                   cpu_profiles: dict[str, str] | None = None) -> tuple[list[dict], str]:
    """`trm-edge validate`: against eager PyTorch, golden vectors (`vectors`), or on emulated ARM64
    CPUs (`arch` aarch64; `cpu_profiles`: device profile name -> CPU model) -> (reports, text).
    Writes the JSON to `json_out`; raises when an artifact fails (after the report is out)."""
    if arch != "aarch64" and len(artifacts) > 1:
        raise TRMEdgeError("several ARTIFACTs go with --arch aarch64; validate one at a time here")
    if arch != "aarch64" and cpus:
        raise TRMEdgeError("--cpu goes with --arch aarch64")
    if json_out:
        check_writable(json_out)
    texts = []
    if arch == "aarch64":
        from .arm import format_arm_report, parity_table, validate_arm
        from .arm64 import DEFAULT_CPU, emulated_cpu

        reps = []
        for cpu in cpus or [DEFAULT_CPU]:
            got = validate_arm(list(artifacts), emulated_cpu(cpu, cpu_profiles), n=n or 0, checkpoint=checkpoint,
                               vectors=[vectors] if vectors else None)
            texts += [format_arm_report(rep) for rep in got]
            reps += got
        if any(r["golden"] for r in reps):
            texts.append(parity_table(reps))
    elif vectors:
        reps = [validate_vectors(artifacts[0], vectors)]
        texts.append(format_vectors_report(reps[0]))
    else:
        if n == 0:
            raise TRMEdgeError("--n must be >= 1 (test puzzles compared with eager)")
        reps = [validate(artifacts[0], n=n or 64, checkpoint=checkpoint, max_steps=max_steps)]
        texts.append(format_report(reps[0]))
    if json_out:
        write_text(json_out, json.dumps(reps[0] if len(reps) == 1 else reps, indent=2) + "\n")
    return reps, "\n".join(texts)

