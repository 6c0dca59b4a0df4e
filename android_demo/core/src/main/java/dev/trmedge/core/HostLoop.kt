package dev.trmedge.core

import kotlin.math.exp

/**
 * The host recursion loop, the Kotlin twin of `trm_edge.runtime.loop.host_loop` (same semantics,
 * tested against the same golden vectors):
 *
 *   init(tokens) once; then for s in 1..maxSteps: step() -> logits (B, L, V), qHalt (B)
 *   preds = argmax(logits), confidence = max softmax prob, per cell (decoding is on the host)
 *   a sample halts at the first step with qHalt > threshold; its answer is frozen from then on
 *   stop when every sample has halted (halt = true) or after maxSteps
 *
 * The state (x, y, z) never leaves the session's own tensors. Plain Kotlin, no coroutines: [run]
 * is inline, so the app's per-step callback may suspend (redraw, slow motion, cancellation checks).
 */
class HostLoop(
    val maxSteps: Int,
    val threshold: Float,
    val halt: Boolean = true,
) {
    init {
        require(maxSteps >= 1) { "maxSteps must be >= 1, got $maxSteps" }
    }

    /** What the UI redraws after every supervision step. Arrays are (B*L) / (B), row-major. */
    class StepUpdate(
        val step: Int,
        val preds: IntArray,          // answers, frozen for samples that halted earlier
        val confidence: FloatArray,   // max softmax probability of each cell's answer
        val qHalt: FloatArray,        // raw halting logits of this step
        val haltedAt: IntArray,       // 0 = not halted yet, else the step whose answer is final
        val stepMs: Double,           // wall time of this step() call
    ) {
        fun haltProbability(b: Int): Float = sigmoid(qHalt[b])
    }

    class Result(val updates: List<StepUpdate>, val haltedAt: IntArray, val initMs: Double) {
        val steps: Int get() = updates.size
        val finalPreds: IntArray get() = updates.last().preds
        val totalMs: Double get() = initMs + updates.sumOf { it.stepMs }
    }

    /**
     * Runs the loop on [tokens] (B*L int32, B = tokens.size / seqLen). [onStep] is called after
     * every step, outside the timed region; the app redraws there, and a coroutine caller stops
     * the loop by suspending or throwing there (e.g. `ensureActive()`).
     */
    inline fun run(session: TrmSession, tokens: IntArray, onStep: (StepUpdate) -> Unit = {}): Result {
        val r = start(session, tokens)
        while (true) onStep(r.next() ?: break)
        return r.result()
    }

    /** Calls `init` and returns the run, stepped one supervision step at a time by [Run.next]. */
    fun start(session: TrmSession, tokens: IntArray): Run = Run(session, tokens)

    inner class Run internal constructor(private val session: TrmSession, tokens: IntArray) {
        private val L = session.manifest.seqLen
        private val b: Int
        private val initMs: Double
        private val haltedAt: IntArray            // 0 = still running
        private var prev: IntArray? = null
        private val updates = ArrayList<StepUpdate>()
        private var done = false

        init {
            require(tokens.size % L == 0) { "tokens length ${tokens.size} is not a multiple of seq_len $L" }
            b = tokens.size / L
            val t0 = System.nanoTime()
            session.init(tokens, b)
            initMs = (System.nanoTime() - t0) / 1e6
            haltedAt = IntArray(b)
        }

        /** One `step`: decoded, halting applied; null once the loop has stopped. */
        fun next(): StepUpdate? {
            if (done) return null
            val s = updates.size + 1
            val t1 = System.nanoTime()
            val out = session.step()
            val stepMs = (System.nanoTime() - t1) / 1e6
            val (raw, conf) = decode(out, b, L)
            val preds = raw.copyOf()
            val p = prev
            if (halt && p != null) {           // frozen answers for samples that halted earlier
                for (i in 0 until b) if (haltedAt[i] != 0) System.arraycopy(p, i * L, preds, i * L, L)
            }
            for (i in 0 until b) if (haltedAt[i] == 0 && out.qHalt[i] > threshold) haltedAt[i] = s
            val u = StepUpdate(s, preds, conf, out.qHalt.copyOf(), haltedAt.copyOf(), stepMs)
            updates += u
            prev = preds
            done = s == maxSteps || (halt && haltedAt.all { it != 0 })
            return u
        }

        /** Like host_loop: a sample that never halted has its answer at maxSteps. */
        fun result(): Result = Result(updates.toList(), IntArray(b) { if (haltedAt[it] == 0) maxSteps else haltedAt[it] }, initMs)
    }

    companion object {
        fun sigmoid(x: Float): Float = (1.0 / (1.0 + exp(-x.toDouble()))).toFloat()

        /** logits (B, L, V) -> (argmax, max softmax prob); a predictions output passes through. */
        fun decode(out: StepOutput, b: Int, L: Int): Pair<IntArray, FloatArray> {
            val logits = out.logits
            if (logits == null) {
                val p = requireNotNull(out.preds) { "step returned neither logits nor predictions" }
                return p to FloatArray(b * L) { Float.NaN }   // no confidence without logits
            }
            val v = logits.size / (b * L)
            val preds = IntArray(b * L)
            val conf = FloatArray(b * L)
            for (c in 0 until b * L) {
                val o = c * v
                var best = 0
                for (k in 1 until v) if (logits[o + k] > logits[o + best]) best = k
                val m = logits[o + best].toDouble()
                var sum = 0.0
                for (k in 0 until v) sum += exp(logits[o + k] - m)
                preds[c] = best
                conf[c] = (1.0 / sum).toFloat()
            }
            return preds to conf
        }
    }
}

/** One `step` call's outputs that reach the host: logits (B*L*V) or predictions (B*L), and q_halt (B). */
class StepOutput(val logits: FloatArray?, val preds: IntArray?, val qHalt: FloatArray)
