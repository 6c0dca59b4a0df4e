import Foundation
import TRMCore
import XCTest

/// sha256 (CryptoKit on Apple platforms, the pure-Swift fallback everywhere), the artifact check
/// of Manifest.load, and the bench statistics.
final class CoreTests: XCTestCase {
    /// FIPS 180-2 appendix B examples; the fallback must agree with sha256Hex (CryptoKit on Apple).
    func testPureSHA256MatchesFIPSExamples() {
        let cases = [
            ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
            ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
            ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
             "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ]
        for (text, digest) in cases {
            XCTAssertEqual(PureSHA256.hexDigest(Data(text.utf8)), digest, text)
            XCTAssertEqual(sha256Hex(Data(text.utf8)), digest, text)
        }
        let million = Data(repeating: UInt8(ascii: "a"), count: 1_000_000)
        XCTAssertEqual(PureSHA256.hexDigest(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// The vectors record Python's hashlib digest of the checkpoint's weights file
    /// (trm_edge/checkpoints/<checkpoint>/model.safetensors): an artifact listing that file loads,
    /// a changed byte, a missing file or a path leaving the folder is refused.
    func testManifestLoadVerifiesEveryFile() throws {
        let fm = FileManager.default
        for v in try GoldenVectors.all() {
            let weights = GoldenVectors.repositoryRoot.appendingPathComponent("trm_edge/checkpoints/\(v.checkpoint)/model.safetensors")
            let bytes = try Data(contentsOf: weights)
            XCTAssertEqual(PureSHA256.hexDigest(bytes), v.checkpointSha256)
            XCTAssertEqual(sha256Hex(bytes), v.checkpointSha256)

            let dir = fm.temporaryDirectory.appendingPathComponent("trmcore-\(UUID().uuidString)")
            try fm.createDirectory(at: dir.appendingPathComponent("sub"), withIntermediateDirectories: true)
            defer { try? fm.removeItem(at: dir) }
            func writeManifest(_ rel: String) throws {
                var m = try JSONSerialization.jsonObject(with: JSONEncoder().encode(try v.manifest())) as! [String: Any]
                m["files"] = [rel: ["sha256": v.checkpointSha256, "bytes": bytes.count] as [String: Any]]
                try JSONSerialization.data(withJSONObject: m).write(to: dir.appendingPathComponent(Manifest.fileName))
            }
            try writeManifest("model.bin")
            try bytes.write(to: dir.appendingPathComponent("model.bin"))
            XCTAssertEqual(try Manifest.load(dir).sizeBytes, bytes.count)

            var tampered = bytes
            tampered[tampered.count / 2] ^= 1
            try tampered.write(to: dir.appendingPathComponent("model.bin"))
            XCTAssertThrowsError(try Manifest.load(dir))
            try fm.removeItem(at: dir.appendingPathComponent("model.bin"))
            XCTAssertThrowsError(try Manifest.load(dir))
            try writeManifest("sub/../../outside.bin")
            XCTAssertThrowsError(try Manifest.load(dir))
        }
    }

    func testLatencyStatsFollowNumpyAndAllowNoRuns() {
        // numpy.median([4, 1, 3, 2]) = 2.5; numpy.percentile(..., 90) = 3 + 0.7 * (4 - 3) = 3.7
        let s = LatencyStats([4, 1, 3, 2])
        XCTAssertEqual(s.median!, 2.5, accuracy: 1e-12)
        XCTAssertEqual(s.p90!, 3.7, accuracy: 1e-12)
        XCTAssertEqual(s.min, 1)
        XCTAssertEqual(s.n, 4)
        let none = LatencyStats([])
        XCTAssertEqual(none, LatencyStats([]))
        XCTAssertNil(none.median)
        XCTAssertEqual(none.n, 0)
        XCTAssertTrue(none.json["p90"] is NSNull)
        XCTAssertThrowsError(try Puzzles.parse(Data(#"{"task": "t", "inputs": [], "labels": []}"#.utf8)))
    }
}
