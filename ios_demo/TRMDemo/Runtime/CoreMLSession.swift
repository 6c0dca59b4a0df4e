import CoreML
import Foundation
import TRMCore

/// A multifunction Core ML package (functions `init` and `step`, iOS 18): one MLModel per
/// function via MLModelConfiguration.functionName; both share the package's weights.
final class CoreMLSession: TRMSession {
    let manifest: Manifest
    let delegate: String?
    private let initEp: EntryPoint
    private let stepEp: EntryPoint
    private let initModel: MLModel
    private let stepModel: MLModel
    private var state: [String: MLMultiArray] = [:]   // step input name -> current value

    /// Opens dir (verifying sha256), compiles the .mlpackage once (cached in Application Support).
    init(dir: URL, computeUnits: MLComputeUnits = .all) async throws {
        let m = try Manifest.load(dir)
        guard m.target == "coreml", m.mode == "looped" else {
            throw TRMError.artifact("\(m.name): the app runs looped Core ML artifacts, not \(m.target) \(m.mode)")
        }
        manifest = m
        initEp = try m.entry("init")
        stepEp = try m.entry("step")
        let compiled = try await Self.compiled(package: dir.appendingPathComponent(initEp.file), key: m.files.values.map(\.sha256).sorted().joined())
        func load(_ fn: String?) throws -> MLModel {
            let config = MLModelConfiguration()
            config.computeUnits = computeUnits
            if let fn, fn != "main" { config.functionName = fn }
            return try MLModel(contentsOf: compiled, configuration: config)
        }
        initModel = try load(initEp.method ?? "init")
        stepModel = try load(stepEp.method ?? "step")
        delegate = switch computeUnits {
        case .cpuOnly: "cpuOnly"
        case .cpuAndGPU: "cpuAndGPU"
        case .cpuAndNeuralEngine: "cpuAndNeuralEngine"
        default: "all"
        }
    }

    func initialize(tokens: [Int32], batch: Int) throws {
        guard batch == manifest.batch, tokens.count == batch * manifest.seqLen else {
            throw TRMError.artifact("\(manifest.name) was exported for batch \(manifest.batch) (\(manifest.batch * manifest.seqLen) tokens), got \(batch) (\(tokens.count) tokens)")
        }
        var inputs: [String: MLFeatureValue] = [:]
        for spec in initEp.inputs {
            let a = try MLMultiArray(shape: spec.shape.map { NSNumber(value: $0) }, dataType: .int32)   // contiguous
            a.withUnsafeMutableBytes { raw, _ in
                let p = raw.bindMemory(to: Int32.self)
                for i in 0..<spec.numel { p[i] = spec.name == Roles.tokens ? tokens[i] : 0 }   // puzzle_ids: 0
            }
            inputs[spec.modelName] = MLFeatureValue(multiArray: a)
        }
        let out = try initModel.prediction(from: MLDictionaryFeatureProvider(dictionary: inputs))
        state = [:]
        for spec in initEp.outputs { state[spec.name] = try Self.array(out, spec) }
    }

    func step() throws -> StepOutput {
        var inputs: [String: MLFeatureValue] = [:]
        for spec in stepEp.inputs {
            guard let v = state[spec.name] else { throw TRMError.artifact("step input '\(spec.name)' has no value: initialize first") }
            inputs[spec.modelName] = MLFeatureValue(multiArray: v)
        }
        let out = try stepModel.prediction(from: MLDictionaryFeatureProvider(dictionary: inputs))
        var result = StepOutput(logits: nil, preds: nil, qHalt: [])
        for spec in stepEp.outputs {
            let a = try Self.array(out, spec)
            if spec.name.hasSuffix(Roles.nextSuffix) {
                state[String(spec.name.dropLast(Roles.nextSuffix.count))] = a
            } else if spec.name == Roles.logits {
                result.logits = Self.floats(a)
            } else if spec.name == Roles.preds {
                result.preds = Self.floats(a).map { Int32($0) }
            } else if spec.name == Roles.qHalt {
                result.qHalt = Self.floats(a)
            }
        }
        guard !result.qHalt.isEmpty else { throw TRMError.artifact("step has no '\(Roles.qHalt)' output") }
        return result
    }

    private static func array(_ out: MLFeatureProvider, _ spec: TensorSpec) throws -> MLMultiArray {
        guard let a = out.featureValue(for: spec.modelName)?.multiArrayValue else {
            throw TRMError.artifact("model output '\(spec.modelName)' is missing")
        }
        return a
    }

    /// Any MLMultiArray (float32 / float16 / double / int32) as [Float], in logical row-major order.
    static func floats(_ a: MLMultiArray) -> [Float] {
        if a.dataType == .float32, a.strides == contiguousStrides(a.shape) {
            return a.withUnsafeBytes { raw in Array(raw.bindMemory(to: Float.self).prefix(a.count)) }
        }
        // general case: walk the logical indices and let the multi-index subscript apply the strides
        let shape = a.shape.map(\.intValue)
        return (0..<a.count).map { flat in
            var rest = flat
            var idx = [NSNumber](repeating: 0, count: shape.count)
            for d in stride(from: shape.count - 1, through: 0, by: -1) {
                idx[d] = NSNumber(value: rest % shape[d]); rest /= shape[d]
            }
            return a[idx].floatValue
        }
    }

    private static func contiguousStrides(_ shape: [NSNumber]) -> [NSNumber] {
        var s = [Int](repeating: 1, count: shape.count)
        for i in stride(from: shape.count - 2, through: 0, by: -1) { s[i] = s[i + 1] * shape[i + 1].intValue }
        return s.map { NSNumber(value: $0) }
    }

    /// MLModel.compileModel once per package content (sha256 key), kept in Application Support.
    private static func compiled(package: URL, key: String) async throws -> URL {
        let fm = FileManager.default
        let cache = try fm.url(for: .applicationSupportDirectory, in: .userDomainMask, appropriateFor: nil, create: true)
            .appendingPathComponent("trm-compiled", isDirectory: true)
        let dest = cache.appendingPathComponent(sha256Hex(Data(key.utf8)) + ".mlmodelc")
        if fm.fileExists(atPath: dest.path) { return dest }
        try fm.createDirectory(at: cache, withIntermediateDirectories: true)
        let tmp = try await MLModel.compileModel(at: package)
        try? fm.removeItem(at: dest)
        try fm.moveItem(at: tmp, to: dest)
        return dest
    }
}
