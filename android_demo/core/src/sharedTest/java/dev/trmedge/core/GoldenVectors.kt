package dev.trmedge.core

import org.json.JSONArray
import org.json.JSONObject
import java.io.File

/**
 * trm_edge/golden_vectors/<checkpoint>.json (written by `trm-edge vectors`, schema trm-edge-vectors/1),
 * shared by the core's JVM tests and the app's instrumented test. The JVM tests read every file of
 * the folder named by the system property `trm.vectors.dir` (set by core/build.gradle.kts and by
 * .ci/apps.sh); the instrumented test reads them from its assets. Nothing expected is written here:
 * every answer comes from the file.
 */
class GoldenVectors(val json: JSONObject, val source: String = json.optString("checkpoint")) {
    class Step(val preds: IntArray, val qHalt: Float, val haltProb: Float, val confidence: FloatArray, val logits: FloatArray)
    class Case(val name: String, val puzzle: String, val tokens: IntArray, val labels: IntArray,
               val haltedAt: Int, val finalPreds: IntArray, val finalText: String, val finalCorrect: Boolean,
               val steps: List<Step>)

    val maxSteps = json.getInt("max_steps")
    val haltThreshold = json.getDouble("halt_threshold").toFloat()
    val logitAtol = json.getJSONObject("tolerance").getDouble("logit_atol").toFloat()
    val qAtol = json.getJSONObject("tolerance").getDouble("q_atol").toFloat()
    val taskInfo: JSONObject = json.getJSONObject("task_info")
    val weightsSha256: String = json.optString("weights_sha256")
    val cases: List<Case> = json.getJSONArray("cases").let { a -> (0 until a.length()).map { case(a.getJSONObject(it)) } }

    /** A manifest in the export schema for a fake looped artifact over these vectors (batch = all cases). */
    fun manifest(batch: Int = cases.size): Manifest {
        val seq = json.getInt("seq_len"); val v = json.getInt("vocab_size")
        fun t(name: String, shape: List<Int>, dtype: String = "float32") =
            JSONObject().put("name", name).put("shape", JSONArray(shape)).put("dtype", dtype)
        val m = JSONObject()
            .put("format", Manifest.FORMAT).put("name", "golden-replay").put("target", "replay")
            .put("mode", "looped").put("precision", "fp32").put("depth", JSONObject.NULL).put("batch", batch)
            .put("task", taskInfo)
            .put("model", JSONObject().put("seq_len", seq).put("vocab_size", v).put("n_sup", json.getInt("n_sup"))
                .put("halt_threshold", haltThreshold.toDouble()))
            .put("entry_points", JSONObject()
                .put("init", JSONObject().put("file", "none").put("method", "init")
                    .put("inputs", JSONArray().put(t("tokens", listOf(batch, seq), "int32")))
                    .put("outputs", JSONArray().put(t("x", listOf(batch, seq, 1))).put(t("y", listOf(batch, seq, 1))).put(t("z", listOf(batch, seq, 1)))))
                .put("step", JSONObject().put("file", "none").put("method", "step")
                    .put("inputs", JSONArray().put(t("x", listOf(batch, seq, 1))).put(t("y", listOf(batch, seq, 1))).put(t("z", listOf(batch, seq, 1))))
                    .put("outputs", JSONArray().put(t("y_next", listOf(batch, seq, 1))).put(t("z_next", listOf(batch, seq, 1)))
                        .put(t("logits", listOf(batch, seq, v))).put(t("preds", listOf(batch, seq), "int32"))
                        .put(t("q_halt", listOf(batch))))))
            .put("files", JSONObject())
        return Manifest.parse(m.toString())
    }

    /** A fake runtime whose `step` returns the recorded logits / q_halt: the app's loop is what is tested. */
    inner class ReplaySession(override val manifest: Manifest = manifest()) : TrmSession {
        override val runtimeName = "replay"
        override val delegate: String? = null
        private var s = 0
        override fun init(tokens: IntArray, batch: Int) {
            check(tokens.contentEquals(cases.flatMap { it.tokens.toList() }.toIntArray())) { "init got other tokens" }
            s = 0
        }
        override fun step(): StepOutput {
            val step = cases.map { it.steps[s] }
            s++
            return StepOutput(step.flatMap { it.logits.toList() }.toFloatArray(), null, step.map { it.qHalt }.toFloatArray())
        }
        override fun close() {}
    }

    companion object {
        const val DIR_PROPERTY = "trm.vectors.dir"
        const val FORMAT = "trm-edge-vectors/1"

        /** Every .json file in [dir], sorted by name; fails if there is none. */
        fun all(dir: File = File(System.getProperty(DIR_PROPERTY) ?: error("set -D$DIR_PROPERTY=<repo>/trm_edge/golden_vectors"))): List<GoldenVectors> {
            val files = dir.listFiles { f -> f.isFile && f.name.endsWith(".json") }.orEmpty().sortedBy { it.name }
            check(files.isNotEmpty()) { "no golden vectors in $dir: run `trm-edge vectors` in the repository root" }
            return files.map { f ->
                val j = JSONObject(f.readText())
                check(j.optString("format") == FORMAT) { "${f.name}: format '${j.optString("format")}', expected $FORMAT" }
                GoldenVectors(j, f.name)
            }
        }

        private fun ints(a: JSONArray) = IntArray(a.length()) { a.getInt(it) }
        private fun floats(a: JSONArray) = FloatArray(a.length()) { a.getDouble(it).toFloat() }

        private fun case(c: JSONObject): Case {
            val steps = c.getJSONArray("steps").let { a ->
                (0 until a.length()).map {
                    val s = a.getJSONObject(it)
                    val rows = s.getJSONArray("logits")
                    val logits = (0 until rows.length()).flatMap { r -> floats(rows.getJSONArray(r)).toList() }.toFloatArray()
                    Step(ints(s.getJSONArray("preds")), s.getDouble("q_halt").toFloat(), s.getDouble("halt_prob").toFloat(), floats(s.getJSONArray("confidence")), logits)
                }
            }
            return Case(c.getString("name"), c.getString("puzzle"), ints(c.getJSONArray("tokens")), ints(c.getJSONArray("labels")),
                c.getInt("halted_at"), ints(c.getJSONArray("final_preds")), c.getString("final_text"),
                c.getBoolean("final_correct"), steps)
        }
    }
}
