import CoreML
import Foundation
import TRMCore
import UIKit

/// A JSON value: `nil` becomes JSON null (a value that was not measured is null, never 0).
func orNull(_ v: Any?) -> Any { v ?? NSNull() }

/// Benchmark-mode launch arguments (the Android intent extras of benchmarks/README.md, as
/// `--name value` pairs after `--trm-bench`):
///   --trm-bench --artifact_dir coreml-fp32-looped --depths 1,2,4,8 --runs 20 --warmup 3 --threads 0
///   --batch 1 --n_puzzles 100 --halt 1 --out bench_result.json [--puzzles PATH] [--compute_units all]
/// `artifact_dir`: a bundled artifact name (in trm/) or an absolute path; `puzzles` defaults to the
/// bundled trm/puzzles.json. Core ML has no thread setting: `threads` is recorded, not applied.
struct BenchArgs {
    var artifactDir: String
    var puzzles: String?
    var depths: [Int]
    var runs = 20
    var warmup = 3
    var threads = 0
    var batch = 1
    var nPuzzles = 100
    var halt = true
    var out = "bench_result.json"
    var computeUnits = "all"
    var command: String

    init?(arguments: [String]) {
        guard arguments.contains("--trm-bench") else { return nil }
        var kv: [String: String] = [:]
        var i = 0
        while i < arguments.count {
            if arguments[i].hasPrefix("--"), i + 1 < arguments.count, !arguments[i + 1].hasPrefix("--") {
                kv[String(arguments[i].dropFirst(2))] = arguments[i + 1]; i += 2
            } else { i += 1 }
        }
        artifactDir = kv["artifact_dir"] ?? BundledModels.entries()?.first?.name ?? "coreml-fp32-looped"
        puzzles = kv["puzzles"]
        depths = (kv["depths"] ?? "1,2,4,8").split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        runs = kv["runs"].flatMap(Int.init) ?? runs
        warmup = kv["warmup"].flatMap(Int.init) ?? warmup
        threads = kv["threads"].flatMap(Int.init) ?? threads
        batch = kv["batch"].flatMap(Int.init) ?? batch
        nPuzzles = kv["n_puzzles"].flatMap(Int.init) ?? nPuzzles
        halt = ["1", "true", "yes"].contains((kv["halt"] ?? "1").lowercased())
        out = (kv["out"] ?? out).split(separator: "/").last.map(String.init) ?? out   // a name, not a path
        computeUnits = kv["compute_units"] ?? computeUnits
        command = "devicectl process launch dev.trmedge.demo " + arguments.dropFirst().joined(separator: " ")
    }
}

/// Measures what the host bench measures (benchmarks/README.md, "Definitions") for one Core ML
/// artifact in this app process, and writes Documents/<out> in the `trm-edge-bench/1` schema.
struct BenchmarkRunner {
    let args: BenchArgs
    private var notes: [String] = []

    init(args: BenchArgs) { self.args = args }

    func runAndWrite() async -> URL {
        var runner = self
        let result = await runner.run()
        let docs = FileManager.default.urls(for: .documentDirectory, in: .userDomainMask)[0]
        let url = docs.appendingPathComponent(args.out)
        let data = (try? JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        try? data.write(to: url, options: .atomic)   // temp file + rename
        return url
    }

    mutating func run() async -> [String: Any] {
        let created = ISO8601DateFormatter().string(from: Date())
        var rt: [String: Any] = ["name": URL(fileURLWithPath: args.artifactDir).lastPathComponent, "error": NSNull()]
        var manifest: Manifest?
        do {
            let dir = args.artifactDir.hasPrefix("/") ? URL(fileURLWithPath: args.artifactDir) : BundledModels.dir(args.artifactDir)
            guard let dir else { throw TRMError.artifact("no bundled artifact '\(args.artifactDir)'") }
            manifest = try Manifest.load(dir)
            try await measure(dir: dir, manifest: manifest!, rt: &rt)
        } catch {
            rt["error"] = "\(type(of: error)): \(error.localizedDescription)"
            for k in ["target", "precision", "mode", "load_ms", "first_call_ms", "peak_rss_mb", "halting"] where rt[k] == nil { rt[k] = NSNull() }
            if rt["depths"] == nil { rt["depths"] = [Any]() }
        }
        let m = manifest
        let device = await DeviceInfo.current().json
        let depths = args.depths.filter { m == nil || (1...m!.model.nSup).contains($0) }
        return [
            "schema": "trm-edge-bench/1", "fixture": false, "created": created, "command": args.command,
            "device": device,
            "model": ["checkpoint": args.artifactDir, "task": orNull(m?.task.name), "n_sup": orNull(m?.model.nSup),
                      "params": orNull(m?.model.params), "config": NSNull()] as [String: Any],
            "settings": ["depths": Array(Set(depths)).sorted(), "requested_depths": args.depths, "batch": args.batch,
                         "threads": orNull(args.threads > 0 ? args.threads : nil), "runs": args.runs, "warmup": args.warmup,
                         "n_puzzles": args.nPuzzles, "halt": args.halt,
                         "halt_threshold": orNull(m.map { Double($0.model.haltThreshold) }), "seed": NSNull()] as [String: Any],
            "notes": notes, "roofline": NSNull(), "runtimes": [rt],
        ]
    }

    private mutating func measure(dir: URL, manifest m: Manifest, rt: inout [String: Any]) async throws {
        let pURL = args.puzzles.map { URL(fileURLWithPath: $0) } ?? BundledModels.root?.appendingPathComponent("puzzles.json")
        guard let pURL, let pdata = try? Data(contentsOf: pURL) else { throw TRMError.artifact("no puzzles.json") }
        guard args.runs >= 1 else { throw TRMError.artifact("runs must be >= 1, got \(args.runs)") }
        guard args.warmup >= 0, args.nPuzzles >= 1 else { throw TRMError.artifact("warmup must be >= 0 and n_puzzles >= 1") }
        let p = try Puzzles.parse(pdata)
        guard p.task == m.task.name else { throw TRMError.artifact("puzzles are for \(p.task), the artifact for \(m.task.name)") }
        guard args.batch == m.batch else { throw TRMError.artifact("batch \(args.batch) requested, artifact exported for batch \(m.batch)") }
        let depths = Array(Set(args.depths.filter { (1...m.model.nSup).contains($0) })).sorted()
        if depths.count < args.depths.count { notes.append("depths above n_sup \(m.model.nSup) dropped") }
        guard let maxDepth = depths.last else { throw TRMError.artifact("no depth in 1...\(m.model.nSup)") }
        if args.threads > 0 { notes.append("Core ML has no thread setting: threads=\(args.threads) not applied") }
        let n = min(args.nPuzzles, p.inputs.count)
        if n < args.nPuzzles { notes.append("only \(n) puzzles available") }
        let codec = TokenCodec(m.task.tokens, seqLen: m.seqLen)
        let board = SudokuBoard(seqLen: m.seqLen, box: m.task.box)
        let L = m.seqLen, B = m.batch

        rt.merge(["target": m.target, "precision": m.precision, "mode": m.mode, "artifact": args.artifactDir,
                  "size_bytes": m.sizeBytes, "rss_scope": "app"]) { $1 }
        let baseline = Self.footprintMB().current
        var t0 = DispatchTime.now().uptimeNanoseconds
        let units: MLComputeUnits = ["cpuOnly": .cpuOnly, "cpuAndGPU": .cpuAndGPU, "cpuAndNeuralEngine": .cpuAndNeuralEngine][args.computeUnits] ?? .all
        let s = try await CoreMLSession(dir: dir, computeUnits: units)
        rt["load_ms"] = Self.ms(t0)
        rt["delegate"] = orNull(s.delegate)
        let batchTokens = (0..<(B * L)).map { p.inputs[($0 / L) % n][$0 % L] }
        t0 = DispatchTime.now().uptimeNanoseconds
        try s.initialize(tokens: batchTokens, batch: B); _ = try s.step()
        rt["first_call_ms"] = Self.ms(t0)

        // accuracy: one pass, halting off, up to the largest depth (padding rows skipped)
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
            let loop = HostLoop(maxSteps: d, threshold: m.model.haltThreshold, halt: false)
            for _ in 0..<args.warmup { _ = try await loop.run(s, tokens: batchTokens) }
            var stepMs: [Double] = [], solveMs: [Double] = []
            for _ in 0..<args.runs {
                let t = DispatchTime.now().uptimeNanoseconds
                let r = try await loop.run(s, tokens: batchTokens)
                solveMs.append(Self.ms(t)); stepMs += r.updates.map(\.stepMs)
            }
            rows.append(["depth": d, "step_ms": LatencyStats(stepMs).json, "solve_ms": LatencyStats(solveMs).json,
                         "exact_acc": Double(exact[d - 1]) / Double(n), "cell_acc": Double(cells[d - 1]) / Double(n * L),
                         "speedup_vs_eager": NSNull(), "roofline_pct": NSNull()])
        }
        rt["depths"] = rows
        if args.halt {
            rt["halting"] = try await halting(s, p, n: n, maxSteps: maxDepth, codec: codec, board: board)
        } else {
            rt["halting"] = NSNull()
        }
        let fp = Self.footprintMB()
        rt["peak_rss_mb"] = orNull(fp.peak)
        rt["baseline_rss_mb"] = orNull(baseline)
    }

    /// Each puzzle alone with halting on, then off, both timed after W warm-up solves.
    private mutating func halting(_ s: CoreMLSession, _ p: Puzzles, n: Int, maxSteps: Int, codec: TokenCodec,
                                  board: SudokuBoard) async throws -> [String: Any] {
        let B = s.manifest.batch, L = s.manifest.seqLen
        if B != 1 { notes.append("halting measured with each puzzle repeated to the artifact's batch \(B)") }
        let on = HostLoop(maxSteps: maxSteps, threshold: s.manifest.model.haltThreshold, halt: true)
        let off = HostLoop(maxSteps: maxSteps, threshold: s.manifest.model.haltThreshold, halt: false)
        let one = { (i: Int) in HostLoop.fillBatch(p.inputs[i], batch: B) }
        for w in 0..<args.warmup { _ = try await on.run(s, tokens: one(w % n)); _ = try await off.run(s, tokens: one(w % n)) }
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
                "full_depth_ms_per_puzzle": msF / Double(n), "ms_per_solved": orNull(exactH > 0 ? msH / Double(exactH) : nil),
                "speedup_vs_full_depth": orNull(msH > 0 ? msF / msH : nil)]
    }

    static func ms(_ t0: UInt64) -> Double { Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6 }

    /// Physical footprint now and its peak (task_vm_info), MiB: what Xcode's memory gauge shows.
    static func footprintMB() -> (current: Double?, peak: Double?) {
        var info = task_vm_info_data_t()
        var count = mach_msg_type_number_t(MemoryLayout<task_vm_info_data_t>.size / MemoryLayout<natural_t>.size)
        let kr = withUnsafeMutablePointer(to: &info) {
            $0.withMemoryRebound(to: integer_t.self, capacity: Int(count)) { task_info(mach_task_self_, task_flavor_t(TASK_VM_INFO), $0, &count) }
        }
        guard kr == KERN_SUCCESS else { return (nil, nil) }
        return (Double(info.phys_footprint) / 1_048_576, Double(info.ledger_phys_footprint_peak) / 1_048_576)
    }

}

/// The bench JSON's `device`. Read on the main actor (UIDevice) and handed back as a Sendable value:
/// a `[String: Any]` cannot cross out of a @MainActor function (an error in Swift 6 mode).
struct DeviceInfo: Sendable {
    let name: String
    let os: String
    let model: String
    let cores: Int

    @MainActor static func current() -> DeviceInfo {
        var u = utsname()
        uname(&u)
        let machine = withUnsafeBytes(of: &u.machine) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        return DeviceInfo(name: UIDevice.current.name, os: "\(UIDevice.current.systemName) \(UIDevice.current.systemVersion)",
                          model: machine, cores: ProcessInfo.processInfo.activeProcessorCount)
    }

    var json: [String: Any] {
        ["name": name, "platform": "ios", "os": os, "model": model, "cpu": NSNull(), "cores": cores, "load_avg": NSNull()]
    }
}
