"""trm-edge bench / devices: host measurement end to end on a tiny model, reports and plots, the
adb protocol (command construction + parsing fixtures labelled as such), device errors.

Tests check structure and correctness, never wall-clock values.
"""
from __future__ import annotations

import importlib.util
import json
import os
import shlex
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from trm_edge.bench import android, ios, report
from trm_edge.bench.devices import load_profiles, reachability
from trm_edge.bench.host import BenchSettings, RuntimeSpec, bench_host, measure_runtime, run_isolated
from trm_edge.bench.roofline import count_step_flops, flops_per_step, measure_peak_gflops
from trm_edge.bench.run import clip_depths
from trm_edge.checkpoint import save_model
from trm_edge.cli import main
from trm_edge.errors import ArtifactError, DeviceError
from trm_edge.model import TRMConfig, build_model
from trm_edge.runtime import EagerSession
from trm_edge.tasks import get_task

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "bench"


@pytest.fixture(scope="module")
def tiny_ckpt(tmp_path_factory):
    torch.manual_seed(0)
    return save_model(build_model(TRMConfig.preset("sudoku4-tiny")), tmp_path_factory.mktemp("ckpt") / "tiny")


@pytest.fixture(scope="module")
def onnx_artifact(tiny_ckpt, tmp_path_factory):
    """A real looped ONNX artifact of the tiny model, if the export + runtime work exists."""
    pytest.importorskip("onnxruntime")
    from trm_edge import runtime
    if not hasattr(runtime, "load"):
        return None
    from trm_edge.checkpoint import load_model
    from trm_edge.export import Recipe, export

    model, _ = load_model(tiny_ckpt)
    return export(model, Recipe(target="onnx", mode="looped"), tmp_path_factory.mktemp("art")).path


# ---- roofline ---------------------------------------------------------------------------------
@pytest.mark.parametrize("preset", ["sudoku4-tiny", "sudoku6-small"])
@pytest.mark.parametrize("batch", [1, 3])
def test_flops_from_config_match_flop_counter(preset, batch):
    model = build_model(TRMConfig.preset(preset)).eval()
    assert flops_per_step(model.cfg, batch) == count_step_flops(model, batch)


def test_flops_attention_match_counter_plus_sdpa():
    """FlopCounterMode does not count CPU scaled_dot_product_attention; we add Q K^T and A V."""
    cfg = TRMConfig.preset("maze-tiny")
    model = build_model(cfg).eval()
    sdpa = cfg.T * (cfg.n_latent + 1) * cfg.n_layers * 2 * 2 * cfg.total_len ** 2 * cfg.d_model
    assert flops_per_step(cfg) == count_step_flops(model) + sdpa


def test_paper_sudoku_mlp_is_about_0_6_gmac_per_call():
    cfg = TRMConfig.preset("sudoku-mlp")  # spec: ~0.6 GMAC per net call, 21 calls per step
    per_call = (flops_per_step(cfg) / 2) / (cfg.T * (cfg.n_latent + 1))
    assert 0.55e9 < per_call < 0.65e9


def test_peak_is_positive_and_described():
    p = measure_peak_gflops(threads=1, n=128, repeats=2)
    assert p.gflops > 0 and "128x128" in p.method
    # both GEMM libraries are timed when onnxruntime is installed; the best one names the peak
    if importlib.util.find_spec("onnxruntime") is not None:
        assert "torch.matmul" in p.method and "onnxruntime MatMul" in p.method and "also" in p.method


def test_int8_peak_times_the_integer_gemm():
    """The int8 roofline times int8 x int8 -> int32 GEMMs (onnxruntime MatMulInteger, torch._int_mm),
    and the result's int8 rows get % of it beside % of the fp32 peak."""
    p = measure_peak_gflops(threads=1, n=256, repeats=2, dtype="int8")
    assert p.gflops > 0 and "int8 256x256" in p.method and "MatMulInteger" in p.method
    with pytest.raises(ValueError, match="fp32 or int8"):
        measure_peak_gflops(n=8, dtype="int4")
    res = {"settings": {"batch": 2}, "roofline": {"flops_per_step": 1e9, "peak_gflops": 100.0, "int8_peak_gops": 400.0},
           "runtimes": [{"name": n, "target": "onnx", "precision": prec, "mode": "looped",
                         "depths": [{"depth": 1, "step_ms": {"median": 10.0}}]}
                        for n, prec in (("a", "fp32"), ("b", "int8"))]}
    fp32, int8 = (rt["depths"][0] for rt in report.add_derived(res)["runtimes"])
    assert fp32["roofline_pct"] == int8["roofline_pct"] == pytest.approx(200.0)   # 2e9 FLOP / 10 ms / 100 GFLOP/s
    assert "int8_roofline_pct" not in fp32 and int8["int8_roofline_pct"] == pytest.approx(50.0)


# ---- depths ------------------------------------------------------------------------------------
def test_depths_clipped_with_note():
    depths, notes = clip_depths([1, 2, 4, 8, 16], 8)
    assert depths == [1, 2, 4, 8] and "16" in notes[0] and "clipped" in notes[0]
    assert clip_depths([2, 1], 8) == ([1, 2], [])


# ---- host, end to end ---------------------------------------------------------------------------
def _check_entry(rt, depths, halt=True):
    assert rt["error"] is None, rt["error"]
    for k in ("load_ms", "first_call_ms", "peak_rss_mb", "baseline_rss_mb", "size_bytes"):
        assert isinstance(rt[k], (int, float)) and rt[k] > 0, k
    assert [d["depth"] for d in rt["depths"]] == depths
    for d in rt["depths"]:
        for k in ("step_ms", "solve_ms"):
            s = d[k]
            assert 0 < s["min"] <= s["median"] <= s["p90"], (k, s)
        assert d["step_ms"]["n"] == d["solve_ms"]["n"] * d["depth"]
        assert 0 <= d["exact_acc"] <= 1 and 0 <= d["cell_acc"] <= 1
        assert d["speedup_vs_eager"] > 0 and d["roofline_pct"] > 0
    if halt:
        h = rt["halting"]
        assert 1 <= h["mean_steps"] <= h["max_steps"] == max(depths)
        assert h["ms_per_puzzle"] > 0 and h["speedup_vs_full_depth"] > 0
        assert h["acc_loss_pt"] == pytest.approx(100 * (h["full_depth_exact_acc"] - h["exact_acc"]))


def test_cli_bench_host_end_to_end(tiny_ckpt, onnx_artifact, tmp_path, capsys):
    args = ([str(onnx_artifact)] if onnx_artifact else []) + [
        "bench", "--checkpoint", str(tiny_ckpt), "--device", "host", "--depths", "1,2,4,16", "--runs", "2",
        "--warmup", "1", "--n-puzzles", "3", "--in-process", "--threads", "1", "--idle-window", "0.2",
        "--require-idle", "0", "--idle-load", "1000", "--idle-cpu", "1e6",   # checked once, limits any machine meets
        "--json", str(tmp_path / "r.json"), "--plot", str(tmp_path / "r.png"), "--markdown", str(tmp_path / "r.md")]
    if onnx_artifact:  # artifacts come after the verb
        args = args[1:2] + args[:1] + args[2:]
    main(args)
    res = report.load_result(tmp_path / "r.json")
    q = res["quiet"]   # recorded on every host run
    assert q["required_wait_s"] == 0 and q["start"]["cpu_count"] == os.cpu_count() and q["limits"]["window_s"] == 0.2
    assert q["idle_at_start"] and "--require-idle 0" in res["command"]   # 0 is a value: it is in the command
    assert q["during_run"]["window_s"] > q["start"]["window_s"] and res["device"]["load_avg"] == q["start"]["load_avg"]
    assert res["settings"]["depths"] == [1, 2, 4] and res["settings"]["requested_depths"] == [1, 2, 4, 16]
    assert any("clipped" in n for n in res["notes"])
    assert res["roofline"]["flops_per_step"] == flops_per_step(TRMConfig.preset("sudoku4-tiny"))
    assert res["roofline"]["peak_gflops"] > 0 and res["fixture"] is False
    assert res["roofline"]["int8_peak_gops"] > 0 and "int8" in res["roofline"]["int8_peak_method"]
    assert "trm-edge bench" in res["command"] and "--runs 2" in res["command"]
    names = [r["name"] for r in res["runtimes"]]
    assert names[0] == "eager-fp32" and (not onnx_artifact or "onnx-fp32-looped" in names)
    for rt in res["runtimes"]:
        _check_entry(rt, [1, 2, 4])
    eager = res["runtimes"][0]
    assert all(d["speedup_vs_eager"] == pytest.approx(1.0) for d in eager["depths"])
    if onnx_artifact:  # same puzzles, same model: the artifact scores exactly like eager
        onnx = res["runtimes"][1]
        assert [d["exact_acc"] for d in onnx["depths"]] == [d["exact_acc"] for d in eager["depths"]]
        assert [d["cell_acc"] for d in onnx["depths"]] == [d["cell_acc"] for d in eager["depths"]]
    png = (tmp_path / "r.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000
    md = (tmp_path / "r.md").read_text()
    assert "| eager-fp32 | 4 |" in md and "Goals" in md and "FIXTURE" not in md
    assert "- quiet at start (required, waited " in md and "- during the run (" in md
    assert "eager-fp32" in capsys.readouterr().out


def test_cli_bench_require_idle_refuses_a_busy_machine(tiny_ckpt, onnx_artifact, tmp_path, capsys, monkeypatch):
    """--require-idle 0 on a busy reading: one error line, exit 2, nothing written (reading injected;
    the real reader is tested in test_bench_quiet.py)."""
    from trm_edge.bench import quiet

    busy = quiet.summarize([3.0, 2.0, 1.0], 2, 0.1, [{"pid": 7, "name": "stress", "cpu_pct": 180.0}], None, None, "test")
    monkeypatch.setattr(quiet, "read_machine", lambda window_s: busy)
    art = [str(onnx_artifact)] if onnx_artifact else []
    with pytest.raises(SystemExit) as e:
        main(["bench", *art, "--checkpoint", str(tiny_ckpt), "--depths", "1", "--runs", "1", "--n-puzzles", "2",
              "--in-process", "--require-idle", "0", "--json", str(tmp_path / "r.json")])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and err[-1].startswith("error: machine not idle after 0 s (--require-idle 0): 1-min load")
    assert "stress pid 7 180%" in err[-1] and not list(tmp_path.iterdir())
    assert len(err) == 1, err   # checked before any export or model load prints a line (issue 32)


def test_bench_outputs_it_derives_are_never_overwritten(tmp_path, monkeypatch):
    """bench --json B/res.json: an existing B/res.md / B/res.png (not named) is refused before the
    work, in one line naming it, unless --force; so is an existing default results file."""
    from trm_edge.safe_io import OutputError

    (tmp_path / "res.json").write_text("old")   # named: overwriting it is what the user asked for
    assert report.output_paths("host", tmp_path / "res.json") == (tmp_path / "res.json", tmp_path / "res.md",
                                                                 tmp_path / "res.png")
    for name in ("res.md", "res.png"):
        (tmp_path / name).write_text("the user's own")
        with pytest.raises(OutputError, match=f"{name} exists and was not named on the command line: pass --force"):
            report.output_paths("host", tmp_path / "res.json")
        assert report.output_paths("host", tmp_path / "res.json", force=True)[0] == tmp_path / "res.json"
        assert report.output_paths("host", tmp_path / "res.json", md_out=tmp_path / "res.md",
                                   plot_out=tmp_path / "res.png")   # named: fine
        (tmp_path / name).unlink()
    monkeypatch.chdir(tmp_path)
    (tmp_path / "benchmarks" / "results").mkdir(parents=True)
    (tmp_path / "benchmarks" / "results" / "host-2026-12-06.json").write_text("{}")
    with pytest.raises(OutputError, match="host-2026-12-06.json exists"):
        report.output_paths("host", date="2026-12-06")


def test_quant_report_options_are_checked_and_its_command_is_quoted():
    from trm_edge.bench.quant import QuantReportConfig, command_of
    from trm_edge.errors import TRMEdgeError
    from trm_edge.export.quantize import check_options

    with pytest.raises(TRMEdgeError, match="unknown quantization option 'bogus'"):
        check_options({"bogus": 1}, "--option")
    with pytest.raises(TRMEdgeError, match=r"option ops must be one of linear, all, got '\$\(id\)'"):
        check_options({"ops": "$(id)"}, "--option")
    with pytest.raises(TRMEdgeError, match="option n_calib must be an integer"):
        check_options({"n_calib": 4.5}, "--option")
    assert check_options({"ops": "all", "keep_float": ["head"], "weight_only": False}) is not None
    cmd = command_of("my ckpt", "out dir", QuantReportConfig(options={"ops": "$(id)", "keep_float": ["a b"]}))
    words = shlex.split(cmd)
    assert "$(id)" not in cmd.replace("'ops=$(id)'", "")   # only ever inside quotes
    assert words[:3] == ["trm-edge", "report", "quant"] and "ops=$(id)" in words and 'keep_float=["a b"]' in words
    assert words[words.index("--checkpoint") + 1] == "my ckpt" and words[-1] == "out dir"


@pytest.mark.parametrize("opt, value", [("--idle-load", "-1"), ("--idle-cpu", "nan"), ("--idle-window", "0"),
                                        ("--require-idle", "86401")])
def test_cli_bench_idle_options_have_ranges(opt, value, capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", opt, value])
    err = capsys.readouterr().err.strip().splitlines()
    assert e.value.code == 2 and len(err) == 1 and err[0].startswith("error:") and opt in err[0]


def test_accuracy_matches_the_model_own_solve(tiny_ckpt):
    """The bench's accuracy pass scores exactly what TinyRecursiveModel.solve predicts."""
    from trm_edge.checkpoint import load_model
    from trm_edge.data import load_split

    task = get_task("sudoku4")
    inputs, labels = load_split(task, "test", 5)
    spec = RuntimeSpec("eager-fp32", "eager", "fp32", "looped", str(tiny_ckpt))
    rt = measure_runtime(spec, BenchSettings(depths=[1, 3], runs=1, warmup=0, n_puzzles=5), inputs, labels, task)
    model, _ = load_model(tiny_ckpt)
    res = EagerSession(model).solve(inputs, max_steps=3, halt=False)
    for d in rt["depths"]:
        p = res.preds[d["depth"] - 1]
        assert d["exact_acc"] == task.verify(inputs, p).mean()
        assert d["cell_acc"] == pytest.approx((p == labels).mean())


def test_isolated_worker_reports_subprocess_rss(tiny_ckpt):
    task = get_task("sudoku4")
    inputs, labels = task.generate(2, seed=1)
    spec = RuntimeSpec("eager-fp32", "eager", "fp32", "looped", str(tiny_ckpt))
    import resource
    import tempfile
    ballast = np.ones(768 * 2**20 // 8)  # make this (parent) process far bigger than the worker
    with tempfile.TemporaryDirectory() as tmp:
        f = str(Path(tmp) / "p.npz")
        np.savez(f, inputs=inputs, labels=labels)
        rt = run_isolated(spec, BenchSettings(depths=[1], runs=1, warmup=0, n_puzzles=2, halt=False, threads=1),
                          f, "sudoku4")
    assert rt["error"] is None and rt["rss_scope"] == "subprocess"
    assert rt["peak_rss_mb"] >= rt["baseline_rss_mb"] > 0 and rt["halting"] is None
    # the worker's own peak, not one inherited from its parent (Linux ru_maxrss survives fork+exec)
    parent_peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**10
    assert parent_peak_mb > 768 and rt["peak_rss_mb"] < parent_peak_mb - 300, (rt["peak_rss_mb"], parent_peak_mb)
    del ballast


def test_broken_artifact_is_reported_not_faked(tiny_ckpt, tmp_path):
    task = get_task("sudoku4")
    inputs, labels = task.generate(2, seed=2)
    bad = tmp_path / "onnx-fp32-looped"
    bad.mkdir()
    (bad / "manifest.json").write_text("{}")
    entries, _ = bench_host([RuntimeSpec("onnx-fp32-looped", "onnx", "fp32", "looped", str(bad))],
                            BenchSettings(depths=[1], runs=1, warmup=0, threads=1), inputs, labels, "sudoku4",
                            isolate=False, progress=False)
    assert entries[0]["error"] and entries[0]["depths"] == []


# ---- devices -----------------------------------------------------------------------------------
def test_device_profiles_have_the_issue_devices():
    profiles = load_profiles()
    for name in ("host", "pixel8", "galaxy-s24", "iphone15pro", "macbook-m2", "raspberry-pi5"):
        assert name in profiles and profiles[name].targets
    assert profiles["pixel8"].reach == "adb" and profiles["iphone15pro"].reach == "devicectl"
    assert reachability(profiles["host"])[0] is True


def test_cli_devices_lists_profiles(capsys):
    main(["devices", "--no-check"])
    out = capsys.readouterr().out
    assert "pixel8" in out and "iphone15pro" in out and "host" in out


def test_unknown_device_is_one_line_error(capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "--device", "nokia3310"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: unknown device 'nokia3310'") and err.count("\n") == 1


def test_no_adb_binary_is_one_line_error(capsys, monkeypatch):
    monkeypatch.setattr(android.shutil, "which", lambda name: None)
    with pytest.raises(SystemExit) as e:
        main(["bench", "--device", "pixel8"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: device pixel8: adb not found") and "apt-get install adb" in err


@pytest.mark.system_tools   # Debian's adb (.ci/run installs it)
def test_real_adb_without_phone_says_which_and_how(capsys):
    """On this machine no phone is attached: the real adb must yield the clear one-liner."""
    if shutil.which("adb") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install adb first (.ci/run: apt-get install adb)")
        pytest.skip("adb not installed (apt-get install adb)")
    if android.parse_devices(__import__("subprocess").run(["adb", "devices"], capture_output=True,
                                                          text=True).stdout):
        pytest.skip("a device is attached here")
    with pytest.raises(SystemExit) as e:
        main(["bench", "--device", "pixel8"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert "no Android device attached" in err and "USB debugging" in err and err.count("\n") == 1


def test_ios_off_macos_is_clear_error(capsys):
    if ios.sys.platform == "darwin":
        pytest.skip("macOS: devicectl path is real here")
    with pytest.raises(SystemExit) as e:
        main(["bench", "--device", "iphone15pro"])
    assert e.value.code == 2
    assert "needs macOS" in capsys.readouterr().err


# ---- adb protocol (fixtures: invented numbers in the documented formats) --------------------------
@pytest.mark.parametrize("fixture,msg", [("adb_devices_none", "no Android device attached"),
                                         ("adb_devices_unauthorized", "unauthorized"),
                                         ("adb_devices_two", "several adb devices")])
def test_pick_serial_errors(fixture, msg, monkeypatch):
    monkeypatch.delenv("ANDROID_SERIAL", raising=False)
    devs = android.parse_devices((FIX / f"{fixture}.fixture.txt").read_text())
    with pytest.raises(DeviceError, match=msg):
        android.pick_serial("", devs)


def test_pick_serial_choice(monkeypatch):
    devs = android.parse_devices((FIX / "adb_devices_two.fixture.txt").read_text())
    assert devs == [("1A2B3C4D", "device"), ("emulator-5554", "device")]
    assert android.pick_serial("emulator-5554", devs) == "emulator-5554"
    monkeypatch.setenv("ANDROID_SERIAL", "1A2B3C4D")
    assert android.pick_serial("", devs) == "1A2B3C4D"
    with pytest.raises(DeviceError, match="not attached"):
        android.pick_serial("XYZ", devs)


def test_adb_commands():
    a = android.AppBenchArgs("/data/local/tmp/trm-edge/executorch-fp32-looped", [1, 2, 8], runs=20, warmup=3,
                             threads=4, batch=1, n_puzzles=100, halt=True)
    cmd = android.launch_cmd("adb", "SER", a)
    assert cmd[:4] == ["adb", "-s", "SER", "shell"] and len(cmd) == 5   # one line for the device's shell
    cmd = cmd[:4] + shlex.split(cmd[4])
    assert cmd[:10] == ["adb", "-s", "SER", "shell", "am", "start", "-W", "-S", "-n",
                        "dev.trmedge.demo/.BenchmarkActivity"]
    pairs = {cmd[i + 1]: (cmd[i], cmd[i + 2]) for i in range(10, len(cmd), 3)}
    assert pairs == {"artifact_dir": ("--es", a.artifact_dir), "puzzles": ("--es", "/data/local/tmp/trm-edge/puzzles.json"),
                     "depths": ("--es", "1,2,8"), "runs": ("--ei", "20"), "warmup": ("--ei", "3"),
                     "threads": ("--ei", "4"), "batch": ("--ei", "1"), "n_puzzles": ("--ei", "100"),
                     "halt": ("--ez", "true"), "out": ("--es", "bench_result.json")}
    push = android.push_cmds("adb", "SER", "/x/art/tflite-int8-looped", "/tmp/p.json")
    assert ["adb", "-s", "SER", "push", "/x/art/tflite-int8-looped", "/data/local/tmp/trm-edge/tflite-int8-looped"] in push
    assert push[-1][-1] == "/data/local/tmp/trm-edge/puzzles.json"
    r = android.runner_cmd("adb", "SER", "/opt/benchmark_model", "/data/local/tmp/trm-edge/a", "model.tflite", 4, 50, 5)
    r = r[:4] + shlex.split(r[4])
    assert r[4] == "/data/local/tmp/trm-edge/bin/benchmark_model"
    assert "--signature_to_run_for=step" in r and "--graph=/data/local/tmp/trm-edge/a/model.tflite" in r
    assert android.RESULT_DIR + "/" + android.RESULT_NAME == \
        "/sdcard/Android/data/dev.trmedge.demo/files/bench_result.json"


def test_adb_shell_words_are_quoted_and_names_are_plain():
    """A folder or file name never reaches the phone's shell as syntax, nor leaves REMOTE_ROOT."""
    from trm_edge.safe_io import PathEscapeError

    for bad in ("/x/a b", "/x/..", "/x/a;reboot", "/x/$(reboot)"):
        with pytest.raises(PathEscapeError):
            android.push_cmds("adb", "SER", bad, "/tmp/p.json")
    with pytest.raises(PathEscapeError):
        android.runner_cmd("adb", "SER", "/opt/benchmark_model", "/r/a", "m.tflite;rm -rf /sdcard", 4, 50, 5)
    a = android.AppBenchArgs("/data/local/tmp/trm-edge/a b;reboot", [1], runs=1, warmup=0, threads=0, batch=1,
                             n_puzzles=1, halt=False, out="x$(id)")
    words = shlex.split(android.launch_cmd("adb", "SER", a)[4])
    assert "/data/local/tmp/trm-edge/a b;reboot" in words and "x$(id)" in words   # each one word, literal
    rm = android.push_cmds("adb", "SER", "/x/art/onnx-fp32-looped", "/tmp/p.json")[1]
    assert shlex.split(rm[4]) == ["rm", "-rf", "/data/local/tmp/trm-edge/onnx-fp32-looped"]


def test_app_result_fixture_parses_and_reports_as_fixture(tmp_path):
    res = report.load_result(FIX / "android_app_result.fixture.json")
    assert res["fixture"] is True  # a fixture, never a measurement
    md = report.to_markdown(report.add_derived(res))
    assert md.startswith("> **FIXTURE — not a measurement.**")
    assert "| executorch-fp32-looped | 2 |" in md
    assert report.plot(res, tmp_path / "f.png").stat().st_size > 0


def test_schema_validation_names_the_problem(tmp_path):
    data = json.loads((FIX / "android_app_result.fixture.json").read_text())
    del data["runtimes"][0]["depths"][1]["cell_acc"]
    (tmp_path / "bad.json").write_text(json.dumps(data))
    with pytest.raises(ArtifactError, match=r"runtimes\[0\] depths\[1\]: field 'cell_acc' is missing"):
        report.load_result(tmp_path / "bad.json")
    (tmp_path / "v2.json").write_text(json.dumps({**data, "schema": "other/2"}))
    with pytest.raises(ArtifactError, match="schema"):
        report.load_result(tmp_path / "v2.json")


def test_runner_output_parsing():
    t = android.parse_runner_output((FIX / "benchmark_model_output.fixture.txt").read_text())
    assert t == {"init_ms": 12.5, "first_ms": 2.1, "avg_ms": 1.0, "peak_mb": 9.5}
    t = android.parse_runner_output("I 00:00:01.000 executor_runner.cpp:200] Model executed successfully 10 time(s) in 25.0 ms.")
    assert t["avg_ms"] == 2.5
    with pytest.raises(DeviceError, match="timings"):
        android.parse_runner_output("Segmentation fault")


def test_pareto_front():
    pts = [(1.0, 0.5, "a"), (2.0, 0.4, "b"), (3.0, 0.9, "c"), (0.5, 0.1, "d")]
    assert [p[2] for p in report.pareto_front(pts)] == ["d", "a", "c"]


def test_ios_commands():
    cmd = ios.launch_cmd("xcrun", "UDID", "coreml-fp32-looped", [1, 2], 5, 1, 0, 1, 10, False)
    assert cmd[:8] == ["xcrun", "devicectl", "device", "process", "launch", "--device", "UDID", "--terminate-existing"]
    assert "dev.trmedge.demo" in cmd and cmd[cmd.index("--depths") + 1] == "1,2" and cmd[cmd.index("--halt") + 1] == "0"
    assert ios.copy_cmd("xcrun", "UDID", "/tmp/r.json")[-3:] == ["Documents/bench_result.json", "--destination", "/tmp/r.json"]
