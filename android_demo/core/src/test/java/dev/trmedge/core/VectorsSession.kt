package dev.trmedge.core

/**
 * A batch-1 session over golden vectors: `init` finds the recorded case with these tokens, `step`
 * returns that case's recorded logits and q_halt. The bench and the bundled-assets tests run the
 * app's code on it; every expected value comes from the vectors file.
 */
class VectorsSession(private val v: GoldenVectors, override val manifest: Manifest = v.manifest(batch = 1)) : TrmSession {
    override val runtimeName = "replay"
    override val delegate: String? = null
    private var case: GoldenVectors.Case? = null
    private var s = 0

    override fun init(tokens: IntArray, batch: Int) {
        TrmSession.checkBatch(manifest, tokens, batch)
        case = v.cases.firstOrNull { it.tokens.contentEquals(tokens) } ?: error("no recorded case has these tokens")
        s = 0
    }

    override fun step(): StepOutput {
        val c = checkNotNull(case) { "step before init" }
        val rec = c.steps[s]   // the loop never asks for more than the recorded max_steps
        s++
        return StepOutput(rec.logits, null, floatArrayOf(rec.qHalt))
    }

    override fun close() {}

    /** The cases as a bench puzzles file. */
    fun puzzles(): Puzzles = Puzzles(manifest.task, v.cases.map { it.tokens }, v.cases.map { it.labels })
}
