import Foundation
import SwiftUI
import TRMCore

/// State of the Sudoku screen; inference runs off the main actor, the board redraws after each step.
@MainActor
final class SudokuViewModel: ObservableObject {
    @Published var models: [BundledModels.Entry] = []
    @Published var model: String?
    @Published var manifest: Manifest?
    @Published var puzzleText = ""
    @Published var given: [Int32] = []
    @Published var preds: [Int32]?
    @Published var confidence: [Float]?
    @Published var changed: [Bool]?
    @Published var step = 0
    @Published var haltProbability: Float?
    @Published var haltedAt: Int?
    @Published var stepMs: [Double] = []
    @Published var initMs: Double?
    @Published var running = false
    @Published var slowMotion = true      // pause between steps so the board can be watched
    @Published var message: String?

    static let slowMotionMs: UInt64 = 250
    private var session: CoreMLSession?
    private var puzzles: Puzzles?
    private var puzzleIndex = 0
    private var thinking: Task<Void, Never>?

    var totalMs: Double? { initMs.map { $0 + stepMs.reduce(0, +) } }
    var codec: TokenCodec? { manifest.map { TokenCodec($0.task.tokens, seqLen: $0.seqLen) } }

    func start() async {
        guard let list = BundledModels.entries(), !list.isEmpty else {
            message = "No model bundled. Run `trm-edge export --for-app ios`, then rebuild."
            return
        }
        models = list
        puzzles = BundledModels.puzzles()
        await select(list[0].name)
    }

    func select(_ name: String) async {
        thinking?.cancel()
        await thinking?.value   // never swap the session under a running step
        guard let dir = BundledModels.dir(name) else { return }
        message = "loading \(name)…"
        do {
            let s = try await CoreMLSession(dir: dir)
            session = s
            model = name
            manifest = s.manifest
            message = nil
            if puzzleText.isEmpty { pickPuzzle(0) }
        } catch {
            session = nil
            message = "cannot open \(name): \(error.localizedDescription)"
        }
    }

    func pickPuzzle(_ delta: Int = 1) {
        guard let p = puzzles, !p.inputs.isEmpty, let codec else { return }
        puzzleIndex = ((puzzleIndex + delta) % p.inputs.count + p.inputs.count) % p.inputs.count
        setPuzzle(codec.decode(p.inputs[puzzleIndex]))
    }

    func setPuzzle(_ text: String) {
        thinking?.cancel()
        puzzleText = text
        reset()
        if let codec {
            do { given = try codec.encode(text) } catch { if !text.isEmpty { message = error.localizedDescription } }
        }
    }

    func stop() { thinking?.cancel(); running = false }

    /// Think: init, then step until the halting head says stop or n_sup steps ran.
    func think() {
        guard let session, let m = manifest, let codec else { return }
        do { given = try codec.encode(puzzleText) } catch { message = error.localizedDescription; return }
        let previous = thinking
        previous?.cancel()
        reset()
        running = true
        let tokens = HostLoop.fillBatch(given, batch: m.batch)
        let L = m.seqLen
        let pauseNs = slowMotion ? Self.slowMotionMs * 1_000_000 : 0
        thinking = Task.detached(priority: .userInitiated) { [weak self] in
            await previous?.value       // one run at a time on a session: its step may still be running
            var last: [Int32]? = nil
            do {
                let loop = HostLoop(maxSteps: m.model.nSup, threshold: m.model.haltThreshold)
                let r = try await loop.run(session, tokens: tokens) { u in
                    let p = Array(u.preds[0..<L]), c = Array(u.confidence[0..<L])
                    let prev = last
                    last = p
                    await MainActor.run {
                        guard let self else { return }
                        self.preds = p
                        self.confidence = c
                        self.changed = prev.map { pr in (0..<L).map { pr[$0] != p[$0] } }
                        self.step = u.step
                        self.haltProbability = u.haltProbability(0)
                        self.haltedAt = u.haltedAt[0] == 0 ? nil : u.haltedAt[0]
                        self.stepMs.append(u.stepMs)
                    }
                    if pauseNs > 0 { try await Task.sleep(nanoseconds: pauseNs) }   // outside the timed step
                }
                await MainActor.run { self?.initMs = r.initMs; self?.running = false }
            } catch is CancellationError {
                await MainActor.run { self?.running = false }
            } catch {
                await MainActor.run { self?.running = false; self?.message = "inference failed: \(error.localizedDescription)" }
            }
        }
    }

    private func reset() {
        preds = nil; confidence = nil; changed = nil; step = 0; haltProbability = nil; haltedAt = nil
        stepMs = []; initMs = nil; running = false; message = nil
    }
}
