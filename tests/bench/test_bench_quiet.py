"""The idle-machine check of `trm-edge bench` (trm_edge.bench.quiet): the verdict over injected
readings and clocks, the `quiet` block's schema, and the real reader on this machine."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from trm_edge.bench import quiet, report
from trm_edge.bench.quiet import IdleLimits
from trm_edge.errors import ArtifactError, DeviceError

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "bench" / "android_app_result.fixture.json"
LIM = IdleLimits(load_per_cpu=0.3, others_cpu_pct=10.0, window_s=2.0)


def reading(load1=0.1, cpus=2, others=(("sshd", 1.0),)):
    procs = [{"pid": 100 + i, "name": n, "cpu_pct": p} for i, (n, p) in enumerate(others)]
    return quiet.summarize([load1, 0.5, 0.7], cpus, 2.0, sorted(procs, key=lambda p: -p["cpu_pct"]),
                           {"busy_pct": 3.0, "iowait_pct": 0.0, "steal_pct": 0.5}, "performance", "test")


# ---- pure: figures -------------------------------------------------------------------------------
def test_cpu_pct_by_process_counts_deltas_new_processes_and_drops_ended_ones():
    before = {(1, 10.0): ("a", 5.0), (2, 11.0): ("b", 1.0), (3, 12.0): ("gone", 9.0)}
    after = {(1, 10.0): ("a", 5.5), (2, 11.0): ("b", 1.0), (4, 20.0): ("new", 0.2),
             (2, 30.0): ("reused-pid", 0.1)}   # same pid, new process: counted from zero
    got = quiet.cpu_pct_by_process(before, after, seconds=2.0)
    assert [(p["name"], p["cpu_pct"]) for p in got] == [("a", 25.0), ("new", 10.0), ("reused-pid", 5.0), ("b", 0.0)]


def test_system_cpu_is_percent_of_all_cpus_and_ignores_guest():
    t0 = {"user": 100.0, "system": 50.0, "idle": 800.0, "iowait": 10.0, "steal": 0.0, "guest": 5.0}
    t1 = {"user": 104.0, "system": 51.0, "idle": 812.0, "iowait": 11.0, "steal": 2.0, "guest": 9.0}
    assert quiet.system_cpu(t0, t1) == {"busy_pct": 35.0, "iowait_pct": 5.0, "steal_pct": 10.0}
    assert quiet.system_cpu(t0, t0) is None   # no time passed: no figure, not 0


def test_summary_keeps_busiest_few_and_load_per_cpu():
    r = reading(load1=1.0, cpus=4, others=[(f"p{i}", 10.0 - i) for i in range(8)] + [("tiny", 0.1)])
    assert r["load_per_cpu"] == 0.25 and r["others_cpu_pct"] == pytest.approx(sum(10.0 - i for i in range(8)) + 0.1)
    assert [p["name"] for p in r["top"]] == ["p0", "p1", "p2", "p3", "p4"]
    assert quiet.summarize(None, 2, 2.0, None, None, None, "x")["load_per_cpu"] is None


# ---- pure: verdict ---------------------------------------------------------------------------------
def test_busy_reasons():
    assert quiet.busy_reasons(reading(), LIM) == []
    (why,) = quiet.busy_reasons(reading(load1=2.4), LIM)
    assert "2.40 on 2 CPUs is 1.20 per CPU (limit 0.3)" in why
    (why,) = quiet.busy_reasons(reading(others=[("python3", 85.0), ("chrome", 7.0)]), LIM)
    assert "92% of one core over 2 s (limit 10%" in why and "python3 pid 100 85%" in why
    assert len(quiet.busy_reasons(reading(load1=5, others=[("x", 50.0)]), LIM)) == 2
    # a figure that could not be read is not a reason; limits are inclusive
    assert quiet.busy_reasons({**reading(load1=9), "load_per_cpu": None}, LIM) == []
    assert quiet.busy_reasons(reading(load1=0.6, others=[("x", 10.0)]), LIM) == []


class FakeClock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t

    def sleep(self, s):
        assert s > 0
        self.t += s


def test_wait_until_idle_then_go():
    clock, seq = FakeClock(), iter([reading(load1=3), reading(load1=1), reading(load1=0.2)])

    def read():
        clock.t += 2.0   # a reading takes its window
        return next(seq)

    logs = []
    r, reasons, waited = quiet.wait_for_idle(read, LIM, 600, clock=clock, sleep=clock.sleep, log=logs.append)
    assert reasons == [] and r["load_avg"][0] == 0.2 and waited == 2 + 5 + 2 + 5 + 2
    assert len(logs) == 1 and "waited 16 s for an idle machine" in logs[0]   # one line, once the wait is over


def test_wait_refuses_after_the_limit_with_one_line():
    clock = FakeClock()

    def read():
        clock.t += 2.0
        return reading(load1=3, others=[("stress", 150.0)])

    logs = []
    with pytest.raises(DeviceError) as e:
        quiet.wait_for_idle(read, LIM, 20, clock=clock, sleep=clock.sleep, log=logs.append)
    msg = str(e.value)
    assert "\n" not in msg and "not idle after 22 s (--require-idle 20)" in msg and "stress" in msg
    assert clock.t == 22   # sleeps up to the limit, then one last reading (one window)
    assert logs == []   # the error is the one line: no "waiting" line before it (issue 32)


def test_zero_checks_once_and_none_only_records():
    calls = []

    def read():
        calls.append(1)
        return reading(load1=3)

    with pytest.raises(DeviceError, match="after 0 s"):
        quiet.wait_for_idle(read, LIM, 0, clock=FakeClock(), sleep=lambda s: pytest.fail("slept"))
    r, reasons, waited = quiet.wait_for_idle(read, LIM, None, clock=FakeClock(), sleep=lambda s: pytest.fail("slept"))
    assert len(calls) == 2 and reasons and waited == 0


def test_notes_say_when_busy():
    q = {"idle_at_start": False, "busy_reasons": ["load high"], "limits": {"others_cpu_pct": 10.0},
         "idle_during_run": False, "during_run": {"others_cpu_pct": 42.0}}
    n = quiet.notes(q)
    assert "NOT idle" in n[0] and "load high" in n[0] and "42% of one core" in n[1]
    assert quiet.notes({**q, "idle_at_start": True, "idle_during_run": True}) == []


# ---- schema + markdown ----------------------------------------------------------------------------
def quiet_block(**kw):
    return {"required_wait_s": 600, "limits": vars(LIM).copy(), "start": reading(), "idle_at_start": True,
            "busy_reasons": [], "waited_s": 12.0, "during_run": {**reading(others=[]), "window_s": 95.0},
            "idle_during_run": True, **kw}


def test_result_with_quiet_block_validates_and_shows_in_markdown(tmp_path):
    data = json.loads(FIX.read_text())
    assert "quiet" not in data   # files from before the check still read
    report.validate(data)
    data["quiet"] = quiet_block()
    md = report.to_markdown(report.validate(data))
    assert "- quiet at start (required, waited 12 of 600 s; limits 0.3 load per CPU, 10% of one core" in md
    assert "idle; load average 0.10/0.50/0.70 on 2 CPUs; other processes 1.0% of one core over 2 s" in md
    assert "governor performance" in md and "- during the run (95 s): quiet;" in md
    busy = quiet_block(idle_at_start=False, busy_reasons=["1-min load average 3.00"], required_wait_s=None)
    md = report.to_markdown({**data, "quiet": busy})
    assert "recorded only" in md and "**NOT idle** (1-min load average 3.00)" in md


@pytest.mark.parametrize("path, value, msg", [
    (("start", "load_avg"), [1.0, -2.0, 0.0], "load_avg\\[1\\]"),
    (("start", "cpu_count"), 0, "cpu_count"),
    (("start", "top"), [{"pid": 1, "name": "x"}], "'cpu_pct' is missing"),
    (("limits", "others_cpu_pct"), float("nan"), "others_cpu_pct"),
    (("idle_at_start",), "yes", "idle_at_start"),
    (("during_run", "system_cpu"), {"busy_pct": 140.0}, "busy_pct"),
])
def test_bad_quiet_block_is_one_error_naming_the_field(path, value, msg):
    data = json.loads(FIX.read_text())
    q = quiet_block()
    *outer, last = path
    target = q
    for k in outer:
        target = target[k]
    target[last] = value
    with pytest.raises(ArtifactError, match=msg):
        report.validate({**data, "quiet": q})


# ---- the real reader on this machine --------------------------------------------------------------
def _burn(detach: bool) -> int:
    """A CPU-burning python; detach=True re-parents it (not our descendant), via a shell that exits."""
    code = "import time\nt=time.time()+30\nwhile time.time()<t: pass"
    if not detach:
        return subprocess.Popen([sys.executable, "-c", code]).pid
    out = subprocess.run(["sh", "-c", f'"{sys.executable}" -c "{code}" >/dev/null 2>&1 & echo $!'],
                         capture_output=True, text=True, check=True).stdout
    return int(out.strip())


@pytest.mark.skipif(sys.platform != "linux", reason="detaching a busy process via sh is written for Linux")
def test_real_reader_sees_other_processes_not_its_own():
    pytest.importorskip("psutil")
    other, own = _burn(detach=True), _burn(detach=False)
    try:
        time.sleep(0.2)
        w = quiet.Watch()   # what read_machine does, keeping every process's figure (not only the top 5)
        time.sleep(1.0)
        r = w.end()
    finally:
        for pid in (other, own):
            os.kill(pid, signal.SIGKILL)
    assert r["cpu_count"] == os.cpu_count() and len(r["load_avg"]) == 3 and r["source"].startswith("psutil")
    assert 0.9 <= r["window_s"] < 30 and 0 <= r["system_cpu"]["busy_pct"] <= 100
    seen = {p["pid"]: p["cpu_pct"] for p in w.procs}
    assert seen.get(other, 0) > 5, r["top"]     # another process burning CPU is seen (even on a busy 2-core box)
    assert own not in seen                       # the bench's own children are not "other" load
    assert r["others_cpu_pct"] >= seen[other] - 0.1   # the total is rounded to 0.1 %
    report.validate({**json.loads(FIX.read_text()), "quiet": quiet_block(start=r)})


def test_summary_block_is_replaced_and_hand_text_kept(tmp_path):
    res = tmp_path / "results"
    res.mkdir()
    data = json.loads(FIX.read_text())
    (res / "phone-2026-12-01.json").write_text(json.dumps({**data, "quiet": quiet_block(idle_during_run=False)}))
    (res / "quant-x.json").write_text("{}")
    out = tmp_path / "SUMMARY.md"
    out.write_text("# Hand-written\n\nkept\n")
    report.update_summary(res, out)
    first = out.read_text()
    assert first.startswith("# Hand-written\n\nkept\n") and first.count(report.SUMMARY_BEGIN) == 1
    assert "(`phone-2026-12-01.json`)" in first and f"- command: `{data['command']}`" in first
    assert "idle at start, **NOT quiet during the run** (limits: load 0.3 per CPU, others 10% of one core)" in first and "`quant-x.json`" in first
    assert "| executorch-fp32-looped |" in first
    out.write_text(first + "\nafter\n")
    (res / "old-2026-11-01.json").write_text(FIX.read_text())   # no quiet block: says so
    report.update_summary(res, out)
    second = out.read_text()
    assert second.count(report.SUMMARY_BEGIN) == 1 and second.endswith("\nafter\n")
    assert "(`old-2026-11-01.json`)" in second and "**quiet not checked**" in second
    with pytest.raises(ArtifactError, match="no result JSON"):
        (tmp_path / "empty").mkdir()
        report.update_summary(tmp_path / "empty", out)


def test_summary_refuses_what_it_cannot_read_and_leaves_the_file(tmp_path):
    """`report bench-summary`: `"settings": null`, markers out of order, a file that is no bench
    result: one error (ArtifactError), the markdown file unchanged (issue 32)."""
    from conftest import run_main

    data = json.loads(FIX.read_text())
    out = tmp_path / "SUMMARY.md"
    out.write_text("mine\n")
    (tmp_path / "null.json").write_text(json.dumps({**data, "settings": None}))
    (tmp_path / "quant.json").write_text(json.dumps({"rows": []}))
    (tmp_path / "good.json").write_text(json.dumps(data))
    for f, msg in (("null.json", "field 'settings' must be"), ("quant.json", "unsupported schema None")):
        code, _, err = run_main(["report", "bench-summary", str(tmp_path / f), "--out", str(out)])
        assert code == 2 and err.count("\n") == 1 and msg in err, err
    swapped = f"head\n{report.SUMMARY_END}\nx\n{report.SUMMARY_BEGIN}\ntail\n"
    out.write_text(swapped)
    code, _, err = run_main(["report", "bench-summary", str(tmp_path / "good.json"), "--out", str(out)])
    assert code == 2 and "markers are out of order" in err and err.count("\n") == 1, err
    assert out.read_text() == swapped
    folder = tmp_path / "none"
    folder.mkdir()
    (folder / "quant.json").write_text("{}")
    with pytest.raises(ArtifactError, match="none of the 1 JSON files"):
        report.update_summary(folder, out)
    (folder / "bad.json").write_text(json.dumps({**data, "runtimes": None}))   # says it is one: must be valid
    with pytest.raises(ArtifactError, match="field 'runtimes' must be a list"):
        report.update_summary(folder, out)
