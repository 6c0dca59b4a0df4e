"""Shared fixtures."""
import shutil

import pytest


@pytest.fixture(scope="session")
def _trained_tiny(tmp_path_factory):
    """A sudoku4-tiny checkpoint after 10 training steps (schema and CLI tests; not accuracy)."""
    from trm_edge.train import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny4") / "run"
    cfg = TrainConfig.from_dict(dict(preset="sudoku4-tiny", n_train=256, steps=10, batch_size=16, warmup=5,
                                     ema=0.9, halt=False, checkpoint_every=0, log_every=0, val_n=0))
    train(cfg, out, device="cpu", progress=False)
    return out / "model"


@pytest.fixture(scope="module")
def tiny_ckpt(_trained_tiny, tmp_path_factory):
    """A private copy per test module (calibration writes into the checkpoint's config.json)."""
    return shutil.copytree(_trained_tiny, tmp_path_factory.mktemp("ckpt") / "model")


def run_main(args: list[str]) -> tuple[int, str, str]:
    """`trm-edge ARGS` in this process through cli.main (its one-line error handling included):
    -> (exit code, stdout, stderr)."""
    from click.testing import CliRunner

    from trm_edge.cli import main

    with CliRunner().isolation() as (out, err, _):
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        return code, out.getvalue().decode(errors="replace"), err.getvalue().decode(errors="replace")


def summary_fixture(line):
    """A module fixture (autouse) that writes `line(seconds the module took)` to pytest's terminal when
    the module's tests end: the fuzz modules' case counts and run times (pytest -s shows it)."""
    import time

    @pytest.fixture(scope="module", autouse=True)
    def _summary(request):
        t0 = time.monotonic()
        yield
        tr = request.config.pluginmanager.get_plugin("terminalreporter")
        if tr is not None:
            for text in line(time.monotonic() - t0):
                tr.write_line(text)
    return _summary


def fuzz(n: int):
    """hypothesis settings of the fuzz tests: n examples, derandomized (CI runs the same cases), no
    deadline or example database (bounded by n, not by time)."""
    from hypothesis import HealthCheck, settings

    return settings(max_examples=n, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                           HealthCheck.filter_too_much])
