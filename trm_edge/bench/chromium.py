"""`trm-edge bench --device chromium`: the web page's benchmark mode in headless Chromium.

Debian's /usr/bin/chromium is driven by Selenium through Debian's /usr/bin/chromedriver (same
version as the browser, nothing downloaded). The page (web_demo/, trm_edge/apps/web.py) is served on a
free local port with the cross-origin-isolation headers WebAssembly threads need; each artifact is
mounted at /artifacts/<name>/ from where it was exported. `window.trm.benchArtifact` (web_demo/js/
bench.js) measures it exactly like trm_edge/bench/host.py and returns one `runtimes[]` entry of
the trm-edge-bench/1 schema plus browser, runtime, backend, threads and SIMD.
"""
from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

from ..errors import DeviceError, TRMEdgeError, require

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
# headless, nothing fetched from the network by the browser itself; no GPU unless a WebGPU adapter is asked for
FLAGS = ("--headless", "--no-sandbox", "--disable-background-networking",
         "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage")
# device profile field `webgpu` -> the GPU flags: "" none; "swiftshader" = a software WebGPU adapter
# (Chromium's SwiftShader Vulkan on the CPU: correct, but ~1 s per supervision step; docs/web.md)
WEBGPU_FLAGS = {"": ("--disable-gpu",),
                "swiftshader": ("--enable-unsafe-webgpu", "--enable-features=Vulkan", "--use-angle=swiftshader",
                                "--use-webgpu-adapter=swiftshader")}
INSTALL_HINT = "install the Debian packages chromium and chromium-driver (apt-get install chromium chromium-driver)"


def find_browser() -> tuple[str, str]:
    """(chromium, chromedriver) executables: $TRM_EDGE_CHROMIUM / $TRM_EDGE_CHROMEDRIVER or PATH."""
    browser = os.environ.get("TRM_EDGE_CHROMIUM") or next(filter(None, map(shutil.which, CHROMIUM)), None)
    driver = os.environ.get("TRM_EDGE_CHROMEDRIVER") or shutil.which("chromedriver")
    if not browser or not Path(browser).is_file():
        raise DeviceError(f"Chromium not found: {INSTALL_HINT}")
    if not driver or not Path(driver).is_file():
        raise DeviceError(f"chromedriver not found: {INSTALL_HINT}")
    return browser, driver


def reachability() -> tuple[bool, str]:
    """Chromium and chromedriver found, and the page's npm runtimes installed or installable (npm:
    bench_browser installs them on first use)."""
    from ..apps.web import runtimes_missing

    try:
        browser, _ = find_browser()
    except TRMEdgeError as e:
        return False, str(e)
    why = runtimes_missing()
    return (False, why) if why else (True, f"headless {browser}")


class Browser:
    """Headless Chromium showing the page at `url`; `call` runs page JavaScript and awaits it."""

    def __init__(self, url: str, timeout: float = 600, webgpu: str = ""):
        require("selenium", "web")
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        browser, driver = find_browser()
        self.profile = tempfile.mkdtemp(prefix="trm-chromium-")  # a fresh --user-data-dir per run
        opts = webdriver.ChromeOptions()
        opts.binary_location = browser
        self.flags = FLAGS + WEBGPU_FLAGS[webgpu]
        for f in self.flags + (f"--user-data-dir={self.profile}", "--window-size=1400,1000"):
            opts.add_argument(f)
        try:
            self.driver = webdriver.Chrome(options=opts, service=Service(executable_path=driver))
        except Exception as e:  # selenium's SessionNotCreatedException & co: keep one line
            shutil.rmtree(self.profile, ignore_errors=True)
            raise DeviceError(f"cannot start headless Chromium: {str(e).splitlines()[0][:300]}") from None
        self.driver.set_script_timeout(timeout)
        self.driver.get(url)
        self.call("await window.trm.ready; return true")

    @property
    def version(self) -> str:
        caps = self.driver.capabilities
        return f"{caps.get('browserName', 'chrome')} {caps.get('browserVersion', '?')}"

    def call(self, body: str, *args):
        """Run `body` as an async function of `args` in the page; return its value (JSON)."""
        script = ("const done = arguments[arguments.length - 1];"
                  f"(async (...args) => {{ {body} }})(...Array.from(arguments).slice(0, -1))"
                  ".then(v => done({ok: v}), e => done({error: String(e && e.message || e)}));")
        res = self.driver.execute_async_script(script, *args)
        if res.get("error") is not None:
            raise TRMEdgeError(f"in the browser: {res['error']}")
        return res["ok"]

    def screenshot(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.driver.save_screenshot(str(path))
        return path

    def close(self):
        try:
            self.driver.quit()
        finally:
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def bench_browser(specs, settings, inputs, labels, progress: bool = True, webgpu: str = "") -> tuple[list[dict], dict]:
    """Every artifact's browser entry (errors recorded per runtime) and the browser's description.
    webgpu: the profile's WebGPU adapter (WEBGPU_FLAGS); with one, onnxruntime-web runs its webgpu EP."""
    from ..apps.web import serving

    mounts = {f"artifacts/{i}": s.path for i, s in enumerate(specs)}
    puzzles = {"inputs": inputs.tolist(), "labels": labels.tolist()}
    entries = []
    with serving(mounts=mounts) as url, Browser(url, webgpu=webgpu) as b:
        info = b.call("let adapter = null; try { adapter = await navigator.gpu?.requestAdapter() } catch {} "
                      "return {ua: navigator.userAgent, cores: navigator.hardwareConcurrency, "
                      "isolated: globalThis.crossOriginIsolated === true, webgpu: !!adapter}")
        browser = {"name": "chromium", "version": b.version, "user_agent": info["ua"],
                   "hardware_concurrency": info["cores"], "cross_origin_isolated": info["isolated"],
                   "webgpu": info["webgpu"], "flags": list(b.flags)}
        for i, spec in enumerate(specs):
            if progress:
                print(f"chromium: {spec.name} ...", file=sys.stderr, flush=True)
            opts = {"artifact": f"/artifacts/{i}/", "artifactPath": str(spec.path), "depths": settings.depths,
                    "runs": settings.runs, "warmup": settings.warmup, "threads": settings.threads or 0,
                    "backend": "auto", "halt": settings.halt, "threshold": settings.halt_threshold,
                    "puzzles": puzzles, "browser": b.version}
            try:
                entries.append(b.call("return await window.trm.benchArtifact(args[0])", opts))
            except TRMEdgeError as e:
                entries.append({"name": f"{spec.name}-chromium", "target": spec.target, "precision": spec.precision,
                                "mode": spec.mode, "delegate": None, "artifact": str(spec.path), "size_bytes": None,
                                "load_ms": None, "first_call_ms": None, "peak_rss_mb": None, "baseline_rss_mb": None,
                                "rss_scope": "browser", "error": str(e)[:300], "depths": [], "halting": None,
                                "browser": b.version})
    return entries, browser


# ---- report: the browser next to native, ratios from the same run ----------------------------
def native_of(entry: dict, runtimes: list[dict]) -> dict | None:
    """The host runtime that ran the same artifact natively (same artifact path, not a browser entry)."""
    return next((r for r in runtimes if r.get("artifact") == entry.get("artifact") and "browser" not in r
                 and not r.get("error") and r.get("depths")), None)


def browser_ratios(result: dict) -> list[dict]:
    """Per browser runtime and depth: browser / native step latency (median and min), same run."""
    rows = []
    for rt in result["runtimes"]:
        nat = native_of(rt, result["runtimes"]) if "browser" in rt and not rt.get("error") else None
        if not nat:
            continue
        by_depth = {d["depth"]: d for d in nat["depths"]}
        for d in rt["depths"]:
            n = by_depth.get(d["depth"])
            if not n or not d.get("step_ms") or not n.get("step_ms"):
                continue
            rows.append({"runtime": rt["name"], "native": nat["name"], "depth": d["depth"],
                         "ratio_median": d["step_ms"]["median"] / n["step_ms"]["median"],
                         "ratio_min": d["step_ms"]["min"] / n["step_ms"]["min"],
                         "same_exact_acc": d["exact_acc"] == n["exact_acc"],
                         "exact": (d["exact_acc"], n["exact_acc"])})
    return rows


GOAL = 2.0   # each browser runtime within this factor of its native twin per supervision step (docs/browser.md#goal)


def markdown_section(result: dict) -> list[str]:
    """Lines for to_markdown: which browser, and browser / native per supervision step (vs GOAL)."""
    b = result["device"].get("browser") or {}
    rows = browser_ratios(result)
    lines = ["", "## Browser vs native (same artifact, same run)", "",
             f"- browser: {b.get('version')} headless ({b.get('user_agent')}), cross-origin isolated "
             f"{b.get('cross_origin_isolated')}, WebGPU adapter {b.get('webgpu')}; "
             f"load average at start {result['device'].get('load_avg')}, at the end {result['device'].get('load_avg_end')}",
             "", "| browser runtime | backend / threads / SIMD | native | depth | step ms browser / native (median) "
             "| ratio median | ratio min | exact browser / native |", "|---|---|---|---|---|---|---|---|"]
    by_name = {r["name"]: r for r in result["runtimes"]}
    for row in rows:
        rt, nat = by_name[row["runtime"]], by_name[row["native"]]
        d = next(x for x in rt["depths"] if x["depth"] == row["depth"])
        n = next(x for x in nat["depths"] if x["depth"] == row["depth"])
        lines.append(f"| {row['runtime']} | {rt.get('backend')} / {rt.get('threads')} / {rt.get('simd')} | {row['native']} "
                     f"| {row['depth']} | {d['step_ms']['median']:.3g} / {n['step_ms']['median']:.3g} "
                     f"| {row['ratio_median']:.2f}x | {row['ratio_min']:.2f}x "
                     f"| {row['exact'][0]:.3f} / {row['exact'][1]:.3f} |")
    for rt in result["runtimes"]:
        if "browser" in rt and rt.get("error"):
            lines.append(f"| {rt['name']} | — | — | — | error: {rt['error']} | | | |")
    ort = next((r for r in result["runtimes"] if r.get("target") == "onnx" and r.get("precision") == "fp32"
                and "browser" not in r and not r.get("error") and r.get("depths")), None)
    if rows and ort:  # the goal (docs/browser.md#goal): the browser's best runtime vs native onnxruntime, per depth
        native = {d["depth"]: d["step_ms"]["median"] for d in ort["depths"]}
        best_at = []
        for depth in sorted(native):
            cands = [(by_name[r["runtime"]], d) for r in rows if r["depth"] == depth
                     for d in by_name[r["runtime"]]["depths"] if d["depth"] == depth]
            rt, d = min(cands, key=lambda c: c[1]["step_ms"]["median"])
            best_at.append(f"depth {depth}: {d['step_ms']['median'] / native[depth]:.2f}x ({rt['name']})")
        lines += ["", f"- best browser runtime vs native {ort['name']}, per supervision step (median): "
                      + "; ".join(best_at) + f" (goal: each runtime <= {GOAL:g}x its native twin)"]
    if rows:
        best = min(rows, key=lambda r: r["ratio_median"])
        differ = sorted({r["runtime"] for r in rows if not r["same_exact_acc"]})
        lines += [f"- closest browser runtime to its own native twin (median): **{best['ratio_median']:.2f}x** "
                      f"({best['runtime']} vs {best['native']}, depth {best['depth']}); exact accuracy "
                      + (f"differs from native for {', '.join(differ)}" if differ else "identical to native at every depth")]
    return lines
