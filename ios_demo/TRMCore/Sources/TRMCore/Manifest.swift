import Foundation

/// One tensor of an entry point (`runtime_name`: the name inside the model file, if it differs).
public struct TensorSpec: Codable, Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public let dtype: String
    public let runtimeName: String?

    public var numel: Int { shape.reduce(1, *) }
    public var modelName: String { runtimeName ?? name }

    enum CodingKeys: String, CodingKey { case name, shape, dtype, runtimeName = "runtime_name" }
}

/// `init` / `step` (looped) or `forward` (unrolled); `method` = Core ML function name.
public struct EntryPoint: Codable, Sendable {
    public let file: String
    public let method: String?
    public let inputs: [TensorSpec]
    public let outputs: [TensorSpec]
}

/// `task.tokens`: {"pad": 0, "blank": 1, "symbols": {"1": 2, ...}}.
public struct TokenEncoding: Codable, Sendable {
    public let pad: Int
    public let blank: Int
    public let symbols: [String: Int]
}

public struct TaskInfo: Codable, Sendable {
    public let name: String
    public let vocabSize: Int
    public let seqLen: Int
    public let tokens: TokenEncoding
    public let board: [Int]?
    public let box: [Int]?

    enum CodingKeys: String, CodingKey { case name, tokens, board, box, vocabSize = "vocab_size", seqLen = "seq_len" }
}

public struct ModelInfo: Codable, Sendable {
    public let nSup: Int
    public let haltThreshold: Float
    public let params: Int?

    enum CodingKeys: String, CodingKey { case params, nSup = "n_sup", haltThreshold = "halt_threshold" }
}

public struct FileEntry: Codable, Sendable { public let sha256: String; public let bytes: Int }
public struct SourceInfo: Codable, Sendable {
    public let weightsSha256: String?
    enum CodingKeys: String, CodingKey { case weightsSha256 = "weights_sha256" }
}

/// manifest.json written by `trm-edge export` (schema `trm-edge-artifact/1`, notes/README-export.md).
/// Every shape, name and the token encoding the app uses come from here.
public struct Manifest: Codable, Sendable {
    public static let format = "trm-edge-artifact/1"
    public static let fileName = "manifest.json"

    public let format: String
    public let name: String
    public let target: String
    public let mode: String
    public let precision: String
    public let depth: Int?
    public let batch: Int
    public let task: TaskInfo
    public let model: ModelInfo
    public let entryPoints: [String: EntryPoint]
    public let files: [String: FileEntry]
    public let source: SourceInfo?

    enum CodingKeys: String, CodingKey {
        case format, name, target, mode, precision, depth, batch, task, model, files, source
        case entryPoints = "entry_points"
    }

    public var seqLen: Int { task.seqLen }
    public var sizeBytes: Int { files.values.reduce(0) { $0 + $1.bytes } }

    public func entry(_ name: String) throws -> EntryPoint {
        guard let e = entryPoints[name] else { throw TRMError.artifact("\(self.name) has no entry point '\(name)'") }
        return e
    }

    public static func parse(_ data: Data) throws -> Manifest {
        let m: Manifest
        do { m = try JSONDecoder().decode(Manifest.self, from: data) } catch {
            throw TRMError.artifact("manifest.json does not match \(format): \(error)")
        }
        guard m.format == format else { throw TRMError.artifact("unsupported manifest format '\(m.format)'") }
        return m
    }

    /// Reads dir/manifest.json and refuses a partial or tampered artifact (sha256 of every file;
    /// a .mlpackage is a folder, so its files are listed one by one in the manifest).
    public static func load(_ dir: URL) throws -> Manifest {
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

public enum TRMError: LocalizedError, Equatable {
    case artifact(String)
    case puzzle(String)

    public var errorDescription: String? {
        switch self { case .artifact(let m), .puzzle(let m): return m }
    }
}
