package dev.trmedge.core

import org.json.JSONArray
import org.json.JSONObject

/**
 * Latency statistics of the bench JSON (`trm-edge-bench/1`, benchmarks/README.md), computed as
 * trm_edge.bench.host does: numpy's median and linearly interpolated percentile. An empty sample
 * (runs = 0) has no statistics: every field but `n` is null instead of a crash.
 */
data class LatencyStats(val median: Double?, val p90: Double?, val min: Double?, val n: Int) {
    fun toJson(): JSONObject = JSONObject()
        .put("median", median ?: JSONObject.NULL).put("p90", p90 ?: JSONObject.NULL)
        .put("min", min ?: JSONObject.NULL).put("n", n)

    companion object {
        fun of(xs: List<Double>): LatencyStats {
            if (xs.isEmpty()) return LatencyStats(null, null, null, 0)
            val a = xs.sorted()
            return LatencyStats(percentile(a, 0.5), percentile(a, 0.9), a.first(), a.size)
        }

        /** numpy.percentile(a, 100 q) with the default linear interpolation; [sorted] is non-empty. */
        fun percentile(sorted: List<Double>, q: Double): Double {
            require(sorted.isNotEmpty() && q in 0.0..1.0) { "percentile of an empty sample or q outside [0, 1]" }
            val pos = q * (sorted.size - 1)
            val lo = pos.toInt()
            val hi = minOf(lo + 1, sorted.size - 1)
            return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
        }
    }
}

/** Puzzles in the bench's puzzles.json format: {"task", "inputs": [[tokens]], "labels": [[tokens]]}. */
class Puzzles(val task: String, val inputs: List<IntArray>, val labels: List<IntArray>) {
    companion object {
        fun parse(text: String): Puzzles {
            val j = try { JSONObject(text) } catch (e: Exception) {
                throw IllegalArgumentException("puzzles file is not valid JSON: ${e.message}")
            }
            fun rows(a: JSONArray) = (0 until a.length()).map { i ->
                val r = a.getJSONArray(i); IntArray(r.length()) { r.getInt(it) }
            }
            val p = Puzzles(j.getString("task"), rows(j.getJSONArray("inputs")), rows(j.getJSONArray("labels")))
            if (p.inputs.isEmpty() || p.inputs.size != p.labels.size)
                throw IllegalArgumentException("puzzles file has ${p.inputs.size} inputs and ${p.labels.size} labels")
            return p
        }
    }
}
