import SwiftUI
import TRMCore

/// The Sudoku screen: pick or type a puzzle, press Think, watch the recursion fill the board.
struct ContentView: View {
    @StateObject private var vm = SudokuViewModel()
    @State private var showBenchmark = false

    var body: some View {
        ScrollView {
            VStack(alignment: .leading, spacing: 12) {
                HStack {
                    Text("Tiny Recursive Model").font(.title2.bold())
                    Spacer()
                    Button("Benchmark") { showBenchmark = true }.disabled(vm.running)
                }
                if vm.models.count > 1 {
                    Picker("Model", selection: Binding(get: { vm.model ?? "" }, set: { n in Task { await vm.select(n) } })) {
                        ForEach(vm.models, id: \.name) { Text("\($0.target) \($0.precision)").tag($0.name) }
                    }.pickerStyle(.segmented)
                }
                if let m = vm.manifest, let codec = vm.codec, vm.given.count == m.seqLen {
                    SudokuGrid(vm: vm, codec: codec, board: SudokuBoard(seqLen: m.seqLen, box: m.task.box))
                }
                TextField("puzzle (row by row, '.' = blank)", text: Binding(get: { vm.puzzleText }, set: { vm.setPuzzle($0) }))
                    .font(.system(.body, design: .monospaced))
                    .textInputAutocapitalization(.never)
                    .autocorrectionDisabled()
                    .textFieldStyle(.roundedBorder)
                HStack {
                    Button("Think") { vm.think() }.buttonStyle(.borderedProminent).disabled(vm.manifest == nil || vm.running)
                    Button("Stop") { vm.stop() }.disabled(!vm.running)
                    Button("Next puzzle") { vm.pickPuzzle() }.disabled(vm.running)
                }
                Toggle("Slow motion (\(SudokuViewModel.slowMotionMs) ms pause between steps, not timed)", isOn: $vm.slowMotion)
                    .font(.footnote)
                StepPanel(vm: vm)
                if let msg = vm.message { Text(msg).foregroundStyle(.red) }
            }
            .padding()
        }
        .task { await vm.start() }
        .sheet(isPresented: $showBenchmark) { BenchmarkScreen() }
    }
}

/// Givens in bold; answers tinted by confidence; cells that changed at the last step outlined.
struct SudokuGrid: View {
    @ObservedObject var vm: SudokuViewModel
    let codec: TokenCodec
    let board: SudokuBoard

    var body: some View {
        let n = board.n
        Grid(horizontalSpacing: 0, verticalSpacing: 0) {
            ForEach(0..<n, id: \.self) { r in
                GridRow {
                    ForEach(0..<n, id: \.self) { c in cell(r * n + c) }
                }
            }
        }
        .overlay { boxLines(n) }
        .border(Color.black, width: 2)
        .aspectRatio(1, contentMode: .fit)
    }

    /// Thick lines between the boxes, drawn over the cells.
    private func boxLines(_ n: Int) -> some View {
        GeometryReader { g in
            Path { p in
                for c in stride(from: board.boxCols, to: n, by: board.boxCols) {
                    let x = g.size.width * CGFloat(c) / CGFloat(n)
                    p.move(to: CGPoint(x: x, y: 0)); p.addLine(to: CGPoint(x: x, y: g.size.height))
                }
                for r in stride(from: board.boxRows, to: n, by: board.boxRows) {
                    let y = g.size.height * CGFloat(r) / CGFloat(n)
                    p.move(to: CGPoint(x: 0, y: y)); p.addLine(to: CGPoint(x: g.size.width, y: y))
                }
            }
            .stroke(Color.black, lineWidth: 2)
        }
    }

    @ViewBuilder private func cell(_ i: Int) -> some View {
        let given = codec.isGiven(vm.given[i])
        let text = given ? codec.symbol(vm.given[i]) : (vm.preds.map { codec.symbol($0[i]) } ?? "")
        let conf = vm.confidence.map { $0[i].isNaN ? 0 : Double($0[i]) } ?? 0
        let changed = vm.changed?[i] ?? false
        VStack(spacing: 0) {
            Text(text).font(.system(size: 22, weight: given ? .bold : .regular))
                .foregroundStyle(given ? Color.black : Color.green.opacity(0.9))
            if !given, vm.confidence != nil { Text("\(Int((100 * conf).rounded()))%").font(.system(size: 9)).foregroundStyle(.gray) }
        }
        .frame(maxWidth: .infinity, maxHeight: .infinity)
        .aspectRatio(1, contentMode: .fit)
        .background(given ? Color(white: 0.88) : Color.green.opacity(0.12 + 0.5 * conf))
        .border(changed ? Color.orange : Color.gray, width: changed ? 2 : 0.5)
    }
}

/// Step counter, halting probability and latency per step / total.
struct StepPanel: View {
    @ObservedObject var vm: SudokuViewModel

    var body: some View {
        if let m = vm.manifest {
            VStack(alignment: .leading, spacing: 4) {
                Text("step \(vm.step) / \(m.model.nSup)" + (vm.haltedAt.map { " — halted at step \($0)" } ?? "")).font(.headline)
                Text("halting probability: " + (vm.haltProbability.map { String(format: "%.3f", $0) } ?? "—"))
                ProgressView(value: Double(vm.haltProbability ?? 0))
                if !vm.stepMs.isEmpty {
                    Text("latency per step (ms): " + vm.stepMs.map { String(format: "%.2f", $0) }.joined(separator: "  "))
                        .font(.system(.caption, design: .monospaced))
                }
                if let total = vm.totalMs, let initMs = vm.initMs {
                    Text(String(format: "total: %.2f ms (init %.2f ms + %d steps)", total, initMs, vm.stepMs.count))
                }
                Text("\(m.name) · \(m.target) \(m.precision) · batch \(m.batch)").font(.caption).foregroundStyle(.gray)
            }
        }
    }
}
