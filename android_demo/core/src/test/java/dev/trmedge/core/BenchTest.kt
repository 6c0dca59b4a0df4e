package dev.trmedge.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNull
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

/**
 * The benchmark (Bench, BenchSummary) that the app's benchmark screen and adb mode run, on a
 * session replaying every golden-vector file: the result's shape is `trm-edge-bench/1`, the
 * statistics count what was timed, and accuracy / halting equal what the vectors recorded.
 * With -Dtrm.bench.out=FILE the result is written there (.ci/apps.sh reads it back with
 * trm_edge.bench.report.load_result, the host bench's schema check).
 */
class BenchTest {
    private val all = GoldenVectors.all()
    private val device = JSONObject().put("name", "jvm").put("platform", "jvm-test")

    private fun bench(v: GoldenVectors, args: BenchArgs, puzzles: () -> Puzzles = { VectorsSession(v).puzzles() }): JSONObject =
        Bench(args, device).run(puzzles) { VectorsSession(v) }

    @Test fun resultFollowsTheVectors() {
        for (v in all) {
            val n = v.cases.size
            val args = BenchArgs("bundled/${v.source}", depths = listOf(8, 1, 2, 4, 2, 99), runs = 3, warmup = 1, nPuzzles = n)
            val r = bench(v, args)
            assertEquals(Bench.SCHEMA, r.getString("schema"))
            val rt = r.getJSONArray("runtimes").getJSONObject(0)
            assertTrue(v.source + ": " + rt.opt("error"), rt.isNull("error"))
            assertEquals("replay", rt.getString("runtime"))
            assertTrue(r.getJSONArray("notes").toString().contains("depths above n_sup"))
            val depths = rt.getJSONArray("depths")
            assertEquals(listOf(1, 2, 4, 8), (0 until depths.length()).map { depths.getJSONObject(it).getInt("depth") })
            val m = v.manifest(1)
            val codec = TokenCodec(m.tokens, m.seqLen); val board = SudokuBoard(m.seqLen, m.box)
            for (i in 0 until depths.length()) {
                val row = depths.getJSONObject(i); val d = row.getInt("depth")
                val step = row.getJSONObject("step_ms"); val solve = row.getJSONObject("solve_ms")
                assertEquals(3 * d, step.getInt("n"))           // R runs x d steps, halting off
                assertEquals(3, solve.getInt("n"))
                assertTrue(step.getDouble("min") <= step.getDouble("median") && step.getDouble("median") <= step.getDouble("p90"))
                val exact = v.cases.count { board.verify(it.tokens, it.steps[d - 1].preds, codec) }.toDouble() / n
                assertEquals("${v.source} exact at depth $d", exact, row.getDouble("exact_acc"), 1e-12)
            }
            val h = rt.getJSONObject("halting")
            val stepsRecorded = v.cases.sumOf { it.haltedAt }.toDouble() / n
            assertEquals(v.source, stepsRecorded, h.getDouble("mean_steps"), 1e-12)
            val exactRecorded = v.cases.count { board.verify(it.tokens, it.finalPreds, codec) }.toDouble() / n
            assertEquals(v.source, exactRecorded, h.getDouble("exact_acc"), 1e-12)

            val summary = BenchSummary.of(r)
            assertEquals(listOf(1, 2, 4, 8), summary.rows.map { it.depth })
            assertEquals(stepsRecorded, summary.meanSteps!!, 1e-12)
            assertEquals(2 + 4 + 1, summary.lines().size)   // header, column names, 4 depths, halting
            System.getProperty("trm.bench.out")?.let { File(it).writeText(r.toString(2) + "\n") }
        }
    }

    @Test fun badInputBecomesTheResultsErrorNotACrash() {
        val v = all.first()
        val wrongTask = bench(v, BenchArgs("x", depths = listOf(1), runs = 1)) { Puzzles("other-task", listOf(intArrayOf(1)), listOf(intArrayOf(1))) }
        val rt = wrongTask.getJSONArray("runtimes").getJSONObject(0)
        assertTrue(rt.getString("error").contains("puzzles are for other-task"))
        assertEquals(0, rt.getJSONArray("depths").length())
        for (k in listOf("target", "first_call_ms", "halting")) assertTrue(k, rt.has(k))
        val noRuns = bench(v, BenchArgs("x", depths = listOf(1), runs = 0)).getJSONArray("runtimes").getJSONObject(0)
        assertTrue(noRuns.getString("error").contains("runs must be >= 1"))
        val errLines = BenchSummary.of(bench(v, BenchArgs("x", depths = listOf(1), runs = 0))).lines()
        assertEquals(1, errLines.size)
        assertTrue(errLines[0], errLines[0].contains("error: IllegalArgumentException: runs must be >= 1"))
        val noDepth = bench(v, BenchArgs("x", depths = listOf(0, 99), runs = 1)).getJSONArray("runtimes").getJSONObject(0)
        assertTrue(noDepth.getString("error").contains("no depth in 1.."))
        assertNull(BenchSummary.of(bench(v, BenchArgs("x", depths = listOf(1), runs = 1, halt = false))).meanSteps)
    }
}
