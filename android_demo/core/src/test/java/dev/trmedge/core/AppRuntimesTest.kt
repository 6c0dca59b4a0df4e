package dev.trmedge.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Test

/** AppRuntimes refuses, in one line, an artifact whose manifest `min_runtime` is newer than the app's runtime. */
class AppRuntimesTest {
    /** The vectors' manifest with `min_runtime` set to [minRuntime] (absent: null), read back by Manifest.parse. */
    private fun manifest(minRuntime: JSONObject?): Manifest {
        val m = GoldenVectors.all().first().manifest()
        val j = JSONObject().put("format", Manifest.FORMAT).put("name", m.name).put("target", m.target)
            .put("mode", m.mode).put("precision", m.precision).put("batch", m.batch)
            .put("task", GoldenVectors.all().first().taskInfo).put("model", JSONObject().put("n_sup", m.nSup))
            .put("entry_points", JSONObject()).put("files", JSONObject())
        if (minRuntime != null) j.put("min_runtime", minRuntime)
        return Manifest.parse(j.toString())
    }

    @Test fun comparesReleaseNumbersPartByPart() {
        assertTrue(AppRuntimes.compare("1.4.1", "1.4.1") == 0)
        assertTrue(AppRuntimes.compare("1.4.1", "1.5.0") < 0)
        assertTrue(AppRuntimes.compare("1.10.0", "1.9.9") > 0)
        assertTrue(AppRuntimes.compare("2", "1.99") > 0)
        assertTrue(AppRuntimes.compare("1.4", "1.4.0") == 0)
    }

    @Test fun acceptsWhatTheShippedRuntimesMeet() {
        AppRuntimes.check(manifest(null))
        AppRuntimes.check(manifest(JSONObject().put("executorch", AppRuntimes.EXECUTORCH)))
        AppRuntimes.check(manifest(JSONObject().put("litert", "1.4.0")))
        AppRuntimes.check(manifest(JSONObject().put("onnxruntime", "9.0")))   // not shipped: TrmSessions refuses the target
        assertEquals(mapOf("executorch" to "1.4.1"), manifest(JSONObject().put("executorch", "1.4.1")).minRuntime)
    }

    @Test fun refusesANewerMinimumInOneLine() {
        val m = manifest(JSONObject().put("executorch", "1.5.1"))
        val e = assertThrows(ArtifactException::class.java) { AppRuntimes.check(m) }
        assertEquals("${m.name} needs executorch >= 1.5.1, this app ships executorch ${AppRuntimes.EXECUTORCH}: update " +
            "android_demo/gradle/libs.versions.toml, or export with the trm-edge release that matches it", e.message)
        assertTrue(!e.message!!.contains('\n'))
        assertThrows(ArtifactException::class.java) {
            AppRuntimes.check(manifest(JSONObject().put("litert", "2.0")), mapOf("litert" to "1.4.1"))
        }
        assertThrows(ArtifactException::class.java) { AppRuntimes.check(manifest(JSONObject().put("litert", "1.x"))) }
    }
}
