import TRMCore
import XCTest
@testable import TRMDemo

/// Runs every bundled fp32 Core ML artifact (simulator or device) against the golden vectors,
/// within the tolerance recorded in them. Skips when the app was built without a model.
final class CoreMLArtifactTests: XCTestCase {
    func testBundledArtifactsReproduceGoldenVectors() async throws {
        // trm_edge/golden_vectors is bundled as the folder "golden_vectors" (project.yml); the vectors of the bundled
        // checkpoint are the ones whose weights the artifacts were exported from
        let dir = try XCTUnwrap(Bundle(for: Self.self).url(forResource: "golden_vectors", withExtension: nil))
        let all = try GoldenVectors.all(in: dir)
        guard let entries = BundledModels.entries(), !entries.isEmpty else {
            throw XCTSkip("no artifact bundled: run `trm-edge export --for-app ios`")
        }
        for e in entries where e.precision == "fp32" {
            let s = try await CoreMLSession(dir: try XCTUnwrap(BundledModels.dir(e.name)), computeUnits: .cpuOnly)
            let m = s.manifest
            let v = try XCTUnwrap(all.first { $0.weightsSha256 == m.source?.weightsSha256 },
                                  "\(e.name): no golden vectors file for its weights")
            let L = m.seqLen
            for c in v.cases {
                var q: [Float] = []
                let r = try await HostLoop(maxSteps: v.maxSteps, threshold: m.model.haltThreshold, halt: false)
                    .run(s, tokens: HostLoop.fillBatch(c.tokens, batch: m.batch)) { u in
                        q.append(u.qHalt[0])
                        let rec = c.steps[u.step - 1]
                        for cell in 0..<L {
                            let row = rec.logits[cell].sorted(by: >)
                            if row[0] - row[1] >= v.tolerance.logitAtol {
                                XCTAssertEqual(u.preds[cell], rec.preds[cell], "\(e.name) \(c.name) step \(u.step) cell \(cell)")
                            }
                        }
                    }
                XCTAssertEqual(r.steps, v.maxSteps)
                var nearThreshold = false
                for (i, rec) in c.steps.enumerated() {
                    XCTAssertEqual(q[i], rec.qHalt, accuracy: v.tolerance.qAtol, "\(e.name) \(c.name) step \(i + 1) q_halt")
                    if abs(rec.qHalt - v.haltThreshold) < v.tolerance.qAtol { nearThreshold = true }
                }
                if !nearThreshold { XCTAssertEqual(r.haltedAt[0], c.haltedAt, "\(e.name) \(c.name) halting step") }
            }
        }
    }
}
