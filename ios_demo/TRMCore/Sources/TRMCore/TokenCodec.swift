import Foundation

/// Puzzle text <-> tokens from the manifest's `task.tokens` only; blank characters and layout
/// characters are the same as trm_edge.validate.vectors.BLANK_CHARS / IGNORE_CHARS (and the Kotlin app).
public struct TokenCodec: Sendable {
    public static let blankChars: Set<Character> = [".", "0"]
    public static let ignoreChars: Set<Character> = [" ", "\t", "\r", "\n", "|", "-", "+"]

    public let encoding: TokenEncoding
    public let seqLen: Int
    private let symbolOf: [Int: String]

    public init(_ encoding: TokenEncoding, seqLen: Int) {
        self.encoding = encoding
        self.seqLen = seqLen
        symbolOf = Dictionary(uniqueKeysWithValues: encoding.symbols.map { ($0.value, $0.key) })
    }

    public func encode(_ text: String) throws -> [Int32] {
        var out: [Int32] = []
        for ch in text {
            let s = String(ch)
            if Self.ignoreChars.contains(ch) { continue }
            if Self.blankChars.contains(ch), encoding.symbols[s] == nil { out.append(Int32(encoding.blank)); continue }
            guard let t = encoding.symbols[s] else {
                throw TRMError.puzzle("invalid character '\(ch)': use \(encoding.symbols.keys.sorted().joined()) and '.' for blanks")
            }
            out.append(Int32(t))
        }
        guard out.count == seqLen else { throw TRMError.puzzle("the puzzle needs \(seqLen) cells, got \(out.count)") }
        return out
    }

    /// A cell's symbol, or "" for blank / pad / any token that is not a symbol.
    public func symbol(_ token: Int32) -> String { symbolOf[Int(token)] ?? "" }
    public func isGiven(_ token: Int32) -> Bool { symbolOf[Int(token)] != nil }
    public func decode(_ tokens: [Int32]) -> String { tokens.map { symbol($0).isEmpty ? "." : symbol($0) }.joined() }
}

/// Board geometry and the exact-match check (trm_edge.tasks.sudoku.Sudoku.verify): a complete
/// valid grid that keeps every given. Box from the manifest, else rows = largest divisor <= sqrt(N).
public struct SudokuBoard: Sendable {
    public let n: Int
    public let boxRows: Int
    public let boxCols: Int

    public init(seqLen: Int, box: [Int]? = nil) {
        n = Int(Double(seqLen).squareRoot().rounded())
        let n = self.n
        boxRows = box?.first ?? (1...n).last { n % $0 == 0 && $0 * $0 <= n }!
        boxCols = box?.last ?? n / boxRows
    }

    public func boxOf(_ cell: Int) -> Int { (cell / n / boxRows) * (n / boxCols) + (cell % n) / boxCols }

    public func verify(inputs: [Int32], preds: [Int32], codec: TokenCodec) -> Bool {
        guard inputs.count == n * n, preds.count == n * n else { return false }
        let digits = preds.map { Int(codec.symbol($0)) ?? 0 }
        guard digits.allSatisfy({ (1...n).contains($0) }) else { return false }
        for c in 0..<(n * n) where codec.isGiven(inputs[c]) && inputs[c] != preds[c] { return false }
        let full = (1 << n) - 1
        var rows = [Int](repeating: 0, count: n), cols = rows, boxes = rows
        for c in 0..<(n * n) {
            let bit = 1 << (digits[c] - 1)
            rows[c / n] |= bit; cols[c % n] |= bit; boxes[boxOf(c)] |= bit
        }
        return rows.allSatisfy { $0 == full } && cols.allSatisfy { $0 == full } && boxes.allSatisfy { $0 == full }
    }
}
