import Foundation
import TRMCore
import XCTest

/// A batch-1 session over golden vectors: `initialize` finds the recorded case with these tokens,
/// `step` returns its recorded logits and q_halt (twin of the Kotlin core's VectorsSession).
final class VectorsSession: TRMSession {
    let manifest: Manifest
    let delegate: String? = nil
    private let v: GoldenVectors
    private var c: GoldenVectors.Case?
    private var s = 0

    init(_ v: GoldenVectors) throws { self.v = v; manifest = try v.manifest(batch: 1) }

    func initialize(tokens: [Int32], batch: Int) throws {
        guard let found = v.cases.first(where: { $0.tokens == tokens }) else { throw TRMError.puzzle("no recorded case has these tokens") }
        c = found; s = 0
    }

    func step() throws -> StepOutput {
        guard let c else { throw TRMError.artifact("step before initialize") }
        defer { s += 1 }
        return StepOutput(logits: c.steps[s].logits.flatMap { $0 }, preds: nil, qHalt: [c.steps[s].qHalt])
    }

    /// The cases as a bench puzzles file.
    func puzzles() throws -> Puzzles {
        let j: [String: Any] = ["task": manifest.task.name, "inputs": v.cases.map(\.tokens), "labels": v.cases.map(\.labels)]
        return try Puzzles.parse(JSONSerialization.data(withJSONObject: j))
    }
}

/// TRMCore's Bench (what the app's benchmark screen and launch-argument mode run) on every vectors
/// file: `trm-edge-bench/1` shape, statistics counting what was timed, accuracy and halting equal
/// to what the vectors recorded, errors inside the result (twin of the Kotlin BenchTest).
final class BenchTests: XCTestCase {
    let device: [String: Any] = ["name": "swift-test", "platform": "test"]

    func testResultFollowsTheVectors() async throws {
        for v in try GoldenVectors.all() {
            let session = try VectorsSession(v)
            let n = v.cases.count
            var bench = Bench(settings: BenchSettings(artifact: "bundled/\(v.checkpoint)", depths: [8, 1, 2, 4, 2, 99], runs: 3,
                                                      warmup: 1, nPuzzles: n, runtime: "replay"))
            let r = await bench.run(device: device, puzzles: { try session.puzzles() }, open: { session })
            XCTAssertEqual(r["schema"] as? String, Bench.schema)
            let rt = try XCTUnwrap((r["runtimes"] as? [[String: Any]])?.first)
            XCTAssertTrue(rt["error"] is NSNull, "\(rt["error"] ?? "")")
            XCTAssertTrue((r["notes"] as? [String] ?? []).contains { $0.contains("depths above n_sup") })
            let depths = try XCTUnwrap(rt["depths"] as? [[String: Any]])
            XCTAssertEqual(depths.map { $0["depth"] as? Int }, [1, 2, 4, 8])
            let m = session.manifest
            let codec = TokenCodec(m.task.tokens, seqLen: m.seqLen), board = SudokuBoard(seqLen: m.seqLen, box: m.task.box)
            for row in depths {
                let d = try XCTUnwrap(row["depth"] as? Int)
                let step = try XCTUnwrap(row["step_ms"] as? [String: Any]), solve = try XCTUnwrap(row["solve_ms"] as? [String: Any])
                XCTAssertEqual(step["n"] as? Int, 3 * d)
                XCTAssertEqual(solve["n"] as? Int, 3)
                let exact = Double(v.cases.filter { board.verify(inputs: $0.tokens, preds: $0.steps[d - 1].preds, codec: codec) }.count) / Double(n)
                XCTAssertEqual(try XCTUnwrap(row["exact_acc"] as? Double), exact, accuracy: 1e-12)
            }
            let h = try XCTUnwrap(rt["halting"] as? [String: Any])
            let meanRecorded = Double(v.cases.map(\.haltedAt).reduce(0, +)) / Double(n)
            XCTAssertEqual(try XCTUnwrap(h["mean_steps"] as? Double), meanRecorded, accuracy: 1e-12)
            let summary = BenchSummary.of(r)
            XCTAssertEqual(summary.rows.map(\.depth), [1, 2, 4, 8])
            XCTAssertEqual(summary.lines().count, 2 + 4 + 1)
            // the result is JSON (what Documents/bench_result.json holds)
            XCTAssertNoThrow(try JSONSerialization.data(withJSONObject: r))
        }
    }

    func testBadInputBecomesTheResultsError() async throws {
        let v = try XCTUnwrap(try GoldenVectors.all().first)
        let session = try VectorsSession(v)
        var bench = Bench(settings: BenchSettings(artifact: "x", depths: [1], runs: 0, runtime: "replay"))
        let r = await bench.run(device: device, puzzles: { try session.puzzles() }, open: { session })
        let rt = try XCTUnwrap((r["runtimes"] as? [[String: Any]])?.first)
        XCTAssertTrue((rt["error"] as? String ?? "").contains("runs must be >= 1"))
        XCTAssertEqual((rt["depths"] as? [Any])?.count, 0)
        XCTAssertEqual(BenchSummary.of(r).lines().count, 1)
    }
}

/// trm/index.json (`trm-edge-app-assets/1`), the fields read here.
private struct AssetsIndex: Decodable {
    struct Artifact: Decodable { let name: String }
    let format: String
    let artifacts: [Artifact]
}

/// The Core ML model committed into the app (ios_demo/TRMDemo/Resources/trm, installed by
/// `trm-edge export --for-app ios`): every file's sha256 against its manifest, exported from the
/// weights the golden vectors were recorded from, and the vectors replayed with its manifest's
/// tokens / n_sup / threshold (running it needs Core ML: TRMDemoTests/CoreMLArtifactTests).
final class BundledAssetsTests: XCTestCase {
    func testCommittedModelIsTheBundledOne() async throws {
        let root = GoldenVectors.repositoryRoot.appendingPathComponent("ios_demo/TRMDemo/Resources/trm")
        let index = try JSONDecoder().decode(AssetsIndex.self, from: Data(contentsOf: root.appendingPathComponent("index.json")))
        XCTAssertEqual(index.format, "trm-edge-app-assets/1")
        let all = try GoldenVectors.all()
        for a in index.artifacts {
            let m = try Manifest.load(root.appendingPathComponent(a.name))
            let v = try XCTUnwrap(all.first { $0.weightsSha256 == m.source?.weightsSha256 }, "\(a.name): no vectors for its weights")
            XCTAssertEqual(m.model.nSup, v.nSup)
            XCTAssertEqual(m.model.haltThreshold, v.haltThreshold)
            let session = try VectorsSession(v)
            let codec = TokenCodec(m.task.tokens, seqLen: m.seqLen)
            for c in v.cases {
                XCTAssertEqual(try codec.encode(c.puzzle), c.tokens)
                let r = try await HostLoop(maxSteps: min(m.model.nSup, v.maxSteps), threshold: m.model.haltThreshold).run(session, tokens: c.tokens)
                XCTAssertEqual(r.haltedAt, [c.haltedAt], c.name)
                XCTAssertEqual(r.finalPreds, c.finalPreds, c.name)
            }
        }
    }
}
