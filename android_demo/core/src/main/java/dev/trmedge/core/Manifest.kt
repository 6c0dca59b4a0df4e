package dev.trmedge.core

import org.json.JSONArray
import org.json.JSONObject
import java.io.File
import java.security.MessageDigest

/** One tensor of an entry point, as listed in manifest.json (`runtime_name`: the name inside the
 *  model file when it differs, e.g. a TFLite signature's tensor names). */
data class TensorSpec(val name: String, val shape: List<Int>, val dtype: String, val runtimeName: String = name) {
    val numel: Int get() = shape.fold(1) { a, b -> a * b }
}

/** An entry point: `init` / `step` (looped) or `forward` (unrolled); `method` = .pte method / .tflite signature. */
data class EntryPoint(val name: String, val file: String, val method: String,
                      val inputs: List<TensorSpec>, val outputs: List<TensorSpec>) {
    fun output(name: String): TensorSpec? = outputs.firstOrNull { it.name == name }
}

/** `task.tokens` of the manifest: {"pad": 0, "blank": 1, "symbols": {"1": 2, ...}}. */
data class TokenEncoding(val pad: Int, val blank: Int, val symbols: Map<String, Int>)

/**
 * The artifact contract written by `trm-edge export` (schema `trm-edge-artifact/1`, documented in
 * notes/README-export.md). The app reads every shape, name and the token encoding from here.
 */
data class Manifest(
    val name: String,
    val target: String,               // executorch | tflite | coreml | onnx
    val mode: String,                 // looped | unrolled
    val precision: String,
    val depth: Int?,                  // unrolled: K supervision steps
    val batch: Int,                   // static batch of every entry point
    val task: String,
    val seqLen: Int,
    val vocabSize: Int,
    val nSup: Int,
    val haltThreshold: Float,
    val params: Long?,
    val tokens: TokenEncoding,
    val box: Pair<Int, Int>?,
    val entryPoints: Map<String, EntryPoint>,
    val files: Map<String, String>,   // relative path -> sha256
    val fileBytes: Map<String, Long>,
    val configJson: JSONObject?,      // TRMConfig as exported (for the bench JSON)
    val weightsSha256: String?,       // source.weights_sha256: which weights were exported
    val minRuntime: Map<String, String> = emptyMap(),   // min_runtime: runtime -> oldest release it runs on
) {
    fun entry(name: String): EntryPoint =
        entryPoints[name] ?: throw ArtifactException("artifact ${this.name} has no entry point '$name' (has ${entryPoints.keys})")

    val sizeBytes: Long get() = fileBytes.values.sum()

    companion object {
        const val FORMAT = "trm-edge-artifact/1"
        const val FILE = "manifest.json"

        fun parse(text: String): Manifest {
            val j = try { JSONObject(text) } catch (e: Exception) {
                throw ArtifactException("manifest.json is not valid JSON: ${e.message}")
            }
            val format = j.optString("format")
            if (format != FORMAT) throw ArtifactException("unsupported manifest format '$format' (expected $FORMAT)")
            val task = j.getJSONObject("task")
            val model = j.getJSONObject("model")
            val tok = task.getJSONObject("tokens")
            val syms = tok.optJSONObject("symbols") ?: JSONObject()
            val box = task.optJSONArray("box")?.let { it.getInt(0) to it.getInt(1) }
            val eps = j.getJSONObject("entry_points")
            val entries = eps.keys().asSequence().associateWith { n ->
                val e = eps.getJSONObject(n)
                EntryPoint(n, e.getString("file"), e.optString("method", n).ifEmpty { n },
                    specs(e.getJSONArray("inputs")), specs(e.getJSONArray("outputs")))
            }
            val filesJ = j.getJSONObject("files")
            val files = filesJ.keys().asSequence().associateWith { filesJ.getJSONObject(it).getString("sha256") }
            val bytes = filesJ.keys().asSequence().associateWith { filesJ.getJSONObject(it).getLong("bytes") }
            return Manifest(
                name = j.getString("name"),
                target = j.getString("target"),
                mode = j.getString("mode"),
                precision = j.getString("precision"),
                depth = if (j.isNull("depth")) null else j.optInt("depth"),
                batch = j.optInt("batch", 1),
                task = task.getString("name"),
                seqLen = task.getInt("seq_len"),
                vocabSize = task.getInt("vocab_size"),
                nSup = model.getInt("n_sup"),
                haltThreshold = model.optDouble("halt_threshold", 0.0).toFloat(),
                params = if (model.has("params")) model.getLong("params") else null,
                tokens = TokenEncoding(
                    pad = tok.optInt("pad", 0),
                    blank = tok.optInt("blank", 1),
                    symbols = syms.keys().asSequence().associateWith { syms.getInt(it) },
                ),
                box = box,
                entryPoints = entries,
                files = files,
                fileBytes = bytes,
                configJson = model.optJSONObject("config"),
                weightsSha256 = j.optJSONObject("source")?.optString("weights_sha256")?.ifEmpty { null },
                minRuntime = j.optJSONObject("min_runtime")?.let { r -> r.keys().asSequence().associateWith { r.getString(it) } }
                    ?: emptyMap(),
            )
        }

        private fun specs(a: JSONArray): List<TensorSpec> = (0 until a.length()).map { i ->
            val t = a.getJSONObject(i)
            val shape = t.getJSONArray("shape")
            val name = t.getString("name")
            TensorSpec(name, (0 until shape.length()).map { shape.getInt(it) }, t.getString("dtype"),
                t.optString("runtime_name", name).ifEmpty { name })
        }

        /** Reads dir/manifest.json and refuses a partial or tampered artifact (sha256 of every file). */
        fun load(dir: File): Manifest {
            val f = File(dir, FILE)
            if (!f.isFile) throw ArtifactException("$dir is not an artifact (no $FILE)")
            val m = parse(f.readText())
            for ((rel, sha) in m.files) {
                val p = File(dir, rel)
                if (rel.split('/').contains("..") || !p.isFile) throw ArtifactException("artifact $dir is incomplete: $rel is missing")
                if (sha256(p) != sha) throw ArtifactException("artifact $dir is tampered or corrupt: sha256 of $rel does not match the manifest")
            }
            return m
        }

        fun sha256(f: File): String {
            val md = MessageDigest.getInstance("SHA-256")
            f.inputStream().use { s ->
                val buf = ByteArray(1 shl 16)
                while (true) { val n = s.read(buf); if (n < 0) break; md.update(buf, 0, n) }
            }
            return md.digest().joinToString("") { "%02x".format(it) }
        }
    }
}

class ArtifactException(message: String) : RuntimeException(message)
