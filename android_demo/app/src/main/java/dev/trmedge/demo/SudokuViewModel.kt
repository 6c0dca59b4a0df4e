package dev.trmedge.demo

import android.app.Application
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.viewModelScope
import dev.trmedge.core.HostLoop
import dev.trmedge.core.Manifest
import dev.trmedge.core.TokenCodec
import dev.trmedge.core.TrmSession
import dev.trmedge.demo.runtime.TrmSessions
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.Job
import kotlinx.coroutines.NonCancellable
import kotlinx.coroutines.cancelAndJoin
import kotlinx.coroutines.delay
import kotlinx.coroutines.ensureActive
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.File

/** Everything the Sudoku screen draws. Cell arrays are one puzzle (N*N), row-major. */
data class UiState(
    val models: List<BundledModels.Entry> = emptyList(),
    val model: String? = null,
    val manifest: Manifest? = null,
    val puzzleText: String = "",
    val given: IntArray = IntArray(0),        // tokens of the puzzle being solved
    val preds: IntArray? = null,              // answer after the latest step
    val confidence: FloatArray? = null,       // max softmax probability per cell
    val changed: BooleanArray? = null,        // cells whose answer changed at the latest step
    val step: Int = 0,
    val haltProbability: Float? = null,
    val haltedAt: Int? = null,
    val stepMs: List<Double> = emptyList(),
    val initMs: Double? = null,
    val running: Boolean = false,
    val slowMotion: Boolean = true,           // pause between steps so the board can be watched
    val message: String? = null,
) {
    val totalMs: Double? get() = initMs?.let { it + stepMs.sum() }
}

class SudokuViewModel(app: Application) : AndroidViewModel(app) {
    private val bundled = BundledModels(app)
    private val _state = MutableStateFlow(UiState())
    val state: StateFlow<UiState> = _state.asStateFlow()
    private var session: TrmSession? = null
    private var puzzles: Puzzles? = null
    private var thinking: Job? = null

    init {
        viewModelScope.launch {
            val models = withContext(Dispatchers.IO) { runCatching { bundled.install() } }
            models.onFailure { e -> _state.update { it.copy(message = "cannot install models: ${e.message}") } }
            val list = models.getOrNull()
            if (list.isNullOrEmpty()) {
                _state.update { it.copy(message = "No model bundled. Run `trm-edge export --for-app android` and rebuild.") }
                return@launch
            }
            puzzles = withContext(Dispatchers.IO) { bundled.puzzles() }
            _state.update { it.copy(models = list) }
            selectModel(list.first().name)
        }
    }

    fun selectModel(name: String) {
        viewModelScope.launch {
            thinking?.cancelAndJoin()   // never close a session a step is still running on
            val old = session
            session = null              // think() cannot start on a session being closed
            _state.update { it.copy(message = "loading $name…", running = false) }
            val opened = withContext(Dispatchers.IO) {
                runCatching { old?.close(); TrmSessions.open(File(bundled.root, name)) }
            }
            opened.onSuccess { s ->
                session = s
                _state.update { it.copy(model = name, manifest = s.manifest, message = null) }
                if (_state.value.puzzleText.isEmpty()) pickPuzzle(0)
            }.onFailure { e -> session = null; _state.update { it.copy(message = "cannot open $name: ${e.message}") } }
        }
    }

    fun pickPuzzle(index: Int) {
        val p = puzzles ?: return
        val m = _state.value.manifest ?: return
        val tokens = p.inputs[Math.floorMod(index, p.inputs.size)]
        setPuzzle(TokenCodec(m.tokens, m.seqLen).decode(tokens))
    }

    fun setPuzzle(text: String) {
        thinking?.cancel()
        val m = _state.value.manifest
        val given = m?.let { runCatching { TokenCodec(it.tokens, it.seqLen).encode(text) }.getOrNull() }
        _state.update {
            it.copy(puzzleText = text, given = given ?: it.given, preds = null, confidence = null, changed = null,
                step = 0, haltProbability = null, haltedAt = null, stepMs = emptyList(), initMs = null,
                running = false, message = if (given == null && m != null && text.isNotEmpty())
                    "a ${m.seqLen}-cell puzzle: digits ${m.tokens.symbols.keys.joinToString("")}, '.' for blanks" else null)
        }
    }

    fun setSlowMotion(on: Boolean) = _state.update { it.copy(slowMotion = on) }

    fun stop() { thinking?.cancel(); _state.update { it.copy(running = false) } }

    /** Think: init, then step until the halting head says stop or n_sup steps ran; redraw after each. */
    fun think() {
        val s = session ?: return
        val m = s.manifest
        val tokens = runCatching { TokenCodec(m.tokens, m.seqLen).encode(_state.value.puzzleText) }.getOrElse { e ->
            _state.update { it.copy(message = e.message) }; return
        }
        val previous = thinking
        previous?.cancel()
        _state.update { it.copy(given = tokens, preds = null, confidence = null, changed = null, step = 0,
            haltProbability = null, haltedAt = null, stepMs = emptyList(), initMs = null, running = true, message = null) }
        thinking = viewModelScope.launch(Dispatchers.Default) {
            // one run at a time on a session: the previous step may still be running. NonCancellable:
            // this job completes only after the previous one did (onCleared closes the session then)
            withContext(NonCancellable) { previous?.join() }
            ensureActive()
            val L = m.seqLen
            var last: IntArray? = null
            try {
                val result = HostLoop(m.nSup, m.haltThreshold, halt = true)
                    .run(s, TrmSession.fillBatch(tokens, m.batch)) { u ->
                        val preds = u.preds.copyOfRange(0, L)   // the UI solves one puzzle (row 0)
                        val prev = last
                        _state.update {
                            it.copy(preds = preds, confidence = u.confidence.copyOfRange(0, L),
                                changed = BooleanArray(L) { c -> prev != null && prev[c] != preds[c] },
                                step = u.step, haltProbability = u.haltProbability(0),
                                haltedAt = u.haltedAt[0].takeIf { h -> h != 0 }, stepMs = it.stepMs + u.stepMs)
                        }
                        last = preds
                        if (_state.value.slowMotion) delay(SLOW_MOTION_MS)   // outside the timed step
                        ensureActive()      // Stop / a new puzzle / onCleared: no further step
                    }
                _state.update { it.copy(initMs = result.initMs, running = false,
                    message = if (result.haltedAt[0] < m.nSup || it.haltedAt != null) null else "no halt: stopped at n_sup = ${m.nSup}") }
            } catch (e: kotlinx.coroutines.CancellationException) {
                throw e
            } catch (e: Exception) {
                _state.update { it.copy(running = false, message = "inference failed: ${e.message}") }
            }
        }
    }

    /**
     * The scope is already cancelled here, but a step that was running is still inside the runtime
     * (ExecuTorch's destroy() throws while a method executes; closing a LiteRT interpreter mid-run
     * is unsafe): the session is closed once the solving coroutine has finished.
     */
    override fun onCleared() {
        val s = session ?: return
        session = null
        val job = thinking
        if (job == null || job.isCompleted) s.close()
        else { job.cancel(); job.invokeOnCompletion { runCatching { s.close() } } }   // a handler must not throw
    }

    companion object { const val SLOW_MOTION_MS = 250L }
}
