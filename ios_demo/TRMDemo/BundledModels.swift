import Foundation
import TRMCore

/// The models bundled in the app's `trm/` folder by `trm-edge export --for-app ios`:
/// trm/index.json, trm/puzzles.json, trm/<artifact-name>/{manifest.json, model.mlpackage/...}.
struct BundledModels {
    struct Entry: Codable, Hashable { let name: String; let target: String; let precision: String }
    private struct Index: Codable { let format: String; let `default`: String; let artifacts: [Entry] }

    static var root: URL? { Bundle.main.url(forResource: "trm", withExtension: nil) }

    /// Bundled artifacts, the default first; nil if the app was built without a model.
    static func entries() -> [Entry]? {
        guard let root, let data = try? Data(contentsOf: root.appendingPathComponent("index.json")),
              let index = try? JSONDecoder().decode(Index.self, from: data) else { return nil }
        // the default first, the rest in index order (a partition: `sorted` needs a strict ordering)
        return index.artifacts.filter { $0.name == index.default } + index.artifacts.filter { $0.name != index.default }
    }

    static func dir(_ name: String) -> URL? { root?.appendingPathComponent(name, isDirectory: true) }

    static func puzzles() -> Puzzles? {
        guard let root, let data = try? Data(contentsOf: root.appendingPathComponent("puzzles.json")) else { return nil }
        return try? Puzzles.parse(data)
    }
}
