import SwiftUI

/// Normal launch: the Sudoku screen. Launched with `--trm-bench` (by `trm-edge bench --device
/// iphone15pro` through `xcrun devicectl`): benchmark mode, see BenchmarkRunner.
@main
struct TRMDemoApp: App {
    private let benchArgs = BenchArgs(arguments: ProcessInfo.processInfo.arguments)

    var body: some Scene {
        WindowGroup {
            if let benchArgs {
                BenchmarkView(args: benchArgs)
            } else {
                ContentView()
            }
        }
    }
}

struct BenchmarkView: View {
    let args: BenchArgs
    @State private var status = "trm-edge benchmark running…"

    var body: some View {
        Text(status).padding()
            .task {
                let (url, _) = await BenchmarkRunner(args: args).runAndWrite()
                status = "wrote \(url.path)"
            }
    }
}
