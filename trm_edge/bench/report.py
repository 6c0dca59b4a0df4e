"""Bench reports: the result JSON (schema `trm-edge-bench/1`, see benchmarks/README.md), derived
ratios, a markdown table and one PNG with three panels (latency vs depth, accuracy vs depth,
accuracy vs latency with the Pareto front). Host, adb and devicectl runs all end here.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

from ..errors import ArtifactError
from ..schema import bench_result, read_json, read_text

SCHEMA = "trm-edge-bench/1"


# ---- schema ----------------------------------------------------------------------------------
def validate(result, source: str = "result") -> dict:
    """Check every field the report, the summary and the plots read (trm_edge.schema.bench_result);
    one SchemaError (an ArtifactError) naming the first problem."""
    return bench_result(result, source, SCHEMA)


def load_result(path: str | Path) -> dict:
    """A bench result file -> the validated result (size and JSON nesting bounded before parsing)."""
    return validate(read_json(path, "bench result"), str(path))


def is_bench_result(path: Path) -> bool:
    """Whether a JSON file says it is a trm-edge-bench/1 result (valid or not)."""
    try:
        d = read_json(path, "bench result")
    except ArtifactError:
        return False
    return isinstance(d, dict) and d.get("schema") == SCHEMA


def output_paths(device: str, json_out=None, md_out=None, plot_out=None, force: bool = False,
                 date: str | None = None) -> tuple[Path, Path, Path]:
    """Where `trm-edge bench` writes (JSON, markdown, PNG): the paths given, else the JSON under
    benchmarks/results/<device>-<date>.json and the others beside it. Checked before measuring
    (trm_edge.safe_io.check_outputs): an existing file the user did not name is refused unless force."""
    import time

    from ..safe_io import check_outputs

    stem = Path("benchmarks/results") / f"{device}-{date or time.strftime('%Y-%m-%d')}"
    js = Path(json_out) if json_out else stem.with_suffix(".json")
    md = Path(md_out) if md_out else js.with_suffix(".md")
    png = Path(plot_out) if plot_out else js.with_suffix(".png")
    check_outputs([(js, json_out is not None), (md, md_out is not None), (png, plot_out is not None)], force)
    return js, md, png


def write_json(result: dict, path: str | Path) -> Path:
    from ..safe_io import write_text

    return write_text(path, json.dumps(result, indent=2) + "\n")


# ---- derived ratios --------------------------------------------------------------------------
def add_derived(result: dict) -> dict:
    """Fill speedup_vs_eager and roofline_pct in place (both need figures from the same run)."""
    eager = next((r for r in result["runtimes"] if r["target"] == "eager" and r["precision"] == "fp32"
                  and not r.get("error")), None)
    eager_ms = {d["depth"]: d["step_ms"]["median"] for d in eager["depths"]} if eager else {}
    roof = result.get("roofline") or {}
    flops, peak, peak8 = roof.get("flops_per_step"), roof.get("peak_gflops"), roof.get("int8_peak_gops")
    batch = result["settings"].get("batch", 1)
    for rt in result["runtimes"]:
        int8 = rt["precision"].startswith("int8")
        for d in rt.get("depths", []):
            ms = (d.get("step_ms") or {}).get("median")
            if not ms:
                continue
            if d["depth"] in eager_ms:
                d["speedup_vs_eager"] = eager_ms[d["depth"]] / ms
            if flops and peak:
                d["roofline_pct"] = 100 * flops * batch / (ms / 1e3) / (peak * 1e9)
            if flops and peak8 and int8:   # against the integer-GEMM peak: what int8 arithmetic could reach
                d["int8_roofline_pct"] = 100 * flops * batch / (ms / 1e3) / (peak8 * 1e9)
    return result


def goals(result: dict) -> dict:
    """The three goal ratios (docs/benchmarks.md#goals), as measured in this result (None where not measurable)."""
    ok = [r for r in result["runtimes"] if not r.get("error") and r["depths"]]
    arts = [r for r in ok if r["target"] != "eager"]

    def best(key):
        vals = [(d[key], r["name"], d["depth"]) for r in arts for d in r["depths"] if d.get(key) is not None]
        return max(vals) if vals else None

    sp, rf = best("speedup_vs_eager"), best("roofline_pct")
    halts = [(r["halting"]["speedup_vs_full_depth"], r["halting"]["acc_loss_pt"], r["name"])
             for r in ok if r.get("halting")]
    return {"speedup_vs_eager": sp, "roofline_pct": rf,
            "halting": max(halts, key=lambda h: (h[1] <= 0.5, h[0])) if halts else None}


# ---- markdown -------------------------------------------------------------------------------
def _quiet_lines(q: dict | None) -> list[str]:
    """Header lines: was the machine idle when measuring started, and during the run?"""
    if not q:
        return ["- quiet: not checked (a result from before the idle check, or measured on another device)"]
    from .quiet import describe

    lim = q["limits"]
    mode = (f"required, waited {q.get('waited_s', 0):.0f} of {q['required_wait_s']:g} s"
            if q.get("required_wait_s") is not None else "recorded only")
    verdict = "idle" if q["idle_at_start"] else "**NOT idle** (" + "; ".join(q["busy_reasons"]) + ")"
    lines = [f"- quiet at start ({mode}; limits {lim['load_per_cpu']:g} load per CPU, "
             f"{lim['others_cpu_pct']:g}% of one core for other processes): {verdict}; {describe(q['start'])}"]
    run = q.get("during_run")
    if run:
        verdict = {True: "quiet", False: "**NOT quiet**", None: "not known"}[q.get("idle_during_run")]
        lines.append(f"- during the run ({run['window_s']:.0f} s): {verdict}; {describe(run, ' at the end')} "
                     "(the load and whole-machine figures include the bench itself)")
    return lines


def _f(v, fmt="{:.3g}"):
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else fmt.format(v)


def to_markdown(result: dict) -> str:
    dev, st, model = result["device"], result["settings"], result["model"]
    lines = []
    if result.get("fixture"):
        lines += ["> **FIXTURE — not a measurement.**", ""]
    lines += [f"# trm-edge bench — {model.get('task')} on {dev.get('name')} ({dev.get('platform')})", "",
              f"- command: `{result['command']}`",
              f"- created: {result['created']}; device: {dev.get('cpu') or dev.get('model')}, "
              f"{dev.get('cores')} cores, load average at start {dev.get('load_avg')}",
              f"- model: `{model.get('checkpoint')}`, n_sup {model.get('n_sup')}, params {model.get('params')}",
              f"- batch {st.get('batch')}, threads {st.get('threads') or 'runtime default'}, "
              f"R={st.get('runs')} timed runs after W={st.get('warmup')} warm-ups, {st.get('n_puzzles')} puzzles"]
    lines += _quiet_lines(result.get("quiet"))
    roof = result.get("roofline")
    if roof:
        lines.append(f"- roofline: {_f(roof.get('flops_per_step'), '{:.4g}')} FLOPs per supervision step; "
                     f"peak {_f(roof.get('peak_gflops'), '{:.1f}')} GFLOP/s ({roof.get('peak_method')})")
        if roof.get("int8_peak_gops"):
            lines.append(f"- int8 roofline: peak {_f(roof['int8_peak_gops'], '{:.1f}')} GOP/s ({roof.get('int8_peak_method')}); "
                         "int8 rows show % of the fp32 / the int8 peak")
    for n in result.get("notes") or []:
        lines.append(f"- note: {n}")
    lines += ["", "## Runtimes", "",
              "| runtime | size KiB | load ms | first call ms | peak RSS MiB (baseline) | status |",
              "|---|---|---|---|---|---|"]
    for rt in result["runtimes"]:
        size = rt.get("size_bytes")
        lines.append(f"| {rt['name']} | {_f(size / 1024 if size else None, '{:.0f}')} | {_f(rt.get('load_ms'), '{:.1f}')} "
                     f"| {_f(rt.get('first_call_ms'), '{:.2f}')} | {_f(rt.get('peak_rss_mb'), '{:.0f}')} "
                     f"({_f(rt.get('baseline_rss_mb'), '{:.0f}')}) | {rt.get('error') or 'ok'} |")
    lines += ["", "## Per depth", "",
              "| runtime | depth | step ms median / p90 / min | solve ms median / p90 | exact | cell | speed-up vs eager | % roofline |",
              "|---|---|---|---|---|---|---|---|"]
    for rt in result["runtimes"]:
        for d in rt.get("depths") or []:
            s, v = d.get("step_ms") or {}, d.get("solve_ms") or {}
            lines.append(
                f"| {rt['name']} | {d['depth']} | {_f(s.get('median'))} / {_f(s.get('p90'))} / {_f(s.get('min'))} "
                f"| {_f(v.get('median'))} / {_f(v.get('p90'))} | {_f(d.get('exact_acc'), '{:.3f}')} "
                f"| {_f(d.get('cell_acc'), '{:.3f}')} | {_f(d.get('speedup_vs_eager'), '{:.2f}x')} "
                f"| {_f(d.get('roofline_pct'), '{:.1f}')}"
                + (f" / {_f(d['int8_roofline_pct'], '{:.1f}')}" if d.get("int8_roofline_pct") is not None else "") + " |")
    halts = [rt for rt in result["runtimes"] if rt.get("halting")]
    if halts:
        lines += ["", "## Adaptive halting (batch of the run, up to the largest depth)", "",
                  "| runtime | threshold | mean steps | exact (halt / full) | loss pt | ms per puzzle (halt / full) "
                  "| ms per solved | speed-up vs full depth |", "|---|---|---|---|---|---|---|---|"]
        for rt in halts:
            h = rt["halting"]
            lines.append(
                f"| {rt['name']} | {_f(h['threshold'])} | {_f(h['mean_steps'], '{:.2f}')} "
                f"| {_f(h['exact_acc'], '{:.3f}')} / {_f(h['full_depth_exact_acc'], '{:.3f}')} "
                f"| {_f(h['acc_loss_pt'], '{:.1f}')} | {_f(h['ms_per_puzzle'])} / {_f(h['full_depth_ms_per_puzzle'])} "
                f"| {_f(h.get('ms_per_solved'))} | {_f(h['speedup_vs_full_depth'], '{:.2f}x')} |")
    if result["device"].get("browser"):  # trm-edge bench --device chromium
        from .chromium import markdown_section
        lines += markdown_section(result)
    g = goals(result)
    lines += ["", "## Goals (ratios from this run)", ""]
    if g["speedup_vs_eager"]:
        v, n, d = g["speedup_vs_eager"]
        lines.append(f"- best artifact vs eager fp32, per supervision step: **{v:.2f}x** ({n}, depth {d}; goal >= 3x)")
    if g["roofline_pct"]:
        v, n, d = g["roofline_pct"]
        lines.append(f"- best % of measured CPU peak: **{v:.1f} %** ({n}, depth {d}; goal >= 50 % on sudoku-mlp)")
    if g["halting"]:
        v, loss, n = g["halting"]
        lines.append(f"- adaptive halting: **{v:.2f}x** lower mean latency per puzzle at {loss:.1f} pt accuracy "
                     f"loss ({n}; goal >= 2x at <= 0.5 pt)")
    return "\n".join(lines) + "\n"


# ---- plots ------------------------------------------------------------------------------------
def pareto_front(points: list[tuple[float, float, str]]) -> list[tuple[float, float, str]]:
    """(latency, accuracy, label) points nobody beats on both axes, by increasing latency."""
    front, best_acc = [], -1.0
    for lat, acc, label in sorted(points, key=lambda p: (p[0], -p[1])):
        if acc > best_acc:
            front.append((lat, acc, label))
            best_acc = acc
    return front


def plot(result: dict, path: str | Path) -> Path:
    """One PNG, three panels: step latency vs depth, exact accuracy vs depth, accuracy vs solve latency."""
    from ..errors import require

    mpl = require("matplotlib", "bench")
    mpl.use("Agg")  # files only, never a window
    plt = require("matplotlib.pyplot", "bench")

    rts = [r for r in result["runtimes"] if not r.get("error") and r.get("depths")
           and all((d.get("step_ms") or {}).get("median") is not None for d in r["depths"])]
    fig, (a1, a2, a3) = plt.subplots(1, 3, figsize=(16, 4.8))
    points = []
    for rt in rts:
        ds = rt["depths"]
        depth = [d["depth"] for d in ds]
        a1.plot(depth, [d["step_ms"]["median"] for d in ds], marker="o", label=rt["name"])
        acc = [d["exact_acc"] for d in ds]
        if all(a is not None for a in acc):
            a2.plot(depth, acc, marker="o", label=rt["name"])
            points += [(d["solve_ms"]["median"], d["exact_acc"], f"{rt['name']} d{d['depth']}") for d in ds]
        h = rt.get("halting")
        if h and h.get("ms_per_puzzle") is not None:
            points.append((h["ms_per_puzzle"], h["exact_acc"], f"{rt['name']} halt"))
    a1.set(xscale="log", yscale="log", xlabel="depth (supervision steps)", ylabel="ms per step (median)",
           title="latency per supervision step")
    a2.set(xscale="log", xlabel="depth (supervision steps)", ylabel="exact accuracy", title="accuracy vs depth")
    for ax in (a1, a2):
        ax.set_xticks(sorted({d["depth"] for r in rts for d in r["depths"]}))
        ax.get_xaxis().set_major_formatter(mpl.ticker.ScalarFormatter())
        ax.grid(alpha=0.3)
    if points:
        a3.scatter([p[0] for p in points], [p[1] for p in points], s=14, alpha=0.5, color="grey")
        front = pareto_front(points)
        a3.plot([p[0] for p in front], [p[1] for p in front], marker="o", color="C3", label="Pareto front")
        for lat, acc, label in front:
            a3.annotate(label, (lat, acc), fontsize=7, xytext=(3, -9), textcoords="offset points")
    a3.set(xscale="log", xlabel="ms per solve (batch %s)" % result["settings"].get("batch", 1),
           ylabel="exact accuracy", title="accuracy vs latency (depth x target x precision)")
    a3.grid(alpha=0.3)
    a1.legend(fontsize=7)
    a3.legend(fontsize=7, loc="lower right")
    title = f"trm-edge bench: {result['model'].get('task')} on {result['device'].get('name')}"
    if result.get("fixture"):
        title += " — FIXTURE, not a measurement"
    fig.suptitle(title)
    fig.tight_layout()
    import io

    from ..safe_io import write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_bytes(path, buf.getvalue())


# ---- benchmarks/SUMMARY.md: one section per result file, between two markers ------------------
SUMMARY_BEGIN = "<!-- trm-edge report bench-summary: generated from the result files; edits between these markers are overwritten -->"
SUMMARY_END = "<!-- end of trm-edge report bench-summary -->"


def _summary_section(path: Path, r: dict) -> list[str]:
    st, q = r["settings"], r.get("quiet")
    if not q:
        verdict = "**quiet not checked** (measured before the idle check existed)"
    else:
        verdict = ("idle at start" if q["idle_at_start"] else "**NOT idle at start**") + ", " + \
                  {True: "quiet during the run", False: "**NOT quiet during the run**", None: "run not watched"}[q.get("idle_during_run")] + \
                  f" (limits: load {q['limits']['load_per_cpu']:g} per CPU, others {q['limits']['others_cpu_pct']:g}% of one core)"
    lines = ["", f"### {r['model'].get('task')} on {r['device'].get('name')}: batch {st.get('batch')}, "
                 f"threads {st.get('threads') or 'default'} (`{path.name}`)", "",
             f"- command: `{r['command']}`",
             f"- model `{r['model'].get('checkpoint')}`; created {r['created']}; {verdict}; load average at start "
             f"{_f(r['device'].get('load_avg') and r['device']['load_avg'][0], '{:.2f}')} on {r['device'].get('cores')} cores; "
             f"R={st.get('runs')}, W={st.get('warmup')}, {st.get('n_puzzles')} puzzles"]
    lines += [f"- note: {n}" for n in r.get("notes") or []]
    lines += ["", "| runtime | KiB | ms per step, first / last depth | x eager | exact | halting: steps, ms per puzzle (full depth) |",
             "|---|---|---|---|---|---|"]
    for rt in r["runtimes"]:
        ds = rt.get("depths") or []
        if rt.get("error") or not ds:
            lines.append(f"| {rt['name']} | | | | | error: {rt.get('error')} |")
            continue
        a, b = ds[0], ds[-1]
        h = rt.get("halting")
        size = rt.get("size_bytes")

        def pair(key, fmt):
            return f"{_f(a.get(key), fmt)} (d{a['depth']}) / {_f(b.get(key), fmt)} (d{b['depth']})"

        lines.append(
            f"| {rt['name']} | {_f(size / 1024 if size else None, '{:.0f}')} "
            f"| {_f((a['step_ms'] or {}).get('median'))} (d{a['depth']}) / {_f((b['step_ms'] or {}).get('median'))} (d{b['depth']}) "
            f"| {pair('speedup_vs_eager', '{:.2f}x')} | {pair('exact_acc', '{:.3f}')} "
            f"| {_f(h['mean_steps'], '{:.2f}') + ', ' + _f(h['ms_per_puzzle']) + ' (' + _f(h['full_depth_ms_per_puzzle']) + ')' if h else '—'} |")
    if r["device"].get("browser"):
        from .chromium import browser_ratios

        per = {}
        for row in browser_ratios(r):
            per.setdefault((row["runtime"], row["native"]), []).append(f"d{row['depth']} {row['ratio_median']:.2f}x")
        lines += [""] + [f"- {b} / native {n}, ms per step: {', '.join(v)}" for (b, n), v in per.items()]
    return lines


def summary_markdown(paths: list[Path], folder: bool = True) -> str:
    """The generated block of benchmarks/SUMMARY.md: every bench result file with its command.
    Files that say they are bench results must be valid ones (else one error); other JSON files
    (quant reports, parity runs) are listed by name."""
    lines = [SUMMARY_BEGIN, "", "## Bench results (generated)", "",
             "`trm-edge report bench-summary benchmarks/results --out benchmarks/SUMMARY.md` wrote this "
             "section from the `trm-edge-bench/1` files below (markdown and plot next to each JSON)."]
    other, n = [], 0
    for p in sorted(paths):
        if folder and not is_bench_result(p):   # a file named on its own must be a bench result
            other.append(p.name)
            continue
        lines += _summary_section(p, load_result(p))
        n += 1
    if not n:
        raise ArtifactError(f"none of the {len(paths)} JSON files in {paths[0].parent} is a {SCHEMA} result")
    if other:
        lines += ["", "Other JSON files there (not bench results; see their own .md): "
                  + ", ".join(f"`{n}`" for n in other)]
    return "\n".join(lines + ["", SUMMARY_END]) + "\n"


def update_summary(results: Path, out: Path) -> Path:
    """Write the generated block into `out`: replace it between the markers, else append it (the
    hand-written rest of the file is kept). Markers out of order, or more than one pair, are refused
    (the file is left as it is)."""
    from ..safe_io import write_text

    paths = sorted(results.glob("*.json")) if results.is_dir() else [results]
    if not paths:
        raise ArtifactError(f"no result JSON in {results}")
    block = summary_markdown(paths, folder=results.is_dir())
    old = read_text(out, "markdown file") if out.exists() else ""
    n_begin, n_end = old.count(SUMMARY_BEGIN), old.count(SUMMARY_END)
    if n_begin or n_end:
        if n_begin != 1 or n_end != 1 or old.index(SUMMARY_END) < old.index(SUMMARY_BEGIN):
            raise ArtifactError(f"{out}: its bench-summary markers are out of order or repeated ({n_begin} begin, "
                                f"{n_end} end; one begin line, then one end line): fix them, the file is unchanged")
        head, rest = old.split(SUMMARY_BEGIN, 1)
        new = head + block.rstrip("\n") + rest.split(SUMMARY_END, 1)[1]
    else:
        new = old + ("\n" if old and not old.endswith("\n\n") else "") + block
    return write_text(out, new)
