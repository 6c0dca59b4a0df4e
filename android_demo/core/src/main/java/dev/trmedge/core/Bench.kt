package dev.trmedge.core

import org.json.JSONArray
import org.json.JSONObject
import java.io.File
import java.time.Instant
import java.time.temporal.ChronoUnit
import java.util.Locale

/** Benchmark settings: the intent extras of benchmarks/README.md ("Android benchmark protocol"). */
data class BenchArgs(
    val artifactDir: String,          // the artifact's folder (manifest.json inside), as reported
    val depths: List<Int>,            // supervision steps, e.g. 1,2,4,8
    val runs: Int = 20,               // R timed solves per depth
    val warmup: Int = 3,              // W untimed solves before them
    val threads: Int = 0,             // 0 = runtime default
    val batch: Int = 1,               // puzzles per init/step call (must equal the artifact's batch)
    val nPuzzles: Int = 100,          // puzzles scored for accuracy
    val halt: Boolean = true,         // also measure adaptive halting
    val puzzlesSource: String = "",   // where the puzzles came from, for the notes
    val command: String = "",
)

/**
 * Measures what the host bench measures (benchmarks/README.md, "Definitions") for one artifact in
 * this process and returns the `trm-edge-bench/1` result JSON that `trm_edge.bench.report` reads.
 * Plain JVM: the app's adb mode and its benchmark screen call it with a real runtime, the JUnit
 * tests with a session that replays the golden vectors. A failure is written into the result
 * (`runtimes[0].error`), never thrown.
 */
class Bench(
    private val args: BenchArgs,
    private val device: JSONObject,                 // {"name", "platform", "os", ...} of the caller
    private val onProgress: (String) -> Unit = {},  // one line per phase, for a status text
) {
    private val notes = JSONArray()

    /** [puzzles] and [open] run inside the error handling: a bad file becomes the result's error. */
    fun run(puzzles: () -> Puzzles, open: () -> TrmSession): JSONObject {
        val created = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString()
        val runtime = JSONObject().put("name", File(args.artifactDir).name).put("error", JSONObject.NULL)
        var manifest: Manifest? = null
        try {
            val p = puzzles()
            val baseline = rssMb("VmRSS")
            onProgress("loading ${File(args.artifactDir).name}")
            val t0 = System.nanoTime()
            val session = open()   // TrmSessions.open verifies every file's sha256 first
            runtime.put("load_ms", ms(t0))
            manifest = session.manifest
            session.use { measure(it, p, runtime) }
            runtime.put("peak_rss_mb", rssMb("VmHWM") ?: JSONObject.NULL).put("baseline_rss_mb", baseline ?: JSONObject.NULL)
        } catch (e: Exception) {  // one line in the result file, never a silent crash
            runtime.put("error", "${e.javaClass.simpleName}: ${e.message?.lineSequence()?.first()}")
            for (k in listOf("target", "precision", "mode", "load_ms", "first_call_ms", "peak_rss_mb", "halting"))
                if (!runtime.has(k)) runtime.put(k, JSONObject.NULL)
            if (!runtime.has("depths")) runtime.put("depths", JSONArray())
        }
        return JSONObject()
            .put("schema", SCHEMA)
            .put("fixture", false)
            .put("created", created)
            .put("command", args.command)
            .put("device", device)
            .put("model", modelJson(manifest))
            .put("settings", settingsJson(manifest))
            .put("notes", notes)
            .put("roofline", JSONObject.NULL)
            .put("runtimes", JSONArray().put(runtime))
    }

    private fun measure(s: TrmSession, puzzles: Puzzles, rt: JSONObject) {
        val m = s.manifest
        if (args.runs < 1) throw IllegalArgumentException("runs must be >= 1, got ${args.runs}")
        if (args.warmup < 0) throw IllegalArgumentException("warmup must be >= 0, got ${args.warmup}")
        if (args.nPuzzles < 1) throw IllegalArgumentException("n_puzzles must be >= 1, got ${args.nPuzzles}")
        if (puzzles.task != m.task) throw IllegalArgumentException("puzzles are for ${puzzles.task}, the artifact for ${m.task}")
        if (args.batch != m.batch) throw IllegalArgumentException("batch ${args.batch} requested, artifact exported for batch ${m.batch}")
        val depths = depthsFor(m)
        if (depths.size < args.depths.distinct().size) notes.put("depths above n_sup ${m.nSup} dropped")
        if (depths.isEmpty()) throw IllegalArgumentException("no depth in 1..${m.nSup}")
        val codec = TokenCodec(m.tokens, m.seqLen)
        val board = SudokuBoard(m.seqLen, m.box)
        val n = minOf(args.nPuzzles, puzzles.inputs.size)
        if (n < args.nPuzzles) notes.put("only $n puzzles in ${args.puzzlesSource.ifEmpty { "the puzzles file" }}")

        rt.put("target", m.target).put("precision", m.precision).put("mode", m.mode)
            .put("artifact", args.artifactDir).put("size_bytes", m.sizeBytes).put("rss_scope", "app")
            .put("runtime", s.runtimeName).put("delegate", s.delegate ?: JSONObject.NULL)
        val B = m.batch
        val batchTokens = IntArray(B * m.seqLen) { puzzles.inputs[(it / m.seqLen) % n][it % m.seqLen] }
        var t0 = System.nanoTime()
        s.init(batchTokens, B); s.step()
        rt.put("first_call_ms", ms(t0))

        // latency per depth: W untimed, then R timed solves (init + depth steps, halting off)
        onProgress("accuracy at depths 1..${depths.last()} on $n puzzles")
        val acc = accuracy(s, puzzles, n, depths.last(), codec, board)
        val depthRows = JSONArray()
        for (d in depths) {
            onProgress("latency at depth $d: ${args.warmup} warm-up + ${args.runs} timed solves")
            val loop = HostLoop(d, m.haltThreshold, halt = false)
            repeat(args.warmup) { loop.run(s, batchTokens) }
            val stepMs = ArrayList<Double>(); val solveMs = ArrayList<Double>()
            repeat(args.runs) {
                t0 = System.nanoTime()
                val r = loop.run(s, batchTokens)
                solveMs += ms(t0); r.updates.forEach { stepMs += it.stepMs }
            }
            depthRows.put(JSONObject().put("depth", d)
                .put("step_ms", LatencyStats.of(stepMs).toJson()).put("solve_ms", LatencyStats.of(solveMs).toJson())
                .put("exact_acc", acc[d - 1].first).put("cell_acc", acc[d - 1].second)
                .put("speedup_vs_eager", JSONObject.NULL).put("roofline_pct", JSONObject.NULL))
        }
        rt.put("depths", depthRows)
        if (args.halt) onProgress("adaptive halting on $n puzzles")
        rt.put("halting", if (args.halt) halting(s, puzzles, n, depths.last(), codec, board) else JSONObject.NULL)
    }

    private fun depthsFor(m: Manifest?) = args.depths.filter { m == null || it in 1..m.nSup }.distinct().sorted()

    /** One pass, halting off, up to maxDepth; (exact, cell) accuracy after each step. */
    private fun accuracy(s: TrmSession, p: Puzzles, n: Int, maxDepth: Int, codec: TokenCodec,
                         board: SudokuBoard): List<Pair<Double, Double>> {
        val L = s.manifest.seqLen; val B = s.manifest.batch
        val exact = IntArray(maxDepth); val cells = LongArray(maxDepth)
        for (start in 0 until n step B) {
            val rows = (0 until B).map { minOf(start + it, n - 1) }   // pad the last chunk with its last puzzle
            val tokens = IntArray(B * L) { p.inputs[rows[it / L]][it % L] }
            HostLoop(maxDepth, s.manifest.haltThreshold, halt = false).run(s, tokens) { u ->
                for (b in 0 until B) {
                    if (b > 0 && rows[b] == rows[b - 1]) continue    // padding
                    val pred = u.preds.copyOfRange(b * L, (b + 1) * L)
                    val label = p.labels[rows[b]]
                    if (board.verify(p.inputs[rows[b]], pred, codec)) exact[u.step - 1]++
                    cells[u.step - 1] += pred.indices.count { pred[it] == label[it] }.toLong()
                }
            }
        }
        return (0 until maxDepth).map { exact[it].toDouble() / n to cells[it].toDouble() / (n.toLong() * L) }
    }

    /** Each puzzle alone with halting on, then with halting off, both timed after W warm-ups. */
    private fun halting(s: TrmSession, p: Puzzles, n: Int, maxSteps: Int, codec: TokenCodec,
                        board: SudokuBoard): JSONObject {
        val B = s.manifest.batch
        if (B != 1) notes.put("halting measured with each puzzle repeated to the artifact's batch $B")
        val on = HostLoop(maxSteps, s.manifest.haltThreshold, halt = true)
        val off = HostLoop(maxSteps, s.manifest.haltThreshold, halt = false)
        val one = { i: Int -> TrmSession.fillBatch(p.inputs[i], B) }
        repeat(args.warmup) { on.run(s, one(it % n)); off.run(s, one(it % n)) }
        var stepsSum = 0L; var exactH = 0; var exactF = 0; var cellsH = 0L; var msH = 0.0; var msF = 0.0
        val L = s.manifest.seqLen
        for (i in 0 until n) {
            var t = System.nanoTime()
            val r = on.run(s, one(i)); msH += ms(t)
            t = System.nanoTime()
            val f = off.run(s, one(i)); msF += ms(t)
            val pred = r.finalPreds.copyOfRange(0, L)
            stepsSum += r.steps
            if (board.verify(p.inputs[i], pred, codec)) exactH++
            if (board.verify(p.inputs[i], f.finalPreds.copyOfRange(0, L), codec)) exactF++
            cellsH += pred.indices.count { pred[it] == p.labels[i][it] }
        }
        val exactAcc = exactH.toDouble() / n; val fullAcc = exactF.toDouble() / n
        return JSONObject().put("max_steps", maxSteps).put("threshold", s.manifest.haltThreshold.toDouble())
            .put("mean_steps", stepsSum.toDouble() / n).put("exact_acc", exactAcc)
            .put("cell_acc", cellsH.toDouble() / (n.toLong() * L)).put("full_depth_exact_acc", fullAcc)
            .put("acc_loss_pt", 100 * (fullAcc - exactAcc)).put("ms_per_puzzle", msH / n)
            .put("full_depth_ms_per_puzzle", msF / n)
            .put("ms_per_solved", if (exactH > 0) msH / exactH else JSONObject.NULL)
            .put("speedup_vs_full_depth", if (msH > 0) msF / msH else JSONObject.NULL)
    }

    private fun settingsJson(m: Manifest?) = JSONObject()
        .put("depths", JSONArray(depthsFor(m)))
        .put("requested_depths", JSONArray(args.depths)).put("batch", args.batch)
        .put("threads", if (args.threads > 0) args.threads else JSONObject.NULL)
        .put("runs", args.runs).put("warmup", args.warmup).put("n_puzzles", args.nPuzzles).put("halt", args.halt)
        .put("halt_threshold", m?.haltThreshold?.toDouble() ?: JSONObject.NULL).put("seed", JSONObject.NULL)

    private fun modelJson(m: Manifest?) = JSONObject()
        .put("checkpoint", args.artifactDir).put("task", m?.task ?: JSONObject.NULL)
        .put("n_sup", m?.nSup ?: JSONObject.NULL).put("params", m?.params ?: JSONObject.NULL)
        .put("config", m?.configJson ?: JSONObject.NULL)

    companion object {
        const val SCHEMA = "trm-edge-bench/1"

        fun ms(t0: Long): Double = (System.nanoTime() - t0) / 1e6

        /** VmRSS / VmHWM (peak) of this process from /proc/self/status, in MiB; null off Linux. */
        fun rssMb(field: String): Double? = runCatching {
            File("/proc/self/status").readLines().first { it.startsWith("$field:") }
                .split(Regex("\\s+"))[1].toDouble() / 1024.0
        }.getOrNull()

        /** /proc/loadavg as [1, 5, 15] minutes; null where there is none. */
        fun loadAvg(): JSONArray? = runCatching {
            JSONArray(File("/proc/loadavg").readText().trim().split(" ").take(3).map { it.toDouble() })
        }.getOrNull()
    }
}

/** What a benchmark screen shows of a result: one row per depth, the halting run, the runtime. */
class BenchSummary(val runtime: String, val delegate: String?, val error: String?,
                   val rows: List<Row>, val meanSteps: Double?, val haltingExactAcc: Double?) {
    class Row(val depth: Int, val stepMedian: Double?, val stepP90: Double?,
              val solveMedian: Double?, val solveP90: Double?, val exactAcc: Double?)

    /** Plain text table, as the screens show it (monospace). */
    fun lines(): List<String> {
        if (error != null) return listOf("$runtime: error: $error")
        fun f(x: Double?) = if (x == null) "-" else String.format(Locale.ROOT, "%.3f", x)
        return listOf("$runtime" + (delegate?.let { " ($it)" } ?: ""),
            "depth  step ms med / p90    solve ms med / p90   exact") +
            rows.map { r -> String.format(Locale.ROOT, "%5d  %7s / %-7s   %8s / %-8s  %s", r.depth, f(r.stepMedian), f(r.stepP90),
                f(r.solveMedian), f(r.solveP90), f(r.exactAcc)) } +
            (meanSteps?.let { listOf(String.format(Locale.ROOT, "halting: %.2f steps on average, exact %s", it, f(haltingExactAcc))) } ?: emptyList())
    }

    companion object {
        fun of(result: JSONObject): BenchSummary {
            val rt = result.getJSONArray("runtimes").getJSONObject(0)
            fun num(o: JSONObject?, k: String): Double? = if (o == null || o.isNull(k)) null else o.getDouble(k)
            val depths = rt.optJSONArray("depths") ?: JSONArray()
            val rows = (0 until depths.length()).map {
                val d = depths.getJSONObject(it)
                val st = d.optJSONObject("step_ms"); val so = d.optJSONObject("solve_ms")
                Row(d.getInt("depth"), num(st, "median"), num(st, "p90"), num(so, "median"), num(so, "p90"), num(d, "exact_acc"))
            }
            val h = rt.optJSONObject("halting")
            val name = if (rt.has("runtime")) rt.getString("runtime") else rt.getString("name")
            return BenchSummary("$name ${rt.optString("target")} ${rt.optString("precision")}".trim(),
                if (rt.isNull("delegate") || !rt.has("delegate")) null else rt.getString("delegate"),
                if (rt.isNull("error")) null else rt.getString("error"), rows, num(h, "mean_steps"), num(h, "exact_acc"))
        }
    }
}
