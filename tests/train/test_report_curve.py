"""`trm-edge report curve`: learning-curve PNG from a run directory's own files."""
import json

import pytest

from trm_edge.errors import TRMEdgeError
from trm_edge.train.curve import plot_curve, read_run


def _run(tmp_path, evals=True):
    run = tmp_path / "run"
    (run / "evals").mkdir(parents=True)
    (run / "train_log.jsonl").write_text("".join(
        json.dumps({"step": s, "loss": 2.0 / s, "acc": 1 - 1 / s, "exact": 0.0}) + "\n" for s in (50, 100, 150)))
    if evals:
        for s, e in ((1000, [0.1, 0.4]), (500, [0.0, 0.2])):   # written out of order on purpose
            (run / "evals" / f"step-{s}.json").write_text(json.dumps({"n": 300, "exact": e, "givens": [30, 36]}))
    return run


def test_reads_log_and_evals_in_step_order(tmp_path):
    lines, evals = read_run(_run(tmp_path))
    assert [d["step"] for d in lines] == [50, 100, 150]
    assert [e["step"] for e in evals] == [500, 1000] and evals[1]["exact"] == [0.1, 0.4]


@pytest.mark.parametrize("evals", [True, False])
def test_writes_a_png(tmp_path, evals):
    pytest.importorskip("matplotlib", reason="the [bench] extra draws the plot")
    out = plot_curve(_run(tmp_path, evals), tmp_path / "curve.png", title="t")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_not_a_run_directory_is_one_error(tmp_path):
    with pytest.raises(TRMEdgeError, match="no train_log.jsonl"):
        read_run(tmp_path)
