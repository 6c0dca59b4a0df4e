package dev.trmedge.core

/**
 * Puzzle text <-> tokens, driven only by the manifest's `task.tokens` (nothing hard-coded):
 * a symbol maps to its token (`symbols`), a blank character to `blank`, layout characters are
 * skipped. Python twin: `trm_edge.validate.vectors.encode_puzzle` / `decode_tokens` (same constants).
 */
class TokenCodec(private val enc: TokenEncoding, private val seqLen: Int) {

    class PuzzleFormatException(message: String) : IllegalArgumentException(message)

    private val symbolOf: Map<Int, String> = enc.symbols.entries.associate { (s, t) -> t to s }

    fun encode(text: String): IntArray {
        val out = ArrayList<Int>(seqLen)
        for (ch in text) {
            val s = ch.toString()
            when {
                ch in IGNORE_CHARS -> continue
                ch in BLANK_CHARS && s !in enc.symbols -> out += enc.blank
                s in enc.symbols -> out += enc.symbols.getValue(s)
                else -> throw PuzzleFormatException(
                    "invalid character '$ch': use ${enc.symbols.keys.joinToString("")} and '.' for blanks")
            }
        }
        if (out.size != seqLen) throw PuzzleFormatException("the puzzle needs $seqLen cells, got ${out.size}")
        return out.toIntArray()
    }

    /** One cell's text: its symbol, or "" for blank / pad / anything that is not a symbol. */
    fun symbol(token: Int): String = symbolOf[token] ?: ""

    fun decode(tokens: IntArray): String = tokens.joinToString("") { symbol(it).ifEmpty { "." } }

    fun isGiven(token: Int): Boolean = token in symbolOf

    companion object {
        // Text conventions of the puzzle field (as trm_edge.validate.vectors.BLANK_CHARS / IGNORE_CHARS).
        const val BLANK_CHARS = ".0"
        const val IGNORE_CHARS = " \t\r\n|-+"
    }
}
