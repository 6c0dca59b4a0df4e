package dev.trmedge.demo

import android.app.Application
import android.content.Intent
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.FilterChip
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Surface
import androidx.compose.material3.Text
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.AndroidViewModel
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import androidx.lifecycle.viewModelScope
import dev.trmedge.core.Bench
import dev.trmedge.core.BenchArgs
import dev.trmedge.core.BenchSummary
import dev.trmedge.demo.runtime.TrmSessions
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.json.JSONObject
import java.io.File

/** What the benchmark screen draws. */
data class BenchUi(
    val models: List<BundledModels.Entry> = emptyList(),
    val model: String? = null,
    val running: Boolean = false,
    val progress: String = "",
    val summary: List<String> = emptyList(),
    val result: JSONObject? = null,
    val savedTo: String? = null,
)

/**
 * The in-app benchmark: a bundled model, depths 1/2/4/8, R timed solves per depth, adaptive halting
 * on the bundled puzzles; shows per-depth latency (median / p90), mean halting steps, the runtime,
 * and saves / shares the `trm-edge-bench/1` JSON that `trm-edge bench` reads. All measuring and
 * the table are dev.trmedge.core (Bench, BenchSummary: JVM-tested in CI); this is the thin UI.
 */
class BenchViewModel(app: Application) : AndroidViewModel(app) {
    private val bundled = BundledModels(app)
    private val _state = MutableStateFlow(BenchUi())
    val state = _state.asStateFlow()

    init {
        viewModelScope.launch {
            val models = withContext(Dispatchers.IO) { runCatching { bundled.install() }.getOrNull().orEmpty() }
            _state.update { it.copy(models = models, model = models.firstOrNull()?.name,
                progress = if (models.isEmpty()) "No model bundled: run `trm-edge export --for-app android`" else "") }
        }
    }

    fun select(name: String) = _state.update { it.copy(model = name) }

    fun run() {
        val name = _state.value.model ?: return
        if (_state.value.running) return
        _state.update { it.copy(running = true, summary = emptyList(), result = null, savedTo = null) }
        viewModelScope.launch {
            val dir = File(bundled.root, name)
            val result = withContext(Dispatchers.Default) {
                val puzzles = runCatching { bundled.puzzles() }.getOrNull()   // every bundled puzzle is scored
                val args = BenchArgs(artifactDir = dir.path, depths = DEPTHS, runs = RUNS, warmup = WARMUP,
                    nPuzzles = puzzles?.inputs?.size ?: 1, puzzlesSource = "trm/puzzles.json",
                    command = "in-app benchmark screen")
                Bench(args, BenchmarkActivity.deviceJson()) { line -> _state.update { it.copy(progress = line) } }
                    .run(puzzles = { puzzles ?: error("no trm/puzzles.json bundled") }, open = { TrmSessions.open(dir) })
            }
            val saved = withContext(Dispatchers.IO) {
                runCatching { BenchmarkActivity.writeResult(getApplication<Application>(), result, OUT) }.getOrNull()
            }
            _state.update { it.copy(running = false, progress = "done", result = result,
                summary = BenchSummary.of(result).lines(), savedTo = saved?.path) }
        }
    }

    companion object {
        val DEPTHS = listOf(1, 2, 4, 8)
        const val RUNS = 20
        const val WARMUP = 3
        const val OUT = "bench_result.json"
    }
}

class BenchScreenActivity : ComponentActivity() {
    private val vm: BenchViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent {
            MaterialTheme {
                Surface(Modifier.fillMaxSize()) {
                    val s by vm.state.collectAsStateWithLifecycle()
                    Column(Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp),
                        verticalArrangement = Arrangement.spacedBy(12.dp)) {
                        Text("Benchmark", style = MaterialTheme.typography.headlineSmall)
                        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                            for (m in s.models) FilterChip(selected = m.name == s.model, onClick = { vm.select(m.name) },
                                label = { Text("${m.target} ${m.precision}") })
                        }
                        Text("depths ${BenchViewModel.DEPTHS.joinToString(", ")} · ${BenchViewModel.WARMUP} warm-up + " +
                            "${BenchViewModel.RUNS} timed solves each · halting on the bundled puzzles", fontSize = 12.sp)
                        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
                            Button(onClick = vm::run, enabled = s.model != null && !s.running) { Text("Run") }
                            OutlinedButton(onClick = { share(s.result) }, enabled = s.result != null) { Text("Share JSON") }
                        }
                        Text(s.progress)
                        for (line in s.summary) Text(line, fontFamily = FontFamily.Monospace, fontSize = 12.sp)
                        s.savedTo?.let { Text("saved: $it (trm-edge-bench/1, the JSON `trm-edge bench` writes; `adb pull` it)", fontSize = 12.sp) }
                    }
                }
            }
        }
    }

    private fun share(result: JSONObject?) {
        if (result == null) return
        val send = Intent(Intent.ACTION_SEND).setType("application/json")
            .putExtra(Intent.EXTRA_SUBJECT, "trm-edge bench result").putExtra(Intent.EXTRA_TEXT, result.toString(2))
        startActivity(Intent.createChooser(send, "Share the bench result"))
    }
}
