package dev.trmedge.core

import kotlin.math.sqrt

/**
 * Board geometry and the exact-match check, mirroring `trm_edge.tasks.sudoku.Sudoku.verify`:
 * an answer is correct if it is a complete valid grid that keeps every given.
 * The side N comes from seq_len (N*N); the box is the manifest's `box` if present, else the usual
 * shape (rows = largest divisor of N not above sqrt(N)): 4 -> 2x2, 6 -> 2x3, 9 -> 3x3.
 */
class SudokuBoard(seqLen: Int, box: Pair<Int, Int>? = null) {
    val n: Int = sqrt(seqLen.toDouble()).toInt().also {
        require(it * it == seqLen) { "seq_len $seqLen is not a square board" }
    }
    val boxRows: Int = box?.first ?: (1..n).last { n % it == 0 && it * it <= n }
    val boxCols: Int = box?.second ?: (n / boxRows)

    fun boxOf(cell: Int): Int = (cell / n / boxRows) * (n / boxCols) + (cell % n) / boxCols

    /** [inputs] and [preds] are one puzzle's tokens (N*N); digits are decoded with [codec]. */
    fun verify(inputs: IntArray, preds: IntArray, codec: TokenCodec): Boolean {
        if (inputs.size != n * n || preds.size != n * n) return false
        val digits = IntArray(n * n) { c -> codec.symbol(preds[c]).toIntOrNull() ?: return false }
        if (digits.any { it !in 1..n }) return false
        for (c in 0 until n * n) if (codec.isGiven(inputs[c]) && inputs[c] != preds[c]) return false
        val full = (1 shl n) - 1
        val rows = IntArray(n); val cols = IntArray(n); val boxes = IntArray(n)
        for (c in 0 until n * n) {
            val bit = 1 shl (digits[c] - 1)
            rows[c / n] = rows[c / n] or bit
            cols[c % n] = cols[c % n] or bit
            boxes[boxOf(c)] = boxes[boxOf(c)] or bit
        }
        return rows.all { it == full } && cols.all { it == full } && boxes.all { it == full }
    }
}
