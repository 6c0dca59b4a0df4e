import Foundation

/// Latency statistics of the bench JSON (`trm-edge-bench/1`, benchmarks/README.md), computed as
/// trm_edge.bench.host does: numpy's median and linearly interpolated percentile. An empty sample
/// (runs = 0) has no statistics: every field but `n` is nil (JSON null) instead of a crash.
public struct LatencyStats: Equatable, Sendable {
    public let median: Double?
    public let p90: Double?
    public let min: Double?
    public let n: Int

    public init(_ xs: [Double]) {
        let a = xs.sorted()
        n = a.count
        guard let first = a.first else { median = nil; p90 = nil; min = nil; return }
        median = Self.percentile(a, 0.5)
        p90 = Self.percentile(a, 0.9)
        min = first
    }

    /// numpy.percentile(a, 100 q), linear interpolation; [sorted] must be non-empty and sorted.
    public static func percentile(_ sorted: [Double], _ q: Double) -> Double {
        precondition(!sorted.isEmpty && (0...1).contains(q), "percentile of an empty sample or q outside [0, 1]")
        let pos = q * Double(sorted.count - 1)
        let lo = Int(pos), hi = Swift.min(lo + 1, sorted.count - 1)
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
    }

    /// The bench JSON object: {"median", "p90", "min", "n"}, nil values as NSNull.
    public var json: [String: Any] {
        func orNull(_ v: Double?) -> Any { v.map { $0 as Any } ?? NSNull() }
        return ["median": orNull(median), "p90": orNull(p90), "min": orNull(min), "n": n]
    }
}

/// Puzzles in the bench's puzzles.json format: {"task", "inputs": [[tokens]], "labels": [[tokens]]}.
public struct Puzzles: Codable, Sendable {
    public let task: String
    public let inputs: [[Int32]]
    public let labels: [[Int32]]

    /// Decodes and checks that there is at least one puzzle and one label per puzzle.
    public static func parse(_ data: Data) throws -> Puzzles {
        let p: Puzzles
        do { p = try JSONDecoder().decode(Puzzles.self, from: data) } catch {
            throw TRMError.artifact("puzzles.json is not in the bench format: \(error)")
        }
        guard !p.inputs.isEmpty, p.inputs.count == p.labels.count else {
            throw TRMError.artifact("puzzles.json has \(p.inputs.count) inputs and \(p.labels.count) labels")
        }
        return p
    }
}
