import Dispatch
import Foundation

/// One `step` call's outputs that reach the host: logits (B*L*V) or predictions (B*L), q_halt (B).
public struct StepOutput: Sendable {
    public var logits: [Float]?
    public var preds: [Int32]?
    public var qHalt: [Float]

    public init(logits: [Float]?, preds: [Int32]?, qHalt: [Float]) {
        self.logits = logits
        self.preds = preds
        self.qHalt = qHalt
    }
}

/// A looped artifact behind its two entry points; the state stays inside the session.
/// State rule (generic, from the manifest's names): step input `n` is fed from step output
/// `n_next` when there is one, else from init output `n` (x never changes).
public protocol TRMSession: AnyObject {
    var manifest: Manifest { get }
    var delegate: String? { get }
    func initialize(tokens: [Int32], batch: Int) throws
    func step() throws -> StepOutput
}

public enum Roles {   // role names the host loop reads (the names themselves are the manifest's)
    public static let tokens = "tokens", logits = "logits", preds = "preds", qHalt = "q_halt", nextSuffix = "_next"
}

/// The host recursion loop, the Swift twin of `trm_edge.runtime.loop.host_loop` and of the Kotlin
/// HostLoop (same golden vectors):
///   initialize(tokens) once; then for s in 1...maxSteps: step() -> logits (B, L, V), qHalt (B)
///   preds = argmax(logits), confidence = max softmax probability, per cell (decoding on the host)
///   a sample halts at the first step with qHalt > threshold; its answer is frozen from then on
///   stop when every sample has halted (halt = true) or after maxSteps
public struct HostLoop: Sendable {
    public let maxSteps: Int
    public let threshold: Float
    public var halt: Bool

    public init(maxSteps: Int, threshold: Float, halt: Bool = true) {
        self.maxSteps = maxSteps
        self.threshold = threshold
        self.halt = halt
    }

    public struct StepUpdate: Sendable {
        public let step: Int
        public let preds: [Int32]          // (B*L), frozen for samples that halted earlier
        public let confidence: [Float]     // (B*L) max softmax probability (NaN without logits)
        public let qHalt: [Float]          // (B) raw halting logits of this step
        public let haltedAt: [Int]         // (B) 0 = running, else the step whose answer is final
        public let stepMs: Double
        public func haltProbability(_ b: Int = 0) -> Float { HostLoop.sigmoid(qHalt[b]) }
    }

    public struct Result: Sendable {
        public let updates: [StepUpdate]
        public let haltedAt: [Int]         // (B) in 1...maxSteps (maxSteps if a sample never halted)
        public let initMs: Double
        public var steps: Int { updates.count }
        public var finalPreds: [Int32] { updates.last?.preds ?? [] }
        public var totalMs: Double { initMs + updates.reduce(0) { $0 + $1.stepMs } }
    }

    public func run(_ session: TRMSession, tokens: [Int32],
                    onStep: (StepUpdate) async throws -> Void = { _ in }) async throws -> Result {
        guard maxSteps >= 1 else { throw TRMError.artifact("maxSteps must be >= 1, got \(maxSteps)") }
        let L = session.manifest.seqLen
        guard L > 0, tokens.count % L == 0, !tokens.isEmpty else {
            throw TRMError.puzzle("tokens length \(tokens.count) is not a multiple of seq_len \(L)")
        }
        let b = tokens.count / L
        let t0 = DispatchTime.now().uptimeNanoseconds
        try session.initialize(tokens: tokens, batch: b)
        let initMs = Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6
        var haltedAt = [Int](repeating: 0, count: b)
        var prev: [Int32]? = nil
        var updates: [StepUpdate] = []
        for s in 1...maxSteps {
            let t1 = DispatchTime.now().uptimeNanoseconds
            let out = try session.step()
            let stepMs = Double(DispatchTime.now().uptimeNanoseconds - t1) / 1e6
            let (raw, conf) = Self.decode(out, batch: b, seqLen: L)
            var preds = raw
            if halt, let prev {   // frozen answers for samples that halted at an earlier step
                for i in 0..<b where haltedAt[i] != 0 { preds.replaceSubrange(i * L..<(i + 1) * L, with: prev[i * L..<(i + 1) * L]) }
            }
            for i in 0..<b where haltedAt[i] == 0 && out.qHalt[i] > threshold { haltedAt[i] = s }
            let u = StepUpdate(step: s, preds: preds, confidence: conf, qHalt: out.qHalt, haltedAt: haltedAt, stepMs: stepMs)
            updates.append(u)
            try await onStep(u)
            try Task.checkCancellation()
            prev = preds
            if halt && haltedAt.allSatisfy({ $0 != 0 }) { break }
        }
        return Result(updates: updates, haltedAt: haltedAt.map { $0 == 0 ? maxSteps : $0 }, initMs: initMs)
    }

    public static func sigmoid(_ x: Float) -> Float { Float(1.0 / (1.0 + exp(-Double(x)))) }

    /// logits (B, L, V) -> (argmax, max softmax probability); a predictions output passes through.
    public static func decode(_ out: StepOutput, batch b: Int, seqLen L: Int) -> ([Int32], [Float]) {
        guard let logits = out.logits else {
            return (out.preds ?? [], [Float](repeating: .nan, count: b * L))
        }
        let v = logits.count / (b * L)
        var preds = [Int32](repeating: 0, count: b * L)
        var conf = [Float](repeating: 0, count: b * L)
        for c in 0..<(b * L) {
            let o = c * v
            var best = 0
            for k in 1..<v where logits[o + k] > logits[o + best] { best = k }
            let m = Double(logits[o + best])
            var sum = 0.0
            for k in 0..<v { sum += exp(Double(logits[o + k]) - m) }
            preds[c] = Int32(best)
            conf[c] = Float(1.0 / sum)
        }
        return (preds, conf)
    }

    /// Repeats one puzzle to fill a static batch (the UI solves one puzzle at a time).
    public static func fillBatch(_ tokens: [Int32], batch: Int) -> [Int32] {
        Array([[Int32]](repeating: tokens, count: batch).joined())
    }
}
