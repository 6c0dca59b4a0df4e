import Foundation
import TRMCore
import XCTest

/// The core's logic against every trm_edge/golden_vectors file (no Core ML): tokenizer, decoder, the host loop
/// with per-sample halting fed by the recorded step outputs, the Sudoku check. Expected values come
/// from the files. Twins: the Kotlin GoldenVectorsTest (android_demo/core) and tests/test_vectors.py.
final class GoldenVectorsTests: XCTestCase {
    private var all: [GoldenVectors] = []

    override func setUpWithError() throws { all = try GoldenVectors.all() }

    /// Runs [check] once per vectors file with its manifest and codec.
    private func forEach(_ check: (GoldenVectors, Manifest, TokenCodec) async throws -> Void) async throws {
        for v in all {
            let m = try v.manifest()
            try await check(v, m, TokenCodec(m.task.tokens, seqLen: m.seqLen))
        }
    }

    func testManifestParsesTheExportSchema() async throws {
        try await forEach { v, manifest, _ in
            XCTAssertEqual(manifest.seqLen, v.seqLen)
            XCTAssertEqual(manifest.batch, v.cases.count)
            XCTAssertEqual(try manifest.entry("step").inputs.map(\.name), ["x", "y", "z"])
            XCTAssertThrowsError(try manifest.entry("forward"))
            XCTAssertThrowsError(try Manifest.parse(Data(#"{"format": "something-else"}"#.utf8)))
            XCTAssertThrowsError(try Manifest.parse(Data("not json".utf8)))
        }
    }

    func testTokenizerMatchesVectors() async throws {
        try await forEach { v, manifest, codec in
            let n = SudokuBoard(seqLen: manifest.seqLen).n
            for c in v.cases {
                XCTAssertEqual(try codec.encode(c.puzzle), c.tokens, c.name)
                XCTAssertEqual(codec.decode(c.tokens), c.puzzle)
                XCTAssertEqual(codec.decode(c.finalPreds), c.finalText)
                let chars = Array(c.puzzle)
                let rows = stride(from: 0, to: chars.count, by: n).map { String(chars[$0..<min($0 + n, chars.count)]) }
                XCTAssertEqual(try codec.encode(rows.joined(separator: " | ")), c.tokens)   // layout characters skipped
            }
            XCTAssertThrowsError(try codec.encode("x" + v.cases[0].puzzle.dropFirst()))
            XCTAssertThrowsError(try codec.encode(String(v.cases[0].puzzle.dropFirst())))
        }
    }

    func testDecoderMatchesRecordedPredictionsAndConfidence() async throws {
        try await forEach { v, manifest, _ in
            let L = manifest.seqLen
            for c in v.cases {
                for s in c.steps {
                    let out = StepOutput(logits: s.logits.flatMap { $0 }, preds: nil, qHalt: [s.qHalt])
                    let (preds, conf) = HostLoop.decode(out, batch: 1, seqLen: L)
                    for cell in 0..<L {
                        let row = s.logits[cell].sorted(by: >)
                        if row[0] - row[1] >= v.tolerance.logitAtol {   // near-ties may flip after rounding
                            XCTAssertEqual(preds[cell], s.preds[cell], "\(v.checkpoint) \(c.name) step \(s.step) cell \(cell)")
                        }
                        XCTAssertEqual(conf[cell], s.confidence[cell], accuracy: 2e-4)
                    }
                    XCTAssertEqual(HostLoop.sigmoid(s.qHalt), s.haltProb, accuracy: 2e-5)
                }
            }
        }
    }

    func testHostLoopReplaysHaltingAndFreezesAnswers() async throws {
        try await forEach { v, manifest, _ in
            var seen: [Int] = []
            let r = try await HostLoop(maxSteps: v.maxSteps, threshold: v.haltThreshold, halt: true)
                .run(try ReplaySession(v), tokens: v.cases.flatMap(\.tokens)) { seen.append($0.step) }
            let L = manifest.seqLen
            XCTAssertEqual(r.steps, v.cases.map(\.haltedAt).max())
            XCTAssertEqual(seen, Array(1...r.steps))
            for (b, c) in v.cases.enumerated() {
                XCTAssertEqual(r.haltedAt[b], c.haltedAt, c.name)
                XCTAssertEqual(Array(r.finalPreds[b * L..<(b + 1) * L]), c.finalPreds, c.name)
            }
        }
    }

    func testHaltingOffRunsEveryStepWithRawAnswers() async throws {
        try await forEach { v, manifest, _ in
            let r = try await HostLoop(maxSteps: v.maxSteps, threshold: v.haltThreshold, halt: false)
                .run(try ReplaySession(v), tokens: v.cases.flatMap(\.tokens))
            let L = manifest.seqLen
            XCTAssertEqual(r.steps, v.maxSteps)
            for (b, c) in v.cases.enumerated() {
                XCTAssertEqual(r.haltedAt[b], c.haltedAt)
                for (s, u) in r.updates.enumerated() { XCTAssertEqual(Array(u.preds[b * L..<(b + 1) * L]), c.steps[s].preds) }
            }
        }
    }

    func testSudokuCheckMatchesRecordedCorrectness() async throws {
        try await forEach { v, manifest, codec in
            let board = SudokuBoard(seqLen: manifest.seqLen, box: manifest.task.box)
            for c in v.cases {
                XCTAssertTrue(board.verify(inputs: c.tokens, preds: c.labels, codec: codec), c.name)
                XCTAssertEqual(board.verify(inputs: c.tokens, preds: c.finalPreds, codec: codec), c.finalCorrect, c.name)
                var broken = c.labels
                broken[0] = broken[1]
                XCTAssertFalse(board.verify(inputs: c.tokens, preds: broken, codec: codec))
                XCTAssertFalse(board.verify(inputs: c.tokens, preds: Array(c.labels.dropLast()), codec: codec))
            }
        }
    }
}
