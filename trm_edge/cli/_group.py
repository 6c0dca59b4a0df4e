"""The `trm-edge` click group and what several verbs share: option types (every number has a range)
and option decorators. The verbs (one module per family) import it; trm_edge.cli imports them.
"""
from __future__ import annotations

import click

from ..schema import MAX_N_SUP, MAX_PUZZLES

opt = click.option


@click.group(context_settings={"help_option_names": ["-h", "--help"], "show_default": True})
@click.version_option(package_name="trm-edge")
def cli():
    """Tiny Recursive Models: train, export, benchmark, embed."""


# ---- option types (every number has a range: the file formats' ranges, trm_edge.schema) --------
class Finite(click.FloatRange):
    """A float option in a range that also refuses nan and inf (click's FloatRange lets nan through)."""

    def convert(self, value, param, ctx):
        import math

        rv = super().convert(value, param, ctx)
        if not math.isfinite(rv):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        return rv


class LoHi(click.ParamType):
    """LO-HI, two integers 0..999 with LO <= HI (e.g. --givens 30-36) -> (lo, hi)."""
    name = "LO-HI"

    def convert(self, value, param, ctx):
        import re

        m = re.fullmatch(r"([0-9]{1,3})-([0-9]{1,3})", str(value))
        if not m or int(m[1]) > int(m[2]):
            self.fail(f"expected LO-HI, e.g. 30-36, got {value!r}", param, ctx)
        return int(m[1]), int(m[2])


class CommaList(click.ParamType):
    """a,b,c -> a tuple of `item` values (a click type: a Choice, an IntRange), at least one."""
    name = "LIST"

    def __init__(self, item):
        self.item = item

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        got = tuple(self.item.convert(v.strip(), param, ctx) for v in str(value).split(",") if v.strip())
        return got or self.fail(f"expected a comma-separated list, got {value!r}", param, ctx)


PUZZLES, SEED = click.IntRange(1, MAX_PUZZLES), click.IntRange(0, 2**32 - 1)
THREADS, BATCH = click.IntRange(1, 1024), click.IntRange(1, 65536)
DIR, FILE = click.Path(file_okay=False), click.Path(dir_okay=False)
ARTIFACT_DIRS = click.argument("artifacts", nargs=-1, type=click.Path(exists=True, file_okay=False))


# ---- options several verbs share -------------------------------------------------------------
def checkpoint_opt(help="Checkpoint dir or bundled name (default: bundled)."):
    return opt("--checkpoint", help=help)


def json_opt(help="Write the result JSON here."):
    return opt("--json", "json_out", type=FILE, help=help)


def max_steps_opt(help="Supervision steps (default: n_sup)."):
    return opt("--max-steps", type=click.IntRange(1, MAX_N_SUP), help=help)


def threshold_opt(help="q_halt threshold (default: the model's)."):
    return opt("--threshold", type=Finite(-1e6, 1e6), help=help)


def _kv_overrides(items, param_hint: str = "--model") -> dict:
    """('d_model=32', 'hidden_multiple=1') -> {'d_model': 32, 'hidden_multiple': 1} (JSON values)."""
    import json

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint=param_hint)
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value
    return out


def flags(table: dict, defaults):
    """Options from {field: (type, help)} rows, top to bottom: --field-name, the default from `defaults` (a
    dataclass instance: the one place); type bool: --x/--no-x."""
    def deco(f):
        for name, (kind, help_) in reversed(table.items()):
            flag = "--" + name.replace("_", "-")
            decl, kw = ((f"{flag}/--no-{flag[2:]}",), {}) if kind is bool else ((flag,), {"type": kind})
            value = getattr(defaults, name)
            value = ",".join(map(str, value)) if isinstance(value, list) else value
            f = opt(*decl, name, default=value, help=help_, **kw)(f)
        return f
    return deco
