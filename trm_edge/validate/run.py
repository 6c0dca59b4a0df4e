"""`trm-edge validate` end to end: against eager PyTorch (parity.py), the golden vectors
(vectors.py), or on emulated ARM64 CPUs (arm.py); report, write JSON."""
from __future__ import annotations

import json
from dataclasses import dataclass, field

from ..errors import TRMEdgeError
from ..safe_io import check_writable, write_text
from .parity import format_report, format_vectors_report, validate, validate_vectors


@dataclass
class ValidateRequest:
    artifacts: list = field(default_factory=list)   # artifact directories (several: --arch aarch64 only)
    arch: str = "native"             # native | aarch64 (emulated ARM64 CPUs, qemu user mode)
    cpus: tuple = ()                 # aarch64: CPU models or device profiles with emulate_cpu (default cortex-a76)
    vectors: str | None = None       # golden vectors (a file or a bundled model's name) instead of eager PyTorch
    n: int | None = None             # test puzzles (native default 64; aarch64: added to the vectors' puzzles, default 0)
    checkpoint: str | None = None    # the eager reference (default: the manifest's source checkpoint)
    max_steps: int | None = None     # compare only the first K supervision steps
    json_out: str | None = None
    cpu_profiles: dict | None = None   # device profile name -> CPU model (trm_edge.bench.devices.emulate_cpus)


def run_validation(req: ValidateRequest) -> tuple[list[dict], str]:
    """`trm-edge validate`: against eager PyTorch, golden vectors, or on emulated ARM64 CPUs ->
    (reports, text). Writes the JSON to `req.json_out`; it does not judge: the caller fails on a
    report that did not pass (trm_edge.validate.check_passed), after the report is out."""
    artifacts, arch, cpus, vectors, n = list(req.artifacts), req.arch, req.cpus, req.vectors, req.n
    checkpoint, max_steps, json_out, cpu_profiles = req.checkpoint, req.max_steps, req.json_out, req.cpu_profiles
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

