"""Put exported artifacts into the demo apps: `trm-edge export --for-app android|ios|web`.

Each app bundles a folder `trm/` in its assets / resources, inside the app's project folder
(`--app-dir`; in the trm-edge checkout it defaults to the demo app there: android_demo/, ios_demo/,
trm_edge/web_demo/):

    trm/index.json          {"format": "trm-edge-app-assets/1", "default": NAME, "artifacts": [...]}
    trm/<artifact-name>/    the artifact exactly as exported (manifest.json + model files)
    trm/puzzles.json        sample puzzles for the picker, in the bench's puzzles.json format
                            {"task": ..., "inputs": [[tokens]...], "labels": [[tokens]...]}

The apps read everything else (shapes, names, token encoding) from each manifest.json. Only looped
artifacts of the app's runtimes are accepted: Android runs ExecuTorch (.pte) and LiteRT (.tflite),
iOS runs Core ML (multifunction .mlpackage, iOS 18), the web page ONNX (onnxruntime-web) and
LiteRT (LiteRT.js). The copy is atomic (temporary folder + rename)
and every artifact's sha256 is verified first, so an app never ships a partial or tampered model.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from .. import package_data
from ..errors import TRMEdgeError
from ..safe_io import atomic_write_dir, inside, safe_name

APPS = {
    # app -> (runtimes it embeds, the demo project in the checkout, assets folder inside a project)
    "android": (("executorch", "tflite"), "android_demo", "app/src/main/assets/trm"),
    "ios": (("coreml",), "ios_demo", "TRMDemo/Resources/trm"),
    "web": (("onnx", "tflite"), "trm_edge/web_demo", "assets/trm"),  # onnxruntime-web, LiteRT.js (trm_edge/apps/web.py)
}
INDEX_FORMAT = "trm-edge-app-assets/1"


def targets_for(app: str) -> tuple[str, ...]:
    if app not in APPS:
        raise TRMEdgeError(f"unknown app {app!r}; choose from {', '.join(APPS)}")
    return APPS[app][0]


def app_artifacts(app: str, arts) -> list[Path]:
    """The artifacts of an export that an app installs: its targets' looped ones."""
    return [a.path for a in arts if a.manifest["target"] in targets_for(app) and a.manifest["mode"] == "looped"]


def app_dir(app: str, given: str | Path | None = None) -> Path:
    """The app's project folder: `given`, else the demo app of the checkout we run in, else an error."""
    targets_for(app)
    if given is not None:
        return Path(given)
    root = package_data.checkout()
    if root is None:
        raise TRMEdgeError(f"give --app-dir: the {app} app project to install into (outside the trm-edge "
                           f"checkout there is no default; there it is {APPS[app][1]}/)")
    return root / APPS[app][1]


def assets_dir(app: str, project: str | Path | None = None) -> Path:
    """Where the app reads `trm/`: inside its project folder (see `app_dir`)."""
    return app_dir(app, project) / APPS[app][2]


def sample_puzzles(task_name: str, n: int = 12, seed: int = 7) -> dict:
    """Puzzles for the app's picker (and a default set for its benchmark mode)."""
    from ..tasks import get_task

    task = get_task(task_name)
    inputs, labels = task.generate(n, seed=seed)
    return {"task": task_name, "seed": seed, "inputs": inputs.tolist(), "labels": labels.tolist()}


def install(artifact_dirs: list[str | Path], app: str, project: str | Path | None = None,
            n_puzzles: int = 12, force: bool = False) -> Path:
    """Verify and copy looped artifacts into the app's `trm/` folder; returns that folder. A `trm/`
    folder that no install wrote is refused unless force (its other files are kept)."""
    from .. import artifact

    allowed = targets_for(app)
    out = assets_dir(app, project)
    if not artifact_dirs:
        raise TRMEdgeError(f"no artifacts to install for {app}")
    manifests = []
    for d in map(Path, artifact_dirs):
        m = artifact.read(d).manifest
        if m["target"] not in allowed:
            raise TRMEdgeError(f"{m['name']}: the {app} app runs {' or '.join(allowed)} artifacts, not {m['target']}")
        if m["mode"] != "looped":
            raise TRMEdgeError(f"{m['name']}: the apps run looped artifacts (init + step), not {m['mode']}")
        manifests.append((d, m))
    names = [m["name"] for _, m in manifests]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:   # before anything is created
        raise TRMEdgeError(f"artifact {', '.join(twice)} given more than once (one artifact per name in an app)")
    tasks = {m["task"]["name"] for _, m in manifests}
    if len(tasks) != 1:
        raise TRMEdgeError(f"artifacts for one app must share a task, got {sorted(tasks)}")
    # fp32 first: the default the app opens with is the reference-accurate one
    manifests.sort(key=lambda dm: (dm[1]["precision"] != "fp32", allowed.index(dm[1]["target"])))
    index = {
        "format": INDEX_FORMAT,
        "default": manifests[0][1]["name"],
        "artifacts": [{"name": m["name"], "target": m["target"], "precision": m["precision"],
                       "mode": m["mode"], "batch": m.get("batch", 1)} for _, m in manifests],
    }
    puzzles = sample_puzzles(tasks.pop(), n_puzzles)

    def write(tmp: Path):
        for d, m in manifests:   # the manifest's name is a plain name (artifact.validate_manifest)
            name = safe_name(m["name"], f"{d}/manifest.json name")
            shutil.copytree(d, inside(tmp, name, f"{d}/manifest.json name"))
        (tmp / "index.json").write_text(json.dumps(index, indent=2) + "\n")
        (tmp / "puzzles.json").write_text(json.dumps(puzzles) + "\n")

    atomic_write_dir(out, write, owned=_owned, force=force, kind="trm-edge app assets folder (index.json)")
    return out


def _owned(d: Path) -> set[str] | None:
    """What a previous install wrote in d (index.json names it), or None when d holds no index."""
    from ..schema import SchemaError, read_json

    try:
        index = read_json(d / "index.json", "app index")
        names = [a["name"] for a in index["artifacts"] if isinstance(a["name"], str)]
    except (SchemaError, KeyError, TypeError):
        return None
    return {"index.json", "puzzles.json", *names}
