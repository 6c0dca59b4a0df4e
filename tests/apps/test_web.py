"""The web page (trm_edge/web_demo/) in a real browser: headless Debian Chromium driven by Selenium (trm_edge/bench/chromium.py).

The bundled model is exported (looped ONNX, fp32) inside the test run and served with the page;
onnxruntime-web must reproduce the golden vectors (trm_edge/golden_vectors/*.json: predictions and halting
steps identical, logits within the vectors' tolerance), refuse a tampered artifact, validate typed
puzzles with the CLI's messages, solve a puzzle step by step on screen (a screenshot is saved) and
measure in benchmark mode with the native runtime's accuracy. Needs chromium, chromium-driver
(apt), the page's npm runtimes in the user cache (`npm ci`, trm_edge.apps.web.install_runtimes) and the `[web]` extra: `.ci/web.sh` installs them. Without them the
tests skip with the reason, except under CI, where a missing piece is a failure.
"""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from trm_edge import package_data
from trm_edge.validate import vectors as V
from trm_edge.errors import TRMEdgeError

VECTORS = package_data.golden_vectors()
SCREENSHOT_DIR = os.environ.get("TRM_EDGE_SCREENSHOTS")  # also keep the screenshot here when set


def _need_browser():
    from trm_edge.bench import chromium
    from trm_edge.apps.web import check_page

    try:
        import selenium  # noqa: F401

        chromium.find_browser()
        check_page()
    except (ImportError, TRMEdgeError) as e:
        if os.environ.get("CI"):
            raise AssertionError(f"CI must run the browser tests (.ci/web.sh installs them): {e}") from None
        pytest.skip(f"no headless browser here: {e}")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """The bundled 6x6 checkpoint (golden vectors sudoku6), exported looped ONNX fp32 at batch 1."""
    _need_browser()
    from trm_edge import export
    from trm_edge.checkpoint import BUNDLED_DIR, load_model

    v = V.load("sudoku6")
    model, _ = load_model(BUNDLED_DIR / v["checkpoint"])
    root = tmp_path_factory.mktemp("web")
    # the page runs init + step with its own host loop; loop.onnx (the in-graph loop) is not needed
    art = export.export(model, export.Recipe(target="onnx", mode="looped", batch=1, in_graph_loop=False), root / "art")
    tampered = shutil.copytree(art.path, root / "tampered")
    step = tampered / art.manifest["entry_points"]["step"]["file"]
    data = bytearray(step.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped inside the weights
    step.write_bytes(bytes(data))
    return {"art": Path(art.path), "tampered": tampered, "vectors": v}


@pytest.fixture(scope="module")
def page(exported):
    from trm_edge.bench.chromium import Browser
    from trm_edge.apps.web import serving

    with serving(mounts={"art": exported["art"], "tampered": exported["tampered"]}) as url, Browser(url, 300) as b:
        b.call("await window.trm.useArtifact('/art/', {backend: 'wasm'}); return true")
        yield b


@pytest.mark.system_tools   # chromium + chromedriver + the page's npm runtimes (.ci/web.sh)
@pytest.mark.parametrize("vec_path", VECTORS, ids=[p.stem for p in VECTORS])
def test_onnxruntime_web_reproduces_golden_vectors(page, exported, vec_path):
    v = V.load(vec_path)
    if v["checkpoint"] != exported["vectors"]["checkpoint"]:
        pytest.skip(f"{vec_path.name} is for checkpoint {v['checkpoint']}; the page runs {exported['vectors']['checkpoint']}")
    got = page.call("return await window.trm.runVectors(args[0])", v)
    assert got["info"]["runtime"].startswith("onnxruntime-web") and got["info"]["backend"] == "wasm"
    by_name = {c["name"]: c for c in got["cases"]}
    S, (L, Vv) = v["max_steps"], (v["seq_len"], v["vocab_size"])

    # the project's tolerance check (trm_edge.validate.vectors.check) over the browser's logits and q_halt
    def init(tokens):
        return 0

    def step(s):
        logits = np.asarray([by_name[c["name"]]["logits"][s] for c in v["cases"]], np.float32).reshape(-1, L, Vv)
        q = np.asarray([by_name[c["name"]]["q_halt"][s] for c in v["cases"]], np.float32)
        return s + 1, logits, q

    assert V.check(v, init, step) == []
    for c in v["cases"]:
        g = by_name[c["name"]]
        assert len(g["preds"]) == S
        for s, rec in enumerate(c["steps"]):  # the page's own decoding (argmax on the host, in JS)
            logits = np.asarray(rec["logits"])
            top2 = np.sort(logits, -1)[:, -2:]
            firm = (top2[:, 1] - top2[:, 0]) >= v["tolerance"]["logit_atol"]
            assert np.array_equal(np.asarray(g["preds"][s])[firm], np.asarray(rec["preds"])[firm]), (c["name"], s + 1)
        assert g["halted_at"] == c["halted_at"], c["name"]
        # the halting run stops at the last sample's halting step and keeps the halting answer
        assert g["halting_run"]["halted_at"] == c["halted_at"] == g["halting_run"]["steps_run"]
        assert g["halting_run"]["final"] == c["final_preds"], c["name"]


@pytest.mark.system_tools   # chromium + chromedriver + the page's npm runtimes (.ci/web.sh)
@pytest.mark.slow  # the TFLite export takes ~50 s on 2 cores
def test_litert_js_reproduces_golden_vectors(exported, tmp_path):
    """LiteRT.js runs the .tflite's `init` / `step` signatures: same contract as onnxruntime-web."""
    from trm_edge import export
    from trm_edge.bench.chromium import Browser
    from trm_edge.checkpoint import BUNDLED_DIR, load_model
    from trm_edge.apps.web import serving

    v = exported["vectors"]
    why = export.target_module("tflite").available()
    if why:
        pytest.skip(why)
    model, _ = load_model(BUNDLED_DIR / v["checkpoint"])
    art = export.export(model, export.Recipe(target="tflite", mode="looped", batch=1), tmp_path)
    with serving(mounts={"art": art.path}) as url, Browser(url, 300) as b:
        got = b.call("await window.trm.useArtifact('/art/', {backend: 'wasm'}); return await window.trm.runVectors(args[0])", v)
    assert got["info"]["runtime"].startswith("LiteRT.js")
    _vector_check(v, got)


def _vector_check(v, got):
    """The golden vectors' tolerance check over the browser's logits / q_halt, and its halting steps."""
    by_name = {c["name"]: c for c in got["cases"]}
    L, Vv = v["seq_len"], v["vocab_size"]

    def step(s):
        logits = np.asarray([by_name[c["name"]]["logits"][s] for c in v["cases"]], np.float32).reshape(-1, L, Vv)
        return s + 1, logits, np.asarray([by_name[c["name"]]["q_halt"][s] for c in v["cases"]], np.float32)

    assert V.check(v, lambda tokens: 0, step) == []
    assert [by_name[c["name"]]["halted_at"] for c in v["cases"]] == [c["halted_at"] for c in v["cases"]]


@pytest.fixture(scope="module")
def web_graph(exported, tmp_path_factory):
    """The same checkpoint exported with --graph web (trm_edge/export/web.py)."""
    from trm_edge import export
    from trm_edge.checkpoint import BUNDLED_DIR, load_model

    model, _ = load_model(BUNDLED_DIR / exported["vectors"]["checkpoint"])
    art = export.export(model, export.Recipe(target="onnx", graph="web"), tmp_path_factory.mktemp("web-graph"))
    assert art.manifest["graph"] == "web"
    return Path(art.path)


@pytest.mark.system_tools   # chromium + chromedriver + the page's npm runtimes (.ci/web.sh)
@pytest.mark.slow  # a second ONNX export (~10 s) and a browser
def test_onnxruntime_web_runs_the_web_graph(exported, web_graph):
    """The web-shaped graph (onnxruntime contrib ops, folded weights) reproduces the golden vectors
    in onnxruntime-web's wasm backend."""
    from trm_edge.bench.chromium import Browser
    from trm_edge.apps.web import serving

    v = exported["vectors"]
    with serving(mounts={"art": web_graph}) as url, Browser(url, 300) as b:
        got = b.call("await window.trm.useArtifact('/art/', {backend: 'wasm'}); return await window.trm.runVectors(args[0])", v)
    assert got["info"]["runtime"].startswith("onnxruntime-web") and got["info"]["backend"] == "wasm"
    _vector_check(v, got)


@pytest.mark.system_tools   # chromium + chromedriver + the page's npm runtimes (.ci/web.sh)
@pytest.mark.slow  # SwiftShader runs WebGPU on the CPU: ~1 s per supervision step, ~2 min in all
def test_webgpu_on_a_software_adapter_reproduces_golden_vectors(exported, web_graph):
    """Headless Chromium with the chromium-webgpu profile's flags gets a SwiftShader WebGPU adapter;
    onnxruntime-web's webgpu EP then gives the golden vectors' answers within their tolerance."""
    from trm_edge.bench.chromium import Browser
    from trm_edge.apps.web import serving

    v = exported["vectors"]
    with serving(mounts={"art": web_graph}) as url, Browser(url, 900, webgpu="swiftshader") as b:
        assert b.call("return !!(await navigator.gpu?.requestAdapter())") is True
        got = b.call("await window.trm.useArtifact('/art/', {backend: 'webgpu'}); return await window.trm.runVectors(args[0])", v)
    assert got["info"]["backend"] == "webgpu"
    _vector_check(v, got)


@pytest.mark.system_tools   # chromium + chromedriver + the page's npm runtimes (.ci/web.sh)
def test_tampered_artifact_is_refused(page):
    err = page.call("try { await window.trm.loadArtifact('/tampered/'); return null } catch (e) { return e.message }")
    assert err is not None and "tampered or corrupt" in err and "step.onnx" in err
    missing = page.call("try { await window.trm.loadArtifact('/nothing-here/'); return null } catch (e) { return e.message }")
    assert missing is not None and "manifest.json" in missing


@pytest.mark.system_tools   # chromium + chromedriver + the page's npm runtimes (.ci/web.sh)
def test_typed_puzzles_get_the_cli_messages(page, exported):
    from trm_edge.tasks import get_task
    from trm_edge.tasks.base import PuzzleError

    task = get_task(exported["vectors"]["task"])
    good = exported["vectors"]["cases"][0]["puzzle"]
    N = task.size
    clash = "11" + "." * (N * N - 2)                    # the same digit twice in the first row
    # givens that never clash directly yet leave no solution: row 0 needs N in its last cell, and
    # N already stands in that column a box band lower
    grid = ["."] * (N * N)
    grid[:N - 1] = [str(d) for d in range(1, N)]
    grid[task.box_rows * N + N - 1] = str(N)
    bad = {"short": good[:-1], "long": good + ".", "letters": "x" + good[1:], "big digit": str(N + 1) + good[1:],
           "clash": clash, "no solution": "".join(grid)}
    for name, text in bad.items():
        with pytest.raises(PuzzleError) as want:
            task.parse(text)
        got = page.call("try { window.trm.parse(args[0]); return null } catch (e) { return e.message }", text)
        assert got == str(want.value), name
    layout = task.render(np.asarray(exported["vectors"]["cases"][0]["tokens"]))  # the board drawing parses too
    assert page.call("return Array.from(window.trm.parse(args[0]))", layout) == task.parse(layout).tolist()


@pytest.mark.system_tools   # chromium + chromedriver + the page's npm runtimes (.ci/web.sh)
def test_solves_step_by_step_on_screen(page, exported, tmp_path):
    v = exported["vectors"]
    case = max(v["cases"], key=lambda c: c["halted_at"])  # the one that takes the most steps
    res = page.call("return await window.trm.solve(args[0])", case["puzzle"])
    assert res["halted_at"] == case["halted_at"] and res["steps"] == case["halted_at"]
    assert res["answer"] == case["final_text"] and res["solved"] == case["final_correct"]
    cards = page.driver.find_elements("css selector", "#steps figure.step")
    assert len(cards) == 1 + case["halted_at"]  # the puzzle, then one board per supervision step
    assert "-> halt" in cards[-1].text and "halting confidence" in cards[-1].text
    shot = page.screenshot(tmp_path / "web_demo_solved.png")
    assert shot.stat().st_size > 10_000
    if SCREENSHOT_DIR:
        shutil.copy(shot, Path(SCREENSHOT_DIR) / shot.name)


@pytest.mark.system_tools   # chromium + chromedriver + the page's npm runtimes (.ci/web.sh)
def test_benchmark_mode_matches_native_accuracy(page, exported):
    """The browser entry has the trm-edge-bench/1 fields and the native runtime's accuracy."""
    from trm_edge.bench.host import BenchSettings, RuntimeSpec, measure_runtime
    from trm_edge.bench.report import validate
    from trm_edge.tasks import get_task

    task = get_task(exported["vectors"]["task"])
    inputs, labels = task.generate(6, seed=11)
    settings = BenchSettings(depths=[1, 2], runs=2, warmup=1, n_puzzles=len(inputs))
    spec = RuntimeSpec("onnx-fp32-looped", "onnx", "fp32", "looped", str(exported["art"]))
    native = measure_runtime(spec, settings, inputs, labels, task)
    opts = {"artifact": "/art/", "depths": [1, 2], "runs": 2, "warmup": 1, "threads": 0, "backend": "wasm",
            "halt": True, "threshold": None, "puzzles": {"inputs": inputs.tolist(), "labels": labels.tolist()}}
    entry = page.call("return await window.trm.benchArtifact(args[0])", opts)
    validate({"schema": "trm-edge-bench/1", "created": "", "command": "", "device": {}, "model": {},
              "settings": {}, "runtimes": [entry]})
    assert entry["backend"] == "wasm" and entry["simd"] is True and entry["threads"] >= 1
    assert entry["runtime"].startswith("onnxruntime-web") and entry["browser"]
    for d, n in zip(entry["depths"], native["depths"]):
        assert d["step_ms"]["n"] == 2 * d["depth"] and d["step_ms"]["min"] > 0
        assert (d["exact_acc"], d["cell_acc"]) == (n["exact_acc"], n["cell_acc"])
    h, nh = entry["halting"], native["halting"]
    assert (h["mean_steps"], h["exact_acc"], h["threshold"]) == (nh["mean_steps"], nh["exact_acc"], nh["threshold"])
    assert json.dumps(entry)  # plain JSON all the way


# ---- without a browser: the server's headers, the missing-Chromium message ---------------------
@pytest.mark.system_tools   # the page's npm runtimes (npm ci, .ci/web.sh)
def test_server_sends_isolation_headers_and_wasm_type(tmp_path):
    import urllib.request

    from trm_edge.apps.web import check_page, runtimes_dir, serving

    try:
        check_page()
    except TRMEdgeError as e:
        if os.environ.get("CI"):
            raise
        pytest.skip(str(e))
    (tmp_path / "manifest.json").write_text("{}")
    wasm = next((runtimes_dir() / "node_modules/onnxruntime-web/dist").glob("*.wasm")).name
    with serving(mounts={"art": tmp_path}) as url:
        base = url.rsplit("/", 1)[0]
        with urllib.request.urlopen(url) as r:
            assert r.headers["Cross-Origin-Opener-Policy"] == "same-origin"
            assert r.headers["Cross-Origin-Embedder-Policy"] == "require-corp"
        with urllib.request.urlopen(f"{base}/node_modules/onnxruntime-web/dist/{wasm}") as r:
            assert r.headers["Content-Type"] == "application/wasm"
        with urllib.request.urlopen(f"{base}/art/manifest.json") as r:  # a mounted artifact folder
            assert r.read() == b"{}"
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(f"{base}/art/../../etc/passwd")


def test_missing_chromium_is_one_line_naming_the_packages(monkeypatch, capsys):
    from trm_edge.cli import main

    monkeypatch.setenv("TRM_EDGE_CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(SystemExit) as e:
        main(["bench", "--device", "chromium", "--depths", "1"])
    err = capsys.readouterr().err.strip()
    assert e.value.code == 2 and "\n" not in err
    assert err.startswith("error: device chromium: Chromium not found") and "chromium-driver" in err


def test_report_puts_the_browser_next_to_native():
    """The markdown's browser table divides each browser entry by its native twin (same artifact)."""
    from trm_edge.bench.chromium import browser_ratios
    from trm_edge.bench.report import to_markdown

    def entry(name, step, exact, **extra):
        st = {"median": step, "p90": step, "min": step / 2, "n": 4}
        return {"name": name, "target": "onnx", "precision": "fp32", "mode": "looped", "artifact": "/a/onnx",
                "load_ms": 1.0, "first_call_ms": 1.0, "peak_rss_mb": None, "size_bytes": 10, "error": None,
                "depths": [{"depth": 1, "step_ms": st, "solve_ms": st, "exact_acc": exact, "cell_acc": 1.0}],
                "halting": None, **extra}

    result = {"schema": "trm-edge-bench/1", "created": "now", "command": "trm-edge bench --device chromium",
              "device": {"name": "chromium", "browser": {"version": "chrome 1"}, "load_avg": [1.0, 1.0, 1.0]},
              "model": {"task": "sudoku6"}, "settings": {"batch": 1}, "notes": [],
              "runtimes": [entry("onnx-fp32-looped", 2.0, 0.9),
                           entry("onnx-fp32-looped-chromium-wasm", 5.0, 0.9, browser="chrome 1", backend="wasm",
                                 threads=2, simd=True)]}
    [row] = browser_ratios(result)
    assert (row["ratio_median"], row["ratio_min"], row["same_exact_acc"]) == (2.5, 2.5, True)
    md = to_markdown(result)
    assert "| onnx-fp32-looped-chromium-wasm | wasm / 2 / True | onnx-fp32-looped | 1 | 5 / 2 | 2.50x |" in md
    assert "**2.50x**" in md and "identical to native" in md


def test_runtimes_live_in_the_user_cache_and_missing_npm_is_one_line(tmp_path, monkeypatch, capsys):
    """The page's npm runtimes are not package data: they go to $TRM_EDGE_CACHE (one folder per
    package-lock.json); without npm, `trm-edge web` says in one line what to install."""
    from trm_edge.apps import web
    from trm_edge.cli import main

    monkeypatch.setenv("TRM_EDGE_CACHE", str(tmp_path / "cache"))
    assert web.runtimes_dir().parent == tmp_path / "cache" / "web-runtimes"
    assert (web.page_dir() / "index.html").is_file()
    with pytest.raises(TRMEdgeError, match="not installed in"):
        web.check_page()
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(SystemExit) as e:
        main(["web", "--port", "0"])
    err = capsys.readouterr().err
    assert e.value.code == 2 and err.count("\n") == 1 and "install Node.js 20 + npm" in err, err
    assert not (tmp_path / "cache" / "web-runtimes").exists() or not any((tmp_path / "cache" / "web-runtimes").iterdir())


def test_server_serves_only_the_pages_files(tmp_path, monkeypatch):
    """No listings, no dotfiles, nothing through a symlink out of the page (a stand-in page folder
    and a stand-in runtimes cache, mounted at node_modules/ as `trm-edge web` does)."""
    import urllib.error
    import urllib.request

    from trm_edge.apps import web
    from trm_edge.apps.web import serving

    page, runtimes = tmp_path / "page", tmp_path / "runtimes"
    for pkg in ("onnxruntime-web", "@litertjs/core"):
        (runtimes / "node_modules" / pkg).mkdir(parents=True)
        (runtimes / "node_modules" / pkg / "package.json").write_text("{}")
    page.mkdir()
    (page / "index.html").write_text("<html></html>")
    (runtimes / "node_modules" / ".package-lock.json").write_text("{}")
    (page / ".git").mkdir()
    (page / ".git" / "config").write_text("secret")
    (tmp_path / "outside.txt").write_text("secret")
    (page / "link.txt").symlink_to(tmp_path / "outside.txt")
    monkeypatch.setattr(web, "check_page", lambda: page)
    monkeypatch.setattr(web, "runtimes_dir", lambda: runtimes)
    with serving() as url:
        base = url.rsplit("/", 1)[0]
        with urllib.request.urlopen(url) as r:
            assert r.status == 200
        with urllib.request.urlopen(f"{base}/node_modules/onnxruntime-web/package.json") as r:
            assert r.read() == b"{}"
        for path in ("/node_modules/", "/node_modules/onnxruntime-web/", "/node_modules/.package-lock.json",
                     "/.git/config", "/%2Egit/config", "/link.txt", "/../outside.txt"):
            with pytest.raises(urllib.error.HTTPError) as e:
                urllib.request.urlopen(base + path)
            assert e.value.code == 404, path


def test_a_client_leaving_mid_file_prints_no_traceback(tmp_path, monkeypatch, capsys):
    """A browser that closes the connection during a large file (a reload while a .wasm streams) is
    not an error: the server prints nothing (it used to print a BrokenPipeError traceback)."""
    import socket
    import time

    from trm_edge.apps import web

    page = tmp_path / "page"
    page.mkdir()
    (page / "index.html").write_text("<html></html>")
    (page / "big.bin").write_bytes(b"\0" * (32 << 20))
    monkeypatch.setattr(web, "check_page", lambda: page)
    monkeypatch.setattr(web, "runtimes_dir", lambda: tmp_path / "runtimes")
    with web.serving() as url:
        host, port = url.split("/")[2].split(":")
        for _ in range(3):
            s = socket.create_connection((host, int(port)))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")   # close = reset
            s.sendall(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(1024)
            s.close()
        time.sleep(1.0)   # the handler threads hit the closed sockets
    assert "Traceback" not in capsys.readouterr().err


def test_bench_chromium_installs_missing_runtimes_itself(tmp_path, monkeypatch):
    """`bench --device chromium` on a fresh install: the device is reachable while npm can install
    the runtimes, and install_runtimes runs `npm ci` in a copy of the packaged lock (one progress
    line), then the page's check passes. npm here is a stand-in script that writes what `npm ci`
    writes (node_modules/<package>/package.json), so the test needs no registry."""
    import os
    import stat

    from trm_edge.apps import web
    from trm_edge.bench import chromium

    monkeypatch.setenv("TRM_EDGE_CACHE", str(tmp_path / "cache"))
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    npm = bin_dir / "npm"
    npm.write_text("#!/bin/sh\n[ \"$1\" = ci ] && [ -f package-lock.json ] || exit 1\n"
                   + "".join(f"mkdir -p node_modules/{p} && echo {{}} > node_modules/{p}/package.json\n"
                             for p in web.RUNTIMES))
    npm.chmod(npm.stat().st_mode | stat.S_IEXEC)
    for name in ("chromium", "chromedriver"):   # found, not started: reachability only looks
        (bin_dir / name).write_text("#!/bin/sh\n")
    monkeypatch.setenv("TRM_EDGE_CHROMIUM", str(bin_dir / "chromium"))
    monkeypatch.setenv("TRM_EDGE_CHROMEDRIVER", str(bin_dir / "chromedriver"))
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    ok, status = chromium.reachability()
    assert ok, status
    lines = []
    nm = web.install_runtimes(log=lines.append)
    assert len(lines) == 1 and "npm ci" in lines[0], lines
    assert all((nm / p / "package.json").is_file() for p in web.RUNTIMES)
    assert web.check_page() == web.page_dir()
    assert web.install_runtimes(log=lines.append) == nm and len(lines) == 1   # installed once
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.setattr(web, "runtimes_dir", lambda: tmp_path / "cache" / "other")
    ok, status = chromium.reachability()
    assert not ok and "install Node.js 20 + npm" in status

