package dev.trmedge.core

import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Test

/** The bench statistics: numpy's median / linear percentile, and runs = 0 without a crash. */
class BenchStatsTest {
    @Test fun statisticsFollowNumpy() {
        // numpy.median([4, 1, 3, 2]) = 2.5; numpy.percentile(..., 90) = 3 + 0.7 * (4 - 3) = 3.7
        val s = LatencyStats.of(listOf(4.0, 1.0, 3.0, 2.0))
        assertEquals(2.5, s.median!!, 1e-12)
        assertEquals(3.7, s.p90!!, 1e-12)
        assertEquals(1.0, s.min!!, 0.0)
        assertEquals(4, s.n)
        assertEquals(7.0, LatencyStats.of(listOf(7.0)).p90!!, 0.0)
    }

    @Test fun noRunsGiveNullStatisticsNotACrash() {
        val s = LatencyStats.of(emptyList())
        assertEquals(LatencyStats(null, null, null, 0), s)
        val j = s.toJson()
        assertEquals(0, j.getInt("n"))
        for (k in listOf("median", "p90", "min")) assertEquals(k, true, j.isNull(k))
    }

    @Test fun puzzlesFileIsValidated() {
        val p = Puzzles.parse("""{"task": "sudoku4", "inputs": [[1, 2]], "labels": [[2, 3]]}""")
        assertEquals("sudoku4", p.task)
        assertThrows(IllegalArgumentException::class.java) { Puzzles.parse("""{"task": "t", "inputs": [], "labels": []}""") }
        assertThrows(IllegalArgumentException::class.java) { Puzzles.parse("{") }
    }
}
