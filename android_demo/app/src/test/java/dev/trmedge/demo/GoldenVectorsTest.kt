package dev.trmedge.demo

import dev.trmedge.demo.runtime.ArtifactException
import dev.trmedge.demo.runtime.HostLoop
import dev.trmedge.demo.runtime.Manifest
import dev.trmedge.demo.runtime.StepOutput
import dev.trmedge.demo.runtime.SudokuBoard
import dev.trmedge.demo.runtime.TokenCodec
import kotlinx.coroutines.runBlocking
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertFalse
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/**
 * The app's pure-Kotlin logic against the golden vectors (no Android, no runtime): tokenizer,
 * decoder (argmax + confidence), the host loop with per-sample halting fed by a fake step, and the
 * Sudoku check. The Python twin of these tests is tests/test_vectors.py.
 */
class GoldenVectorsTest {
    private val v = GoldenVectors.fromResource()
    private val manifest = v.manifest()
    private val codec = TokenCodec(manifest.tokens, manifest.seqLen)

    @Test fun manifestParsesTheExportSchema() {
        assertEquals(v.json.getInt("seq_len"), manifest.seqLen)
        assertEquals(v.cases.size, manifest.batch)
        assertEquals(listOf("x", "y", "z"), manifest.entry("step").inputs.map { it.name })
        assertThrows(ArtifactException::class.java) { Manifest.parse("""{"format": "something-else"}""") }
        assertThrows(ArtifactException::class.java) { manifest.entry("forward") }
    }

    @Test fun tokenizerMatchesVectors() {
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

    @Test fun decoderMatchesRecordedPredictionsAndConfidence() {
        val L = manifest.seqLen
        for (c in v.cases) for ((i, s) in c.steps.withIndex()) {
            val (preds, conf) = HostLoop.decode(StepOutput(s.logits, null, floatArrayOf(s.qHalt)), 1, L)
            val vocab = s.logits.size / L
            for (cell in 0 until L) {
                val row = s.logits.copyOfRange(cell * vocab, (cell + 1) * vocab).sortedDescending()
                if (row[0] - row[1] >= v.logitAtol)   // near-ties may flip after rounding to 5 decimals
                    assertEquals("${c.name} step ${i + 1} cell $cell", s.preds[cell], preds[cell])
                assertEquals(s.confidence[cell], conf[cell], 2e-4f)
            }
        }
    }

    @Test fun hostLoopReplaysHaltingAndFreezesAnswers() = runBlocking {
        val seen = ArrayList<Int>()
        val r = HostLoop(v.maxSteps, v.haltThreshold, halt = true).run(v.ReplaySession(), tokensOfAllCases()) { seen += it.step }
        val L = manifest.seqLen
        assertEquals(v.cases.maxOf { it.haltedAt }, r.steps)
        assertEquals((1..r.steps).toList(), seen)
        for ((b, c) in v.cases.withIndex()) {
            assertEquals(c.name, c.haltedAt, r.haltedAt[b])
            assertArrayEquals(c.name, c.finalPreds, r.finalPreds.copyOfRange(b * L, (b + 1) * L))
        }
    }

    @Test fun haltingOffRunsEveryStepWithRawAnswers() = runBlocking {
        val r = HostLoop(v.maxSteps, v.haltThreshold, halt = false).run(v.ReplaySession(), tokensOfAllCases())
        val L = manifest.seqLen
        assertEquals(v.maxSteps, r.steps)
        for ((b, c) in v.cases.withIndex()) {
            assertEquals(c.haltedAt, r.haltedAt[b])   // still recorded, as in host_loop
            for ((s, u) in r.updates.withIndex()) assertArrayEquals(c.steps[s].preds, u.preds.copyOfRange(b * L, (b + 1) * L))
        }
    }

    @Test fun haltProbabilityIsSigmoidOfQHalt() {
        for (c in v.cases) for (s in c.steps) assertEquals(s.haltProb, HostLoop.sigmoid(s.qHalt), 2e-5f)
    }

    @Test fun sudokuCheckMatchesRecordedCorrectness() {
        val board = SudokuBoard(manifest.seqLen, manifest.box)
        for (c in v.cases) {
            assertTrue(c.name, board.verify(c.tokens, c.labels, codec))
            assertEquals(c.name, c.finalCorrect, board.verify(c.tokens, c.finalPreds, codec))
            val broken = c.labels.copyOf().also { it[0] = it[1] }
            assertFalse(board.verify(c.tokens, broken, codec))
        }
    }

    private fun tokensOfAllCases(): IntArray = v.cases.flatMap { it.tokens.toList() }.toIntArray()
}
