// swift-tools-version:5.9
// TRMCore: the iOS demo's logic without Core ML or UIKit (manifest + sha256 checks, token codec,
// Sudoku board, host loop, bench statistics), so that it builds and its tests run with
// `swift test` on macOS and on Linux. The app (../project.yml) depends on it as a local package.
import PackageDescription

let package = Package(
    name: "TRMCore",
    platforms: [.iOS(.v17), .macOS(.v13)],
    products: [.library(name: "TRMCore", targets: ["TRMCore"])],
    targets: [
        .target(name: "TRMCore"),
        // reads ../../trm_edge/golden_vectors/*.json and ../../trm_edge/checkpoints at test time (see GoldenVectors.swift)
        .testTarget(name: "TRMCoreTests", dependencies: ["TRMCore"]),
    ]
)
