"""The export cache: looped artifacts of a checkpoint, exported once into
$TRM_EDGE_CACHE/bench/<weights hash>-b<batch>/ (what `trm-edge bench` and `trm-edge demo` run)."""
from __future__ import annotations

import sys
import time
from pathlib import Path

from ..errors import TRMEdgeError


def cached_exports(model, ckpt_dir: Path, targets: list[str], precisions, batch: int,
                   notes: list[str], progress: bool = True, web: bool = False) -> list[Path]:
    """The artifact folders of a looped export of every available target x precision, exported once
    into the cache; web: also the web-shaped fp32 ONNX graph (trm_edge.export.web), beside the plain
    one. What is not available or fails goes to `notes` (the other exports still come back)."""
    from ..checkpoint import weights_sha256
    from ..data import cache_dir
    from . import Recipe, export, target_module
    from .common import artifact_name

    root = cache_dir() / "bench" / f"{weights_sha256(model)[:12]}-b{batch}"
    paths = []
    for target in targets:
        try:
            mod = target_module(target)
            why = mod.available()
        except ImportError as e:  # target module not in this build
            mod, why = None, f"trm_edge.export.{target} missing: {e}"
        if why:
            notes.append(f"{target}: not available here ({why})")
            continue
        graphs = ("plain", "web") if web and target == "onnx" else ("plain",)
        for recipe in [Recipe(target=target, mode="looped", precision=p, batch=batch, graph=g)
                       for p in precisions for g in graphs if g == "plain" or p == "fp32"]:
            name = artifact_name(recipe)
            out = root / name
            try:
                if not (out / "manifest.json").exists():
                    if progress:
                        print(f"exporting {name} from {ckpt_dir} ...", file=sys.stderr, flush=True)
                    t0 = time.perf_counter()
                    export(model, recipe, root)
                    if progress:
                        print(f"  {name}: {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
                paths.append(out)
            except TRMEdgeError as e:
                notes.append(f"{name}: skipped ({e})")
            except Exception as e:  # an exporter crash must not lose the other runtimes' numbers
                notes.append(f"{name}: export failed ({type(e).__name__}: {str(e).splitlines()[0][:200]})")
    return paths
