"""A target is one module and one registration (trm_edge/targets.py): everything that lists or
dispatches targets derives from the registry and agrees with it."""
from __future__ import annotations

import importlib
import re

import click
import pytest

from trm_edge import artifact, targets
from trm_edge.targets import PRECISIONS, REGISTRY, TARGETS


def test_manifest_enum_and_runtime_sessions_come_from_the_registry():
    from trm_edge.runtime.backends import SESSIONS

    assert artifact.TARGETS == TARGETS == tuple(t.name for t in REGISTRY) and artifact.PRECISIONS == PRECISIONS
    assert list(SESSIONS) == list(TARGETS)
    for t in REGISTRY:
        mod, _, cls = t.session.partition(":")
        assert SESSIONS[t.name] is getattr(importlib.import_module(mod), cls)


def test_exporter_modules_carry_their_hooks():
    from trm_edge.export import Recipe, target_module

    assert Recipe().target == targets.DEFAULT
    for t in REGISTRY:
        mod = target_module(t.name)
        assert mod.__name__ == t.module
        assert all(callable(getattr(mod, f)) for f in ("available", "export", "quantize")), t.name
        assert set(t.precisions) <= set(PRECISIONS) and "fp32" in t.precisions and t.suffix.startswith(".")


@pytest.mark.parametrize("target", TARGETS)
def test_precision_check_and_int8_defaults_follow_the_registration(target):
    from trm_edge.export import Recipe, UnsupportedError
    from trm_edge.export.quantize import INT8_DEFAULTS

    reg = targets.get(target)
    assert INT8_DEFAULTS.get(target, {}) == reg.int8
    for p in PRECISIONS:
        why = targets.supported(target, p)
        assert (why is None) == (p in reg.precisions), (target, p, why)
        if why is None:
            Recipe(target=target, precision=p).check()
        else:
            with pytest.raises(UnsupportedError, match=re.escape(why)):
                Recipe(target=target, precision=p).check()
    assert targets.supported(target, "int2").startswith("unknown precision")
    assert targets.supported(target, "int4") is None   # 4-bit weights on every target (issue 33)


def test_cli_choices_and_defaults_come_from_the_registry():
    from trm_edge.cli import cli

    def option(command, name):
        cmd = cli.get_command(click.Context(cli), command) if isinstance(command, str) else command
        return next(p for p in cmd.params if p.name == name)

    demo = option("demo", "export_target")
    assert demo.default == targets.DEFAULT and list(demo.type.choices) == [*targets.portable(), "none"]
    assert "coreml" not in targets.portable() and not targets.runs_here("coreml", "linux")
    assert all(t in option("export", "target").help for t in TARGETS)
    report = cli.get_command(click.Context(cli), "report")
    quant_targets = option(report.get_command(click.Context(report), "quant"), "targets")
    assert quant_targets.default == ",".join(TARGETS) and list(quant_targets.type.item.choices) == list(TARGETS)
