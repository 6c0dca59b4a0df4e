package dev.trmedge.demo

import androidx.test.ext.junit.runners.AndroidJUnit4
import androidx.test.platform.app.InstrumentationRegistry
import dev.trmedge.core.GoldenVectors
import dev.trmedge.core.HostLoop
import dev.trmedge.core.TrmSession
import dev.trmedge.demo.runtime.TrmSessions
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
    // trm_edge/golden_vectors/*.json, added to the test APK's assets (app/build.gradle.kts); the vectors of
    // the bundled checkpoint are the ones whose weights the artifacts were exported from
    private val allVectors = instrumentation.context.assets.list("").orEmpty().filter { it.endsWith(".json") }
        .map { GoldenVectors(JSONObject(instrumentation.context.assets.open(it).bufferedReader().readText())) }

    @Test fun bundledArtifactsReproduceGoldenVectors() {
        val models = BundledModels(instrumentation.targetContext)
        val entries = models.install()
        assumeTrue("no artifact bundled: run `trm-edge export --for-app android`", !entries.isNullOrEmpty())
        for (e in entries!!) {
            if (e.precision != "fp32") continue   // the vectors hold for fp32 artifacts only
            TrmSessions.open(File(models.root, e.name)).use { s ->
                val vectors = allVectors.firstOrNull { it.weightsSha256 == s.manifest.weightsSha256 }
                    ?: throw AssertionError("${e.name}: no trm_edge/golden_vectors file for its weights ${s.manifest.weightsSha256}")
                check(s, e.name, vectors)
            }
        }
    }

    private fun check(s: TrmSession, name: String, vectors: GoldenVectors) {
        val m = s.manifest
        val L = m.seqLen
        for (c in vectors.cases) {
            val q = ArrayList<Float>()
            // the artifact has a static batch: the case is repeated to fill it and row 0 is checked
            val r = HostLoop(vectors.maxSteps, m.haltThreshold, halt = false).run(s, TrmSession.fillBatch(c.tokens, m.batch)) { u ->
                q += u.qHalt[0]
                assertArrayEquals("$name ${c.name} step ${u.step}", firm(vectors, c.steps[u.step - 1].preds, c, u.step),
                    firm(vectors, u.preds.copyOfRange(0, L), c, u.step))
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
    private fun firm(vectors: GoldenVectors, preds: IntArray, c: GoldenVectors.Case, step: Int): IntArray {
        val s = c.steps[step - 1]
        val v = s.logits.size / preds.size
        return IntArray(preds.size) { cell ->
            val row = s.logits.copyOfRange(cell * v, (cell + 1) * v).sortedDescending()
            if (row[0] - row[1] >= vectors.logitAtol) preds[cell] else -1
        }
    }
}
