"""Do the app's runtimes read what `trm-edge export` writes? Measured, not assumed.

    python scripts/check_app_runtimes.py [--targets executorch,tflite] [--precisions fp32,int8,int4]
                                         [--checkpoint sudoku6] [--out DIR] [--json FILE]

For each target, the oldest runtime its manifests promise (trm_edge.targets Target.min_runtime, the
manifest's "min_runtime": ExecuTorch 1.4.1 = the app's org.pytorch:executorch-android, LiteRT 1.4.0 =
pip ai-edge-litert, the same source release as the app's com.google.ai.edge.litert 1.4.1) is installed
from pip into its own venv under $TRM_EDGE_CACHE/app-runtimes (else ~/.cache/trm-edge; made once,
reused). Then the bundled checkpoint is exported (looped, each precision) with this Python's
exporters, and scripts/app_runtime_probe.py runs every artifact's init + n_sup steps on the golden
vectors' puzzles twice: under this Python's runtime and under the pinned one. It passes when the
pinned runtime loads every program and its outputs match: predictions equal, |logits| and |q_halt|
within the vectors' fp32 tolerances, y/z within the logits tolerance. Exit 0 all pass, 1 a
mismatch or a program the pinned runtime refuses (printed), 2 bad input.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))   # this checkout's trm_edge (the one that exports)

from trm_edge import package_data, targets   # noqa: E402  (light: plain data)
from trm_edge.errors import TRMEdgeError   # noqa: E402

PROBE = ROOT / "scripts" / "app_runtime_probe.py"
# runtime (a min_runtime key) -> (pip package, what else its venv needs besides the package itself)
PIP = {"executorch": ("executorch", lambda: [f"torch=={version('torch').split('+')[0]}", "numpy", "flatbuffers",
                                              "packaging", "typing-extensions", "pyyaml", "ruamel.yaml", "tabulate",
                                              "sympy"]),
       "litert": ("ai-edge-litert", lambda: [])}


def cache_dir() -> Path:
    return package_data.cache_dir() / "app-runtimes"


def pinned_python(runtime: str, release: str, log) -> Path:
    """The venv with pip `<package>==release` (made once under cache_dir()) -> its python."""
    package, extra = PIP[runtime]
    venv = cache_dir() / f"{package}-{release}"
    py = venv / "bin" / "python"
    ok = venv / ".complete"
    if not ok.is_file():
        log(f"app-runtimes: making {venv} (pip {package}=={release})")
        run([sys.executable, "-m", "venv", "--clear", str(venv)])
        pip = [str(py), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        # executorch: its runtime only (portable_lib + torch for tensors), not the exporter's dependencies
        # (pip then prints that those are missing: kept out of the log unless the install fails)
        run(pip + (["--no-deps"] if extra() else []) + [f"{package}=={release}"])
        if extra():
            run(pip + extra())
        ok.write_text(f"{package}=={release}\n")
    return py


def run(cmd: list[str]) -> None:
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode:
        raise TRMEdgeError(f"{' '.join(cmd[:4])} ... failed: {(r.stderr or r.stdout).strip()[-600:]}")


def probe(py: Path, art: Path, tokens: Path, steps: int, out: Path) -> dict:
    r = subprocess.run([str(py), str(PROBE), str(art), str(tokens), str(steps), str(out)],
                       capture_output=True, text=True)
    lines = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    if r.returncode or not lines:
        return {"runtime": None, "error": f"probe exit {r.returncode}: {(r.stderr or r.stdout).strip()[-400:]}"}
    return json.loads(lines[-1])


def compare(a: dict, b: dict, tol: dict) -> tuple[dict, str | None]:
    """Largest differences pinned vs current, and why they fail (None: within tolerance)."""
    diff = {k: float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()) for k in a}
    diff["preds_differ"] = int((a["preds"] != b["preds"]).sum())
    limits = {"logits": tol["logit_atol"], "q_halt": tol["q_atol"], "y_next": tol["logit_atol"],
              "z_next": tol["logit_atol"]}
    bad = [f"{k} {diff[k]:.3g} > {lim}" for k, lim in limits.items() if diff[k] > lim]
    if diff["preds_differ"]:
        bad.append(f"{diff['preds_differ']} predictions differ")
    diff.pop("preds")
    return diff, ("; ".join(bad) or None)


def export(checkpoint: str, target: str, precision: str, out: Path, log) -> Path:
    art = out / f"{target}-{precision}-looped"
    if not (art / "manifest.json").is_file():
        t0 = time.monotonic()
        r = subprocess.run([sys.executable, "-m", "trm_edge.cli", "export", "--checkpoint", checkpoint, "--target",
                            target, "--precision", precision, "--mode", "looped", "--out", str(out)],
                           capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        if r.returncode:
            raise TRMEdgeError(f"export {target} {precision} failed: {(r.stderr or r.stdout).strip().splitlines()[-1]}")
        log(f"app-runtimes: exported {art.name} in {time.monotonic() - t0:.1f} s")
    return art


def check(target_names, precisions, checkpoint: str, out: Path, log=print) -> list[dict]:
    vec = package_data.path(package_data.GOLDEN_VECTORS, f"{checkpoint}.json")
    if not vec.is_file():
        raise TRMEdgeError(f"checkpoint {checkpoint!r} has no golden vectors ({vec}); use one of "
                           f"{', '.join(p.stem for p in package_data.golden_vectors())}")
    vectors = json.loads(vec.read_text())
    tokens = out / "tokens.npy"
    np.save(tokens, np.array([c["tokens"] for c in vectors["cases"]], dtype=np.int32))
    rows = []
    for name in target_names:
        need = targets.get(name).min_runtime
        if not need:
            raise TRMEdgeError(f"target {name} records no min_runtime (trm_edge/targets.py): nothing to check")
        (runtime, release), = need.items()
        pinned = pinned_python(runtime, release, log)
        for precision in precisions:
            art = export(checkpoint, name, precision, out, log)
            manifest = json.loads((art / "manifest.json").read_text())
            row = {"artifact": art.name, "min_runtime": manifest.get("min_runtime")}
            if manifest.get("min_runtime") != need:
                row["error"] = f"manifest min_runtime {manifest.get('min_runtime')} is not {need}"
            got = {}
            for who, py in (("current", Path(sys.executable)), ("pinned", pinned)):
                res = probe(py, art, tokens, vectors["n_sup"], out / f"{art.name}.{who}.npz")
                row[who] = res["runtime"]
                if res["error"]:
                    row.setdefault("error", f"{who} runtime {res['runtime']}: {res['error']}")
                else:
                    got[who] = dict(np.load(out / f"{art.name}.{who}.npz"))
            if len(got) == 2:
                row["max_abs_diff"], why = compare(got["pinned"], got["current"], vectors["tolerance"])
                if why:
                    row.setdefault("error", f"pinned vs current: {why}")
            row["ok"] = "error" not in row
            log(f"app-runtimes: {art.name:24s} {row['pinned'] or '?':22s} vs {row['current'] or '?':22s} "
                + ("ok " + " ".join(f"{k}={v:.2g}" for k, v in row["max_abs_diff"].items()) if row["ok"]
                   else "FAIL " + row["error"]))
            rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--targets", default="executorch,tflite")
    ap.add_argument("--precisions", default="fp32,int8,int4")
    ap.add_argument("--checkpoint", default="sudoku6", help="a bundled checkpoint with golden vectors")
    ap.add_argument("--out", type=Path, help="where the artifacts go (default: a temporary folder)")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    a = ap.parse_args(argv)
    t0 = time.monotonic()
    try:
        names = [t for t in a.targets.split(",") if t]
        precisions = [p for p in a.precisions.split(",") if p]
        for t in names:
            targets.get(t)
            for p in precisions:
                if why := targets.supported(t, p):
                    raise TRMEdgeError(why)
        with tempfile.TemporaryDirectory(prefix="trm-app-runtimes-") as tmp:
            out = a.out or Path(tmp)
            out.mkdir(parents=True, exist_ok=True)
            rows = check(names, precisions, a.checkpoint, out)
    except (TRMEdgeError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if a.json:
        a.json.write_text(json.dumps(rows, indent=2) + "\n")
    bad = [r for r in rows if not r["ok"]]
    print(f"app-runtimes: {len(rows) - len(bad)}/{len(rows)} artifacts run alike on the app's pinned runtimes "
          f"in {time.monotonic() - t0:.0f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
