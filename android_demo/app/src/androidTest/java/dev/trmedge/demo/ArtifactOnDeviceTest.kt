package dev.trmedge.demo

import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import dev.trmedge.demo.runtime.HostLoop
import dev.trmedge.demo.runtime.TrmSession
import kotlinx.coroutines.runBlocking
import org.json.JSONObject
import org.junit.Assert.assertArrayEquals
import org.junit.Assert.assertEquals
import org.junit.Assert.assertTrue
import org.junit.Assume.assumeTrue
import org.junit.Test
import org.junit.runner.RunWith
import java.io.File
import kotlin.math.abs

/**
 * Runs every artifact bundled in assets/trm (ExecuTorch .pte, LiteRT .tflite) on the device and
 * checks it against the golden vectors, within the tolerance recorded in them:
 * `./gradlew connectedAndroidTest` (after `trm-edge export --for-app android`).
 */
@RunWith(AndroidJUnit4::class)
class ArtifactOnDeviceTest {
    private val instrumentation = InstrumentationRegistry.getInstrumentation()
    private val vectors = GoldenVectors(JSONObject(
        instrumentation.context.assets.open(GoldenVectors.RESOURCE).bufferedReader().readText()))

    @Test fun bundledArtifactsReproduceGoldenVectors() = runBlocking {
        val models = BundledModels(instrumentation.targetContext)
        val entries = models.install()
        assumeTrue("no artifact bundled: run `trm-edge export --for-app android`", !entries.isNullOrEmpty())
        for (e in entries!!) {
            if (e.precision != "fp32") continue   // the vectors hold for fp32 artifacts only
            TrmSession.open(File(models.root, e.name)).use { s -> check(s, e.name) }
        }
    }

    private suspend fun check(s: TrmSession, name: String) {
        val m = s.manifest
        assertEquals("$name exports other weights than the vectors", vectors.weightsSha256, m.weightsSha256)
        val L = m.seqLen
        for (c in vectors.cases) {
            val q = ArrayList<Float>()
            // the artifact has a static batch: the case is repeated to fill it and row 0 is checked
            val r = HostLoop(vectors.maxSteps, m.haltThreshold, halt = false).run(s, TrmSession.fillBatch(c.tokens, m.batch)) { u ->
                q += u.qHalt[0]
                assertArrayEquals("$name ${c.name} step ${u.step}", firm(c.steps[u.step - 1].preds, c, u.step), firm(u.preds.copyOfRange(0, L), c, u.step))
            }
            assertEquals(vectors.maxSteps, r.steps)
            var nearThreshold = false
            for ((i, step) in c.steps.withIndex()) {
                assertTrue("$name ${c.name} step ${i + 1} q_halt", abs(q[i] - step.qHalt) <= vectors.qAtol)
                if (abs(step.qHalt - vectors.haltThreshold) < vectors.qAtol) nearThreshold = true
            }
            if (!nearThreshold) assertEquals("$name ${c.name} halting step", c.haltedAt, r.haltedAt[0])
        }
    }

    /** Predictions of the cells whose recorded top-2 logit margin is not a near-tie (others: -1). */
    private fun firm(preds: IntArray, c: GoldenVectors.Case, step: Int): IntArray {
        val s = c.steps[step - 1]
        val v = s.logits.size / preds.size
        return IntArray(preds.size) { cell ->
            val row = s.logits.copyOfRange(cell * v, (cell + 1) * v).sortedDescending()
            if (row[0] - row[1] >= vectors.logitAtol) preds[cell] else -1
        }
    }
}
