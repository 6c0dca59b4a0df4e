package dev.trmedge.demo.runtime

import dev.trmedge.core.AppRuntimes
import dev.trmedge.core.ArtifactException
import dev.trmedge.core.Manifest
import dev.trmedge.core.TrmSession
import java.io.File

/** Opens a looped artifact with the runtime its manifest's `target` needs (ExecuTorch or LiteRT). */
object TrmSessions {
    /** Verifies every file's sha256 (Manifest.load), then loads the model; [threads] 0 = runtime default. */
    fun open(dir: File, threads: Int = 0): TrmSession {
        val m = Manifest.load(dir)
        if (m.mode != "looped") throw ArtifactException(
            "${m.name}: the app runs looped artifacts (init + step); this one is '${m.mode}'")
        AppRuntimes.check(m)   // before the runtime loads it: one clear line instead of a native load error
        return when (m.target) {
            "executorch" -> ExecuTorchSession(dir, m, threads)
            "tflite" -> LiteRtSession(dir, m, threads)
            else -> throw ArtifactException("${m.name}: target '${m.target}' has no Android runtime in this app " +
                "(export with --target executorch or --target tflite)")
        }
    }
}
