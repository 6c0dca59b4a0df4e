package dev.trmedge.core

import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * The core's logic against every golden-vector file in trm_edge/golden_vectors (no Android, no runtime):
 * tokenizer, decoder (argmax + confidence), the host loop with per-sample halting fed by the
 * recorded step outputs, and the Sudoku check. Expected values are read from the files only.
 * The Python twin of these tests is tests/test_vectors.py.
 */
class GoldenVectorsTest {
    private val all = GoldenVectors.all()

    @Test fun manifestParsesTheExportSchema() = forEach { v, manifest, _ ->
        assertEquals(v.json.getInt("seq_len"), manifest.seqLen)
        assertEquals(v.cases.size, manifest.batch)
        assertEquals(listOf("x", "y", "z"), manifest.entry("step").inputs.map { it.name })
        assertThrows(ArtifactException::class.java) { Manifest.parse("""{"format": "something-else"}""") }
        assertThrows(ArtifactException::class.java) { Manifest.parse("not json") }
        assertThrows(ArtifactException::class.java) { manifest.entry("forward") }
    }

    @Test fun tokenizerMatchesVectors() = forEach { v, manifest, codec ->
        for (c in v.cases) {
            assertArrayEquals(c.name, c.tokens, codec.encode(c.puzzle))
            assertEquals(c.puzzle, codec.decode(c.tokens))
            assertEquals(c.finalText, codec.decode(c.finalPreds))
            // the rendered-board form with spaces and box separators parses to the same tokens
            val spaced = c.puzzle.chunked(SudokuBoard(manifest.seqLen).n).joinToString(" | ")
            assertArrayEquals(c.tokens, codec.encode(spaced))
        }
        assertThrows(TokenCodec.PuzzleFormatException::class.java) { codec.encode("x" + v.cases[0].puzzle.drop(1)) }
        assertThrows(TokenCodec.PuzzleFormatException::class.java) { codec.encode(v.cases[0].puzzle.drop(1)) }
    }

    @Test fun decoderMatchesRecordedPredictionsAndConfidence() = forEach { v, manifest, _ ->
        val L = manifest.seqLen
        for (c in v.cases) for ((i, s) in c.steps.withIndex()) {
            val (preds, conf) = HostLoop.decode(StepOutput(s.logits, null, floatArrayOf(s.qHalt)), 1, L)
            val vocab = s.logits.size / L
            for (cell in 0 until L) {
                val row = s.logits.copyOfRange(cell * vocab, (cell + 1) * vocab).sortedDescending()
                if (row[0] - row[1] >= v.logitAtol)   // near-ties may flip after rounding to 5 decimals
                    assertEquals("${v.source} ${c.name} step ${i + 1} cell $cell", s.preds[cell], preds[cell])
                assertEquals(s.confidence[cell], conf[cell], 2e-4f)
            }
        }
    }

    @Test fun hostLoopReplaysHaltingAndFreezesAnswers() = forEach { v, manifest, _ ->
        val seen = ArrayList<Int>()
        val r = HostLoop(v.maxSteps, v.haltThreshold, halt = true).run(v.ReplaySession(), tokensOfAllCases(v)) { seen += it.step }
        val L = manifest.seqLen
        assertEquals(v.cases.maxOf { it.haltedAt }, r.steps)
        assertEquals((1..r.steps).toList(), seen)
        for ((b, c) in v.cases.withIndex()) {
            assertEquals(c.name, c.haltedAt, r.haltedAt[b])
            assertArrayEquals(c.name, c.finalPreds, r.finalPreds.copyOfRange(b * L, (b + 1) * L))
        }
    }

    @Test fun haltingOffRunsEveryStepWithRawAnswers() = forEach { v, manifest, _ ->
        val r = HostLoop(v.maxSteps, v.haltThreshold, halt = false).run(v.ReplaySession(), tokensOfAllCases(v))
        val L = manifest.seqLen
        assertEquals(v.maxSteps, r.steps)
        for ((b, c) in v.cases.withIndex()) {
            assertEquals(c.haltedAt, r.haltedAt[b])   // still recorded, as in host_loop
            for ((s, u) in r.updates.withIndex()) assertArrayEquals(c.steps[s].preds, u.preds.copyOfRange(b * L, (b + 1) * L))
        }
    }

    @Test fun steppingByHandMatchesRun() = forEach { v, _, _ ->
        val loop = HostLoop(v.maxSteps, v.haltThreshold, halt = true)
        val run = loop.start(v.ReplaySession(), tokensOfAllCases(v))
        var n = 0
        while (run.next() != null) n++
        assertEquals(v.cases.maxOf { it.haltedAt }, n)
        assertEquals(null, run.next())   // stopped stays stopped
        assertArrayEquals(v.cases.map { it.haltedAt }.toIntArray(), run.result().haltedAt)
    }

    @Test fun haltProbabilityIsSigmoidOfQHalt() = forEach { v, _, _ ->
        for (c in v.cases) for (s in c.steps) assertEquals(s.haltProb, HostLoop.sigmoid(s.qHalt), 2e-5f)
    }

    @Test fun sudokuCheckMatchesRecordedCorrectness() = forEach { v, manifest, codec ->
        val board = SudokuBoard(manifest.seqLen, manifest.box)
        for (c in v.cases) {
            assertTrue(c.name, board.verify(c.tokens, c.labels, codec))
            assertEquals(c.name, c.finalCorrect, board.verify(c.tokens, c.finalPreds, codec))
            val broken = c.labels.copyOf().also { it[0] = it[1] }
            assertFalse(board.verify(c.tokens, broken, codec))
        }
    }

    private fun forEach(check: (GoldenVectors, Manifest, TokenCodec) -> Unit) {
        for (v in all) {
            val m = v.manifest()
            check(v, m, TokenCodec(m.tokens, m.seqLen))
        }
    }

    private fun tokensOfAllCases(v: GoldenVectors): IntArray = v.cases.flatMap { it.tokens.toList() }.toIntArray()
}
