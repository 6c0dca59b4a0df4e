import Foundation
import TRMCore
import XCTest

/// trm_edge/golden_vectors/<checkpoint>.json (schema trm-edge-vectors/1, written by `trm-edge vectors`).
/// `swift test` reads every file of the repository's trm_edge/golden_vectors (found from this file's path,
/// or $TRM_VECTORS_DIR); the app's Xcode test target (../../../project.yml) compiles this file too
/// and reads the copies bundled as its "vectors" folder. Expected values come from the files only.
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

    let format: String
    let checkpoint: String
    let checkpointSha256: String
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
        case format, checkpoint, tolerance, cases
        case checkpointSha256 = "checkpoint_sha256", seqLen = "seq_len", vocabSize = "vocab_size", nSup = "n_sup", maxSteps = "max_steps"
        case haltThreshold = "halt_threshold", weightsSha256 = "weights_sha256", taskInfo = "task_info"
    }

    static let formatName = "trm-edge-vectors/1"

    /// The repository root, four folders above this file (ios_demo/TRMCore/Tests/TRMCoreTests/).
    static var repositoryRoot: URL {
        var u = URL(fileURLWithPath: #filePath)
        for _ in 0..<5 { u = u.deletingLastPathComponent() }
        return u
    }

    static var defaultDirectory: URL {
        if let d = ProcessInfo.processInfo.environment["TRM_VECTORS_DIR"] { return URL(fileURLWithPath: d) }
        return repositoryRoot.appendingPathComponent("trm_edge/golden_vectors")
    }

    /// Every .json file in [dir], sorted by name; fails if there is none.
    static func all(in dir: URL = defaultDirectory) throws -> [GoldenVectors] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        let files = names.filter { $0.hasSuffix(".json") }.sorted()
        guard !files.isEmpty else {
            throw TRMError.artifact("no golden vectors in \(dir.path): run `trm-edge vectors` in the repository root")
        }
        return try files.map { name in
            let v = try JSONDecoder().decode(GoldenVectors.self, from: Data(contentsOf: dir.appendingPathComponent(name)))
            guard v.format == formatName else { throw TRMError.artifact("\(name): format '\(v.format)', expected \(formatName)") }
            return v
        }
    }

    /// A manifest in the export schema for a fake looped artifact over these vectors (batch = all cases).
    func manifest(batch: Int? = nil) throws -> Manifest {
        let b = batch ?? cases.count
        func t(_ n: String, _ shape: [Int], _ dtype: String = "float32") -> [String: Any] { ["name": n, "shape": shape, "dtype": dtype] }
        let state = [t("x", [b, seqLen, 1]), t("y", [b, seqLen, 1]), t("z", [b, seqLen, 1])]
        let task = try JSONSerialization.jsonObject(with: JSONEncoder().encode(taskInfo))
        let initEp: [String: Any] = ["file": "none", "method": "init", "inputs": [t("tokens", [b, seqLen], "int32")], "outputs": state]
        let stepOutputs = [t("y_next", [b, seqLen, 1]), t("z_next", [b, seqLen, 1]), t("logits", [b, seqLen, vocabSize]),
                           t("preds", [b, seqLen], "int32"), t("q_halt", [b])]
        let stepEp: [String: Any] = ["file": "none", "method": "step", "inputs": state, "outputs": stepOutputs]
        let model: [String: Any] = ["n_sup": nSup, "halt_threshold": Double(haltThreshold), "params": 0]
        let m: [String: Any] = [
            "format": Manifest.format, "name": "golden-replay", "target": "replay", "mode": "looped", "precision": "fp32",
            "depth": NSNull(), "batch": b, "task": task, "model": model,
            "entry_points": ["init": initEp, "step": stepEp] as [String: Any],
            "files": [String: Any](),
        ]
        return try Manifest.parse(JSONSerialization.data(withJSONObject: m))
    }
}

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
