"""Where trm-edge reads its own data and writes its caches, the same from a wheel or a checkout.

Everything a command needs ships inside the package and is read with importlib.resources: the
bundled checkpoints with their ready-made artifacts (`checkpoints/<name>/`), their golden vectors
(`golden_vectors/<name>.json`), export recipes (`recipes/`), device profiles (`bench/devices.toml`) and the web page (`web_demo/`).
Nothing is read relative to the current directory or to a repository checkout. Two things depend on
where the tool runs:

- `checkout()`: the repository root when the package is imported from a trm-edge checkout AND the
  current directory is inside it; commands that write into a demo app default to its folders there
  and otherwise need `--app-dir`;
- `cache_dir()`: $TRM_EDGE_CACHE, else $XDG_CACHE_HOME/trm-edge, else ~/.cache/trm-edge (the web
  page's npm runtimes are installed there on first use).
"""
from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from .errors import TRMEdgeError


def path(*parts: str) -> Path:
    """A file or folder shipped in the trm_edge package, as a filesystem path."""
    p = resources.files("trm_edge").joinpath(*parts)
    if not isinstance(p, Path):   # a zipped install (zipimport): the tool serves and replays files by path
        raise TRMEdgeError("trm_edge is installed as a zip; install the wheel normally (pip install trm-edge)")
    return p


GOLDEN_VECTORS = "golden_vectors"   # trm_edge/golden_vectors/<checkpoint>.json (`trm-edge vectors`)


def golden_vectors() -> list[Path]:
    """The golden-vector files of the bundled models."""
    return sorted(path(GOLDEN_VECTORS).glob("*.json"))


def checkout() -> Path | None:
    """The repository root when running inside the trm-edge checkout this package was imported from."""
    root = Path(__file__).resolve().parents[1]
    if not ((root / ".git").exists() and (root / "pyproject.toml").is_file()):
        return None
    try:
        Path.cwd().resolve().relative_to(root)
    except (ValueError, OSError):
        return None
    return root


def cache_dir() -> Path:
    """The user cache of trm-edge (created on demand by its users)."""
    if os.environ.get("TRM_EDGE_CACHE"):
        return Path(os.environ["TRM_EDGE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "trm-edge"
