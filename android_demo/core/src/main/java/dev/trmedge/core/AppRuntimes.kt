package dev.trmedge.core

/**
 * The runtime releases this app ships and the one rule that compares them with an artifact's
 * manifest `min_runtime` (runtime -> the oldest release the artifact was measured to run on, written
 * by `trm-edge export` from trm_edge/targets.py and measured by scripts/check_app_runtimes.py).
 * [SHIPPED] must equal the AAR versions in gradle/libs.versions.toml (tests/apps/test_app_runtimes.py
 * checks it): ExecuTorch = `org.pytorch:executorch-android`, LiteRT = `com.google.ai.edge.litert:litert`.
 */
object AppRuntimes {
    const val EXECUTORCH = "1.4.1"
    const val LITERT = "1.4.1"
    val SHIPPED: Map<String, String> = mapOf("executorch" to EXECUTORCH, "litert" to LITERT)

    /** Throws ArtifactException (one line) when [m] needs a newer release of a runtime than [shipped]
     *  has; a runtime the app does not ship is left to TrmSessions (it refuses the target). */
    fun check(m: Manifest, shipped: Map<String, String> = SHIPPED) {
        for ((runtime, need) in m.minRuntime) {
            val have = shipped[runtime] ?: continue
            if (compare(have, need) < 0) throw ArtifactException(
                "${m.name} needs $runtime >= $need, this app ships $runtime $have: update " +
                    "android_demo/gradle/libs.versions.toml, or export with the trm-edge release that matches it")
        }
    }

    /** Release numbers "1.4.1" compared part by part as numbers (missing parts = 0). */
    fun compare(a: String, b: String): Int {
        val x = parts(a)
        val y = parts(b)
        for (i in 0 until maxOf(x.size, y.size)) {
            val c = x.getOrElse(i) { 0 }.compareTo(y.getOrElse(i) { 0 })
            if (c != 0) return c
        }
        return 0
    }

    private fun parts(v: String): List<Int> = v.split('.').map {
        it.toIntOrNull() ?: throw ArtifactException("min_runtime: '$v' is not a release number like 1.4.1")
    }
}
