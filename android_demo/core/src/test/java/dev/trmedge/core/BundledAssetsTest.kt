package dev.trmedge.core

import org.json.JSONObject
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertNotNull
import org.junit.Assert.assertTrue
import org.junit.Test
import java.io.File

/**
 * The models committed into the apps (android_demo/app/src/main/assets/trm, ios_demo/TRMDemo/
 * Resources/trm; folders named by -Dtrm.assets.dirs, separated by the path separator) read by the
 * app's own core: index.json, every file's sha256 against its manifest (Manifest.load), exported
 * from the weights the golden vectors were recorded from, the manifest's tokens / n_sup / halting
 * threshold replaying those vectors through HostLoop to the recorded answers and halting steps,
 * and puzzles.json solvable boards of the same task. (The real runtimes on these files: the
 * instrumented test on a device, and tests/test_app_assets.py with ExecuTorch / LiteRT on the host.)
 */
class BundledAssetsTest {
    private val vectors = GoldenVectors.all()
    private val dirs = (System.getProperty(PROPERTY) ?: error("set -D$PROPERTY=<assets/trm>[:<Resources/trm>]"))
        .split(File.pathSeparator).filter { it.isNotEmpty() }.map(::File)

    @Test fun committedAssetsAreTheBundledModel() {
        assertTrue("no folder in -D$PROPERTY", dirs.isNotEmpty())
        for (dir in dirs) {
            val index = JSONObject(File(dir, "index.json").readText())
            assertEquals("trm-edge-app-assets/1", index.getString("format"))
            val arts = index.getJSONArray("artifacts")
            val names = (0 until arts.length()).map { arts.getJSONObject(it).getString("name") }
            assertTrue("$dir: default not listed", index.getString("default") in names)
            val tasks = mutableSetOf<String>()
            for (name in names) {
                val m = Manifest.load(File(dir, name))     // sha256 of every file vs the manifest
                assertEquals(name, m.name)
                assertEquals("looped", m.mode)
                tasks += m.task
                val v = vectors.firstOrNull { it.weightsSha256 == m.weightsSha256 }
                assertNotNull("$dir/$name was exported from weights no golden vectors were recorded from", v)
                replay(v!!, m, "$dir/$name")
            }
            assertEquals(1, tasks.size)
            val p = Puzzles.parse(File(dir, "puzzles.json").readText())
            val m = Manifest.load(File(dir, names.first()))
            assertEquals(m.task, p.task)
            val codec = TokenCodec(m.tokens, m.seqLen); val board = SudokuBoard(m.seqLen, m.box)
            for (i in p.inputs.indices) assertTrue("$dir puzzle $i", board.verify(p.inputs[i], p.labels[i], codec))
        }
    }

    /** The asset's own manifest (codec, n_sup, threshold, shapes) drives the loop over the recorded steps. */
    private fun replay(v: GoldenVectors, m: Manifest, where: String) {
        assertEquals(where, v.json.getInt("seq_len"), m.seqLen)
        assertEquals(where, v.json.getInt("n_sup"), m.nSup)
        assertEquals(where, v.haltThreshold, m.haltThreshold, 0f)
        assertEquals(where, listOf(m.batch, m.seqLen), m.entry("init").inputs.single().shape)
        val codec = TokenCodec(m.tokens, m.seqLen)
        val session = VectorsSession(v, v.manifest(1))
        for (c in v.cases) {
            assertArrayEquals("$where ${c.name}", c.tokens, codec.encode(c.puzzle))
            val r = HostLoop(minOf(m.nSup, v.maxSteps), m.haltThreshold, halt = true).run(session, TrmSession.fillBatch(c.tokens, 1))
            assertEquals("$where ${c.name} halting step", c.haltedAt, r.haltedAt[0])
            assertArrayEquals("$where ${c.name} answer", c.finalPreds, r.finalPreds)
            assertEquals("$where ${c.name}", c.finalText, codec.decode(r.finalPreds))
        }
    }

    companion object { const val PROPERTY = "trm.assets.dirs" }
}
