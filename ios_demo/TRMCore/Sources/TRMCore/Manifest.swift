import Foundation

/// One tensor of an entry point (`runtime_name`: the name inside the model file, if it differs).
struct TensorSpec: Codable, Equatable {
    let name: String
    let shape: [Int]
    let dtype: String
    let runtimeName: String?

    var numel: Int { shape.reduce(1, *) }
    var modelName: String { runtimeName ?? name }

    enum CodingKeys: String, CodingKey { case name, shape, dtype, runtimeName = "runtime_name" }
}

/// `init` / `step` (looped) or `forward` (unrolled); `method` = Core ML function name.
struct EntryPoint: Codable {
    let file: String
    let method: String?
    let inputs: [TensorSpec]
    let outputs: [TensorSpec]
}

/// `task.tokens`: {"pad": 0, "blank": 1, "symbols": {"1": 2, ...}}.
struct TokenEncoding: Codable {
    let pad: Int
    let blank: Int
    let symbols: [String: Int]
}

struct TaskInfo: Codable {
    let name: String
    let vocabSize: Int
    let seqLen: Int
    let tokens: TokenEncoding
    let board: [Int]?
    let box: [Int]?

    enum CodingKeys: String, CodingKey { case name, tokens, board, box, vocabSize = "vocab_size", seqLen = "seq_len" }
}

struct ModelInfo: Codable {
    let nSup: Int
    let haltThreshold: Float
    let params: Int?

    enum CodingKeys: String, CodingKey { case params, nSup = "n_sup", haltThreshold = "halt_threshold" }
}

struct FileEntry: Codable { let sha256: String; let bytes: Int }
struct SourceInfo: Codable { let weightsSha256: String?; enum CodingKeys: String, CodingKey { case weightsSha256 = "weights_sha256" } }

/// manifest.json written by `trm-edge export` (schema `trm-edge-artifact/1`, notes/README-export.md).
/// Every shape, name and the token encoding the app uses come from here.
struct Manifest: Codable {
    static let format = "trm-edge-artifact/1"
    static let fileName = "manifest.json"

    let format: String
    let name: String
    let target: String
    let mode: String
    let precision: String
    let depth: Int?
    let batch: Int
    let task: TaskInfo
    let model: ModelInfo
    let entryPoints: [String: EntryPoint]
    let files: [String: FileEntry]
    let source: SourceInfo?

    enum CodingKeys: String, CodingKey {
        case format, name, target, mode, precision, depth, batch, task, model, files, source
        case entryPoints = "entry_points"
    }

    var seqLen: Int { task.seqLen }
    var sizeBytes: Int { files.values.reduce(0) { $0 + $1.bytes } }

    func entry(_ name: String) throws -> EntryPoint {
        guard let e = entryPoints[name] else { throw TRMError.artifact("\(self.name) has no entry point '\(name)'") }
        return e
    }

    static func parse(_ data: Data) throws -> Manifest {
        let m: Manifest
        do { m = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw TRMError.artifact("manifest.json does not match \(format): \(error)")
        }
        guard m.format == format else { throw TRMError.artifact("unsupported manifest format '\(m.format)'") }
        return m
    }

    /// Reads dir/manifest.json and refuses a partial or tampered artifact (sha256 of every file;
    /// a .mlpackage is a folder, so its files are listed one by one in the manifest).
    static func load(_ dir: URL) throws -> Manifest {
        let url = dir.appendingPathComponent(fileName)
        guard let data = try? Data(contentsOf: url) else { throw TRMError.artifact("\(dir.path) is not an artifact (no \(fileName))") }
        let m = try parse(data)
        for (rel, meta) in m.files {
            let f = dir.appendingPathComponent(rel)
            guard !rel.split(separator: "/").contains(".."), let bytes = try? Data(contentsOf: f) else {
                throw TRMError.artifact("artifact \(dir.lastPathComponent) is incomplete: \(rel) is missing")
            }
            guard bytes.count == meta.bytes, sha256Hex(bytes) == meta.sha256 else {
                throw TRMError.artifact("artifact \(dir.lastPathComponent) is tampered or corrupt: sha256 of \(rel) does not match")
            }
        }
        return m
    }
}

enum TRMError: LocalizedError {
    case artifact(String)
    case puzzle(String)

    var errorDescription: String? {
        switch self { case .artifact(let m), .puzzle(let m): return m }
    }
}
