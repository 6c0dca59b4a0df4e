package dev.trmedge.core

/**
 * One looped artifact behind its two entry points, whatever the runtime:
 *   init(tokens int32 (B, S))  -> state (x, y, z) kept inside the session's own tensors
 *   step()                     -> carries y_next/z_next into y/z and returns logits/preds + q_halt
 * Names and shapes come from the manifest; the state rule is generic: the step input `n` is fed
 * from the step output `n_next` when there is one, else from the init output `n` (x never changes).
 * The runtimes (ExecuTorch, LiteRT) live in the app module; `TrmSessions.open` there picks one.
 */
interface TrmSession : AutoCloseable {
    val manifest: Manifest
    val runtimeName: String           // e.g. "executorch", "litert"
    val delegate: String?             // backend / delegate, if known

    fun init(tokens: IntArray, batch: Int)
    fun step(): StepOutput

    companion object {
        /** Role names the host loop reads from the step outputs (the names are the manifest's). */
        const val LOGITS = "logits"
        const val PREDS = "preds"
        const val Q_HALT = "q_halt"
        const val TOKENS = "tokens"
        const val NEXT_SUFFIX = "_next"

        /** Refuses tokens that do not fill the artifact's static batch. */
        fun checkBatch(m: Manifest, tokens: IntArray, batch: Int) {
            if (batch != m.batch) throw ArtifactException("${m.name} was exported for batch ${m.batch}, got $batch")
            if (tokens.size != batch * m.seqLen) throw ArtifactException("expected ${batch * m.seqLen} tokens, got ${tokens.size}")
        }

        /** Repeats one puzzle to fill a static batch (the UI solves one puzzle at a time). */
        fun fillBatch(tokens: IntArray, batch: Int): IntArray =
            IntArray(tokens.size * batch) { tokens[it % tokens.size] }
    }
}
