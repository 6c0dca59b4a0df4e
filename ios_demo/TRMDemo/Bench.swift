import CoreML
import Foundation
import TRMCore
import UIKit

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

    /// The in-app benchmark screen's settings: a bundled artifact, the defaults above, every
    /// bundled puzzle scored.
    init(screenArtifact name: String) {
        artifactDir = name
        depths = [1, 2, 4, 8]
        nPuzzles = BundledModels.puzzles()?.inputs.count ?? 1
        command = "in-app benchmark screen"
    }

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

/// Benchmark mode: TRMCore's `Bench` (the measuring, tested by `swift test` on replayed vectors)
/// on a Core ML session, written to Documents/<out> in the `trm-edge-bench/1` schema.
struct BenchmarkRunner {
    let args: BenchArgs

    init(args: BenchArgs) { self.args = args }

    func runAndWrite(progress: (String) -> Void = { _ in }) async -> (url: URL, result: [String: Any]) {
        let result = await run(progress: progress)
        return (Self.write(result, name: args.out), result)
    }

    /// Documents/<name>, atomically (temporary file + rename); the Files app shows it.
    static func write(_ result: [String: Any], name: String) -> URL {
        let docs = FileManager.default.urls(for: .documentDirectory, in: .userDomainMask)[0]
        let url = docs.appendingPathComponent(name)
        let data = (try? JSONSerialization.data(withJSONObject: result, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        try? data.write(to: url, options: .atomic)
        return url
    }

    func run(progress: (String) -> Void = { _ in }) async -> [String: Any] {
        let device = await DeviceInfo.current().json
        let settings = BenchSettings(artifact: args.artifactDir, depths: args.depths, runs: args.runs, warmup: args.warmup,
                                     threads: args.threads, batch: args.batch, nPuzzles: args.nPuzzles, halt: args.halt,
                                     runtime: "coreml", command: args.command)
        let units: MLComputeUnits = ["cpuOnly": .cpuOnly, "cpuAndGPU": .cpuAndGPU,
                                     "cpuAndNeuralEngine": .cpuAndNeuralEngine][args.computeUnits] ?? .all
        var bench = Bench(settings: settings)
        return await bench.run(
            device: device,
            puzzles: {
                let url = args.puzzles.map { URL(fileURLWithPath: $0) } ?? BundledModels.root?.appendingPathComponent("puzzles.json")
                guard let url, let data = try? Data(contentsOf: url) else { throw TRMError.artifact("no puzzles.json") }
                return try Puzzles.parse(data)
            },
            open: {
                let dir = args.artifactDir.hasPrefix("/") ? URL(fileURLWithPath: args.artifactDir) : BundledModels.dir(args.artifactDir)
                guard let dir else { throw TRMError.artifact("no bundled artifact '\(args.artifactDir)'") }
                return try await CoreMLSession(dir: dir, computeUnits: units)   // Manifest.load: sha256 first
            },
            memoryMB: { Self.footprintMB() },
            progress: progress)
    }

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
