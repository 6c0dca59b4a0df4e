import SwiftUI
import TRMCore

/// The in-app benchmark: a bundled model, depths 1/2/4/8, 3 warm-up + 20 timed solves per depth,
/// adaptive halting on the bundled puzzles; shows per-depth latency (median / p90), mean halting
/// steps and the runtime, saves Documents/bench_result.json (`trm-edge-bench/1`, the JSON `trm-edge
/// bench` writes) and shares it. The measuring and the table are TRMCore (Bench, BenchSummary,
/// tested by `swift test`); this view is the thin UI.
struct BenchmarkScreen: View {
    @StateObject private var vm = BenchmarkScreenModel()
    @Environment(\.dismiss) private var dismiss

    var body: some View {
        NavigationStack {
            ScrollView {
                VStack(alignment: .leading, spacing: 12) {
                    if vm.models.count > 1 {
                        Picker("Model", selection: $vm.model) {
                            ForEach(vm.models, id: \.name) { Text("\($0.target) \($0.precision)").tag(Optional($0.name)) }
                        }.pickerStyle(.segmented)
                    }
                    Text("depths 1, 2, 4, 8 · 3 warm-up + 20 timed solves each · halting on the bundled puzzles").font(.footnote)
                    HStack {
                        Button("Run") { vm.run() }.buttonStyle(.borderedProminent).disabled(vm.model == nil || vm.running)
                        if let url = vm.savedTo { ShareLink("Share JSON", item: url) }
                    }
                    Text(vm.progress)
                    ForEach(Array(vm.summary.enumerated()), id: \.offset) { Text($0.element).font(.system(.caption, design: .monospaced)) }
                    if let url = vm.savedTo { Text("saved: \(url.lastPathComponent) in Documents (trm-edge-bench/1)").font(.footnote) }
                }
                .padding()
            }
            .navigationTitle("Benchmark")
            .toolbar { ToolbarItem(placement: .cancellationAction) { Button("Close") { dismiss() }.disabled(vm.running) } }
        }
    }
}

@MainActor
final class BenchmarkScreenModel: ObservableObject {
    @Published var models: [BundledModels.Entry] = BundledModels.entries() ?? []
    @Published var model: String? = BundledModels.entries()?.first?.name
    @Published var running = false
    @Published var progress = BundledModels.entries() == nil ? "No model bundled: run `trm-edge export --for-app ios`" : ""
    @Published var summary: [String] = []
    @Published var savedTo: URL?

    func run() {
        guard let model, !running else { return }
        running = true; summary = []; savedTo = nil
        let args = BenchArgs(screenArtifact: model)
        Task.detached(priority: .userInitiated) { [weak self] in
            let (url, result) = await BenchmarkRunner(args: args).runAndWrite { line in
                Task { @MainActor in self?.progress = line }
            }
            let lines = BenchSummary.of(result).lines()
            await MainActor.run {
                self?.summary = lines; self?.savedTo = url; self?.progress = "done"; self?.running = false
            }
        }
    }
}
