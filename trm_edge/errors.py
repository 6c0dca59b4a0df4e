"""User-facing errors: the CLI prints each as one line and exits non-zero (no traceback)."""
from __future__ import annotations

import contextlib
import importlib
import warnings


class TRMEdgeError(Exception):
    """Base class for errors caused by input, environment or artifacts, not by a bug."""


class MissingExtraError(TRMEdgeError):
    pass


class ArtifactError(TRMEdgeError):
    """A missing, partial or tampered artifact / checkpoint."""


class DeviceError(TRMEdgeError):
    """A benchmark device that is missing, unauthorized or unsupported on this host."""


def require(module: str, extra: str):
    """Import a heavy backend lazily; name the extra to install if it is missing."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtraError(
            f"{module} is not installed ({e.name or e}); install it with: pip install 'trm-edge[{extra}]'"
        ) from None


def missing(extra: str, *modules: str) -> str | None:
    """Why `extra` cannot be used here (the first of `modules` that does not import), or None."""
    for m in modules:
        try:
            require(m, extra)
        except MissingExtraError as e:
            return str(e)
    return None


def extra_for(module: str) -> str | None:
    """The extra that installs top-level `module`, read from this package's installed metadata (the
    one list: pyproject.toml's optional-dependencies); None if no extra names it."""
    import re
    from importlib import metadata

    try:
        reqs = metadata.requires("trm-edge") or []
    except metadata.PackageNotFoundError:
        return None
    for req in reqs:   # by hand: `packaging` (Requirement/markers) is not a dependency of the base install
        name = re.match(r"[A-Za-z0-9._-]+", req).group(0).lower()
        extra = re.search(r"extra\s*==\s*[\"']([^\"']+)", req)
        # distribution name -> import name: the normalized name, except PyYAML's `yaml`
        if extra and extra.group(1) not in ("all", "test") and {"pyyaml": "yaml"}.get(name, name.replace("-", "_")) == module:
            return extra.group(1)
    return None


@contextlib.contextmanager
def held_warnings(drop_on: tuple[type[BaseException], ...]):
    """Hold the Python warnings raised inside (a library's UserWarning, ...) and show them when the
    block ends, unless it ends in one of `drop_on` (a clean error): then its one line is all the
    user sees. The CLI wraps every command in it."""
    with warnings.catch_warnings(record=True) as caught:
        try:
            yield
        except drop_on:
            caught.clear()
            raise
        finally:
            held = list(caught)
    for w in held:   # after the block: the filters and showwarning are the caller's again
        warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)
