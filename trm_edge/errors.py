"""User-facing errors: the CLI prints each as one line and exits non-zero (no traceback)."""
from __future__ import annotations

import importlib


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
