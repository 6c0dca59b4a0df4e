import Foundation
import XCTest
@testable import TRMDemo

/// tests/vectors/<checkpoint>.json (schema trm-edge-vectors/1, written by `trm-edge vectors`),
/// bundled into the test target as the folder "vectors" (project.yml).
struct GoldenVectors: Decodable {
    struct Step: Decodable {
        let step: Int
        let preds: [Int32]
        let qHalt: Float
        let haltProb: Float
        let confidence: [Float]
        let logits: [[Float]]   // (L, V)
        enum CodingKeys: String, CodingKey { case step, preds, confidence, logits, qHalt = "q_halt", haltProb = "halt_prob" }
    }
    struct Case: Decodable {
        let name: String
        let puzzle: String
        let tokens: [Int32]
        let labels: [Int32]
        let haltedAt: Int
        let finalPreds: [Int32]
        let finalText: String
        let finalCorrect: Bool
        let steps: [Step]
        enum CodingKeys: String, CodingKey {
            case name, puzzle, tokens, labels, steps
            case haltedAt = "halted_at", finalPreds = "final_preds", finalText = "final_text", finalCorrect = "final_correct"
        }
    }
    struct Tolerance: Decodable {
        let logitAtol: Float
        let qAtol: Float
        enum CodingKeys: String, CodingKey { case logitAtol = "logit_atol", qAtol = "q_atol" }
    }

    let seqLen: Int
    let vocabSize: Int
    let nSup: Int
    let maxSteps: Int
    let haltThreshold: Float
    let weightsSha256: String?
    let taskInfo: TaskInfo
    let tolerance: Tolerance
    let cases: [Case]

    enum CodingKeys: String, CodingKey {
        case tolerance, cases
        case seqLen = "seq_len", vocabSize = "vocab_size", nSup = "n_sup", maxSteps = "max_steps"
        case haltThreshold = "halt_threshold", weightsSha256 = "weights_sha256", taskInfo = "task_info"
    }

    static let resource = "sudoku6"   // tests/vectors/<bundled checkpoint>.json

    static func load(_ name: String = resource) throws -> GoldenVectors {
        let bundle = Bundle(for: BundleToken.self)
        let url = try XCTUnwrap(bundle.url(forResource: name, withExtension: "json", subdirectory: "vectors"),
                                "\(name).json missing: run `trm-edge vectors` in the repository root")
        return try JSONDecoder().decode(GoldenVectors.self, from: Data(contentsOf: url))
    }

    /// A manifest in the export schema for a fake looped artifact over these vectors (batch = all cases).
    func manifest() throws -> Manifest {
        let b = cases.count
        func t(_ n: String, _ shape: [Int], _ dtype: String = "float32") -> [String: Any] { ["name": n, "shape": shape, "dtype": dtype] }
        let state = [t("x", [b, seqLen, 1]), t("y", [b, seqLen, 1]), t("z", [b, seqLen, 1])]
        let task = try JSONSerialization.jsonObject(with: JSONEncoder().encode(taskInfo))
        let m: [String: Any] = [
            "format": Manifest.format, "name": "golden-replay", "target": "replay", "mode": "looped", "precision": "fp32",
            "depth": NSNull(), "batch": b, "task": task,
            "model": ["n_sup": nSup, "halt_threshold": haltThreshold, "params": 0],
            "entry_points": [
                "init": ["file": "none", "method": "init", "inputs": [t("tokens", [b, seqLen], "int32")], "outputs": state],
                "step": ["file": "none", "method": "step", "inputs": state,
                         "outputs": [t("y_next", [b, seqLen, 1]), t("z_next", [b, seqLen, 1]), t("logits", [b, seqLen, vocabSize]),
                                     t("preds", [b, seqLen], "int32"), t("q_halt", [b])]],
            ],
            "files": [String: Any](),
        ]
        return try Manifest.parse(JSONSerialization.data(withJSONObject: m))
    }
}

private final class BundleToken {}

/// A fake runtime whose `step` returns the recorded logits / q_halt: the app's loop is what is tested.
final class ReplaySession: TRMSession {
    let manifest: Manifest
    let delegate: String? = nil
    private let v: GoldenVectors
    private var s = 0

    init(_ v: GoldenVectors) throws { self.v = v; manifest = try v.manifest() }

    func initialize(tokens: [Int32], batch: Int) throws {
        XCTAssertEqual(tokens, v.cases.flatMap(\.tokens), "initialize got other tokens")
        s = 0
    }

    func step() throws -> StepOutput {
        defer { s += 1 }
        return StepOutput(logits: v.cases.flatMap { $0.steps[s].logits.flatMap { $0 } }, preds: nil,
                          qHalt: v.cases.map { $0.steps[s].qHalt })
    }
}
