import Dispatch
import Foundation

/// Benchmark settings: the Android intent extras of benchmarks/README.md, as the iOS launch
/// arguments and the benchmark screen give them.
public struct BenchSettings: Sendable {
    public var artifact: String            // the artifact's name or path, as reported
    public var depths: [Int]               // supervision steps, e.g. [1, 2, 4, 8]
    public var runs: Int                   // R timed solves per depth
    public var warmup: Int                 // W untimed solves before them
    public var threads: Int                // 0 = runtime default (recorded; Core ML has no setting)
    public var batch: Int                  // must equal the artifact's batch
    public var nPuzzles: Int               // puzzles scored for accuracy
    public var halt: Bool                  // also measure adaptive halting
    public var runtime: String             // "coreml", or "replay" in the tests
    public var command: String

    public init(artifact: String, depths: [Int], runs: Int = 20, warmup: Int = 3, threads: Int = 0, batch: Int = 1,
                nPuzzles: Int = 100, halt: Bool = true, runtime: String, command: String = "") {
        self.artifact = artifact; self.depths = depths; self.runs = runs; self.warmup = warmup; self.threads = threads
        self.batch = batch; self.nPuzzles = nPuzzles; self.halt = halt; self.runtime = runtime; self.command = command
    }
}

/// Measures what the host bench measures (benchmarks/README.md, "Definitions") for one looped
/// artifact in this process and returns the `trm-edge-bench/1` result that trm_edge.bench.report
/// reads: the Swift twin of the Kotlin core's `Bench`. No Core ML, no UIKit: the app passes the
/// session opener, its device block and a memory probe; `swift test` runs it on replayed vectors.
/// A failure is written into the result (`runtimes[0].error`), never thrown.
public struct Bench {
    public static let schema = "trm-edge-bench/1"
    public let settings: BenchSettings
    public private(set) var notes: [String] = []

    public init(settings: BenchSettings) { self.settings = settings }

    public mutating func run(device: [String: Any],
                             puzzles: () throws -> Puzzles,
                             open: () async throws -> TRMSession,
                             memoryMB: () -> (current: Double?, peak: Double?) = { (nil, nil) },
                             progress: (String) -> Void = { _ in }) async -> [String: Any] {
        let created = ISO8601DateFormatter().string(from: Date())
        var rt: [String: Any] = ["name": URL(fileURLWithPath: settings.artifact).lastPathComponent, "error": NSNull()]
        var manifest: Manifest?
        do {
            let p = try puzzles()
            let baseline = memoryMB().current
            progress("loading \(settings.artifact)")
            let t0 = DispatchTime.now().uptimeNanoseconds
            let s = try await open()   // the app's opener verifies every file's sha256 first
            rt["load_ms"] = Self.ms(t0)
            manifest = s.manifest
            try await measure(s, p, rt: &rt, progress: progress)
            rt["peak_rss_mb"] = Self.orNull(memoryMB().peak)
            rt["baseline_rss_mb"] = Self.orNull(baseline)
        } catch {
            rt["error"] = "\(type(of: error)): \(error.localizedDescription)"
            for k in ["target", "precision", "mode", "load_ms", "first_call_ms", "peak_rss_mb", "halting"] where rt[k] == nil { rt[k] = NSNull() }
            if rt["depths"] == nil { rt["depths"] = [Any]() }
        }
        let m = manifest
        return [
            "schema": Self.schema, "fixture": false, "created": created, "command": settings.command, "device": device,
            "model": ["checkpoint": settings.artifact, "task": Self.orNull(m?.task.name), "n_sup": Self.orNull(m?.model.nSup),
                      "params": Self.orNull(m?.model.params), "config": NSNull()] as [String: Any],
            "settings": ["depths": validDepths(m), "requested_depths": settings.depths, "batch": settings.batch,
                         "threads": Self.orNull(settings.threads > 0 ? settings.threads : nil), "runs": settings.runs,
                         "warmup": settings.warmup, "n_puzzles": settings.nPuzzles, "halt": settings.halt,
                         "halt_threshold": Self.orNull(m.map { Double($0.model.haltThreshold) }), "seed": NSNull()] as [String: Any],
            "notes": notes, "roofline": NSNull(), "runtimes": [rt],
        ]
    }

    private func validDepths(_ m: Manifest?) -> [Int] {
        Array(Set(settings.depths.filter { m == nil || (1...m!.model.nSup).contains($0) })).sorted()
    }

    private mutating func measure(_ s: TRMSession, _ p: Puzzles, rt: inout [String: Any],
                                  progress: (String) -> Void) async throws {
        let m = s.manifest
        guard settings.runs >= 1 else { throw TRMError.artifact("runs must be >= 1, got \(settings.runs)") }
        guard settings.warmup >= 0 else { throw TRMError.artifact("warmup must be >= 0, got \(settings.warmup)") }
        guard settings.nPuzzles >= 1 else { throw TRMError.artifact("n_puzzles must be >= 1, got \(settings.nPuzzles)") }
        guard p.task == m.task.name else { throw TRMError.artifact("puzzles are for \(p.task), the artifact for \(m.task.name)") }
        guard settings.batch == m.batch else { throw TRMError.artifact("batch \(settings.batch) requested, artifact exported for batch \(m.batch)") }
        let depths = validDepths(m)
        if depths.count < Set(settings.depths).count { notes.append("depths above n_sup \(m.model.nSup) dropped") }
        guard let maxDepth = depths.last else { throw TRMError.artifact("no depth in 1...\(m.model.nSup)") }
        if settings.threads > 0 && settings.runtime == "coreml" { notes.append("Core ML has no thread setting: threads=\(settings.threads) not applied") }
        let n = min(settings.nPuzzles, p.inputs.count)
        if n < settings.nPuzzles { notes.append("only \(n) puzzles available") }
        let codec = TokenCodec(m.task.tokens, seqLen: m.seqLen)
        let board = SudokuBoard(seqLen: m.seqLen, box: m.task.box)
        let L = m.seqLen, B = m.batch

        rt.merge(["target": m.target, "precision": m.precision, "mode": m.mode, "artifact": settings.artifact,
                  "size_bytes": m.sizeBytes, "rss_scope": "app", "runtime": settings.runtime,
                  "delegate": Self.orNull(s.delegate)]) { $1 }
        let batchTokens = (0..<(B * L)).map { p.inputs[($0 / L) % n][$0 % L] }
        var t0 = DispatchTime.now().uptimeNanoseconds
        try s.initialize(tokens: batchTokens, batch: B); _ = try s.step()
        rt["first_call_ms"] = Self.ms(t0)

        // accuracy: one pass, halting off, up to the largest depth (padding rows skipped)
        progress("accuracy at depths 1...\(maxDepth) on \(n) puzzles")
        var exact = [Int](repeating: 0, count: maxDepth), cells = [Int](repeating: 0, count: maxDepth)
        for start in stride(from: 0, to: n, by: B) {
            let rows = (0..<B).map { min(start + $0, n - 1) }
            let tokens = (0..<(B * L)).map { p.inputs[rows[$0 / L]][$0 % L] }
            _ = try await HostLoop(maxSteps: maxDepth, threshold: m.model.haltThreshold, halt: false).run(s, tokens: tokens) { u in
                for b in 0..<B where b == 0 || rows[b] != rows[b - 1] {
                    let pred = Array(u.preds[b * L..<(b + 1) * L])
                    if board.verify(inputs: p.inputs[rows[b]], preds: pred, codec: codec) { exact[u.step - 1] += 1 }
                    cells[u.step - 1] += zip(pred, p.labels[rows[b]]).filter { $0 == $1 }.count
                }
            }
        }
        // latency per depth: W untimed, then R timed solves (init + depth steps, halting off)
        var rows: [[String: Any]] = []
        for d in depths {
            progress("latency at depth \(d): \(settings.warmup) warm-up + \(settings.runs) timed solves")
            let loop = HostLoop(maxSteps: d, threshold: m.model.haltThreshold, halt: false)
            for _ in 0..<settings.warmup { _ = try await loop.run(s, tokens: batchTokens) }
            var stepMs: [Double] = [], solveMs: [Double] = []
            for _ in 0..<settings.runs {
                t0 = DispatchTime.now().uptimeNanoseconds
                let r = try await loop.run(s, tokens: batchTokens)
                solveMs.append(Self.ms(t0)); stepMs += r.updates.map(\.stepMs)
            }
            rows.append(["depth": d, "step_ms": LatencyStats(stepMs).json, "solve_ms": LatencyStats(solveMs).json,
                         "exact_acc": Double(exact[d - 1]) / Double(n), "cell_acc": Double(cells[d - 1]) / Double(n * L),
                         "speedup_vs_eager": NSNull(), "roofline_pct": NSNull()])
        }
        rt["depths"] = rows
        if settings.halt {
            progress("adaptive halting on \(n) puzzles")
            rt["halting"] = try await halting(s, p, n: n, maxSteps: maxDepth, codec: codec, board: board)
        } else {
            rt["halting"] = NSNull()
        }
    }

    /// Each puzzle alone with halting on, then off, both timed after W warm-up solves.
    private mutating func halting(_ s: TRMSession, _ p: Puzzles, n: Int, maxSteps: Int, codec: TokenCodec,
                                  board: SudokuBoard) async throws -> [String: Any] {
        let B = s.manifest.batch, L = s.manifest.seqLen
        if B != 1 { notes.append("halting measured with each puzzle repeated to the artifact's batch \(B)") }
        let on = HostLoop(maxSteps: maxSteps, threshold: s.manifest.model.haltThreshold, halt: true)
        let off = HostLoop(maxSteps: maxSteps, threshold: s.manifest.model.haltThreshold, halt: false)
        let one = { (i: Int) in HostLoop.fillBatch(p.inputs[i], batch: B) }
        for w in 0..<settings.warmup { _ = try await on.run(s, tokens: one(w % n)); _ = try await off.run(s, tokens: one(w % n)) }
        var steps = 0, exactH = 0, exactF = 0, cellsH = 0, msH = 0.0, msF = 0.0
        for i in 0..<n {
            var t = DispatchTime.now().uptimeNanoseconds
            let r = try await on.run(s, tokens: one(i)); msH += Self.ms(t)
            t = DispatchTime.now().uptimeNanoseconds
            let f = try await off.run(s, tokens: one(i)); msF += Self.ms(t)
            let pred = Array(r.finalPreds[0..<L])
            steps += r.steps
            if board.verify(inputs: p.inputs[i], preds: pred, codec: codec) { exactH += 1 }
            if board.verify(inputs: p.inputs[i], preds: Array(f.finalPreds[0..<L]), codec: codec) { exactF += 1 }
            cellsH += zip(pred, p.labels[i]).filter { $0 == $1 }.count
        }
        let acc = Double(exactH) / Double(n), full = Double(exactF) / Double(n)
        return ["max_steps": maxSteps, "threshold": Double(s.manifest.model.haltThreshold),
                "mean_steps": Double(steps) / Double(n), "exact_acc": acc, "cell_acc": Double(cellsH) / Double(n * L),
                "full_depth_exact_acc": full, "acc_loss_pt": 100 * (full - acc), "ms_per_puzzle": msH / Double(n),
                "full_depth_ms_per_puzzle": msF / Double(n), "ms_per_solved": Self.orNull(exactH > 0 ? msH / Double(exactH) : nil),
                "speedup_vs_full_depth": Self.orNull(msH > 0 ? msF / msH : nil)]
    }

    public static func ms(_ t0: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 }

    /// A JSON value: nil becomes JSON null (a value that was not measured is null, never 0).
    public static func orNull(_ v: Any?) -> Any { v ?? NSNull() }
}

/// What a benchmark screen shows of a result: one row per depth, the halting run, the runtime
/// (the Swift twin of the Kotlin core's BenchSummary; same lines).
public struct BenchSummary {
    public struct Row { public let depth: Int; public let stepMedian, stepP90, solveMedian, solveP90, exactAcc: Double? }
    public let runtime: String
    public let delegate: String?
    public let error: String?
    public let rows: [Row]
    public let meanSteps: Double?
    public let haltingExactAcc: Double?

    public static func of(_ result: [String: Any]) -> BenchSummary {
        let rt = (result["runtimes"] as? [[String: Any]])?.first ?? [:]
        func number(_ a: Any?) -> Double? {   // Swift values (as built) or NSNumber (as parsed)
            if let d = a as? Double { return d }
            if let i = a as? Int { return Double(i) }
            return (a as? NSNumber)?.doubleValue
        }
        func num(_ o: Any?, _ k: String) -> Double? { number((o as? [String: Any])?[k]) }
        let rows = ((rt["depths"] as? [[String: Any]]) ?? []).map { d in
            Row(depth: number(d["depth"]).map { Int($0) } ?? 0, stepMedian: num(d["step_ms"], "median"), stepP90: num(d["step_ms"], "p90"),
                solveMedian: num(d["solve_ms"], "median"), solveP90: num(d["solve_ms"], "p90"), exactAcc: num(d, "exact_acc"))
        }
        let name = (rt["runtime"] as? String) ?? (rt["name"] as? String) ?? "?"
        let label = [name, rt["target"] as? String, rt["precision"] as? String].compactMap { $0 }.joined(separator: " ")
        return BenchSummary(runtime: label, delegate: rt["delegate"] as? String, error: rt["error"] as? String, rows: rows,
                            meanSteps: num(rt["halting"], "mean_steps"), haltingExactAcc: num(rt["halting"], "exact_acc"))
    }

    /// Plain text table, as the screens show it (monospaced).
    public func lines() -> [String] {
        if let error { return ["\(runtime): error: \(error)"] }
        func f(_ x: Double?) -> String { x.map { String(format: "%.3f", $0) } ?? "-" }
        func pad(_ s: String, _ w: Int, left: Bool = true) -> String {
            let p = String(repeating: " ", count: max(0, w - s.count)); return left ? p + s : s + p
        }
        var out = [runtime + (delegate.map { " (\($0))" } ?? ""), "depth  step ms med / p90    solve ms med / p90   exact"]
        for r in rows {
            out.append("\(pad(String(r.depth), 5))  \(pad(f(r.stepMedian), 7)) / \(pad(f(r.stepP90), 7, left: false))   " +
                       "\(pad(f(r.solveMedian), 8)) / \(pad(f(r.solveP90), 8, left: false))  \(f(r.exactAcc))")
        }
        if let meanSteps { out.append("halting: \(String(format: "%.2f", meanSteps)) steps on average, exact \(f(haltingExactAcc))") }
        return out
    }
}
