package dev.trmedge.demo

import android.content.Intent
import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.activity.viewModels
import androidx.compose.foundation.background
import androidx.compose.foundation.border
import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Box
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.Spacer
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.height
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.layout.width
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.text.KeyboardOptions
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.Button
import androidx.compose.material3.FilterChip
import androidx.compose.material3.LinearProgressIndicator
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Surface
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableIntStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.compose.ui.draw.drawWithContent
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.platform.LocalContext
import androidx.compose.ui.text.font.FontFamily
import androidx.compose.ui.text.font.FontWeight
import androidx.compose.ui.text.input.KeyboardCapitalization
import androidx.compose.ui.unit.dp
import androidx.compose.ui.unit.sp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.trmedge.core.SudokuBoard
import dev.trmedge.core.TokenCodec

/** The Sudoku screen: pick or type a puzzle, press Think, watch the recursion fill the board. */
class MainActivity : ComponentActivity() {
    private val vm: SudokuViewModel by viewModels()

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContent {
            MaterialTheme {
                Surface(Modifier.fillMaxSize()) {
                    val state by vm.state.collectAsStateWithLifecycle()
                    SudokuScreen(state, vm)
                }
            }
        }
    }
}

@Composable
fun SudokuScreen(s: UiState, vm: SudokuViewModel) {
    var puzzleIndex by remember { mutableIntStateOf(0) }
    Column(
        Modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        val context = LocalContext.current
        Row(verticalAlignment = Alignment.CenterVertically, horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Text("Tiny Recursive Model", style = MaterialTheme.typography.headlineSmall, modifier = Modifier.weight(1f))
            OutlinedButton(onClick = { context.startActivity(Intent(context, BenchScreenActivity::class.java)) },
                enabled = !s.running) { Text("Benchmark") }
        }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            for (m in s.models) {
                FilterChip(selected = m.name == s.model, onClick = { vm.selectModel(m.name) },
                    label = { Text("${m.target} ${m.precision}") })
            }
        }
        val m = s.manifest
        if (m != null && s.given.size == m.seqLen) {
            SudokuGrid(s, TokenCodec(m.tokens, m.seqLen), SudokuBoard(m.seqLen, m.box))
        }
        OutlinedTextField(
            value = s.puzzleText, onValueChange = vm::setPuzzle, modifier = Modifier.fillMaxWidth(),
            label = { Text("puzzle (row by row, '.' = blank)") }, singleLine = true,
            textStyle = MaterialTheme.typography.bodyLarge.copy(fontFamily = FontFamily.Monospace),
            keyboardOptions = KeyboardOptions(capitalization = KeyboardCapitalization.None),
        )
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp), verticalAlignment = Alignment.CenterVertically) {
            Button(onClick = vm::think, enabled = m != null && !s.running) { Text("Think") }
            OutlinedButton(onClick = vm::stop, enabled = s.running) { Text("Stop") }
            OutlinedButton(onClick = { puzzleIndex++; vm.pickPuzzle(puzzleIndex) }, enabled = !s.running) { Text("Next puzzle") }
        }
        Row(verticalAlignment = Alignment.CenterVertically) {
            Switch(checked = s.slowMotion, onCheckedChange = vm::setSlowMotion)
            Spacer(Modifier.width(8.dp))
            Text("slow motion (${SudokuViewModel.SLOW_MOTION_MS} ms pause between steps, not timed)")
        }
        StepPanel(s)
        s.message?.let { Text(it, color = MaterialTheme.colorScheme.error) }
    }
}

/** The board: givens in bold, answers tinted by confidence, cells that just changed outlined. */
@Composable
fun SudokuGrid(s: UiState, codec: TokenCodec, board: SudokuBoard) {
    val n = board.n
    val boxLines = Modifier.drawWithContent {   // thick lines between boxes, over the cells
        drawContent()
        val w = 2.dp.toPx()
        for (c in board.boxCols until n step board.boxCols) {
            val x = size.width * c / n
            drawLine(Color.Black, Offset(x, 0f), Offset(x, size.height), w)
        }
        for (r in board.boxRows until n step board.boxRows) {
            val y = size.height * r / n
            drawLine(Color.Black, Offset(0f, y), Offset(size.width, y), w)
        }
    }
    Column(Modifier.fillMaxWidth().aspectRatio(1f).border(2.dp, Color.Black).then(boxLines)) {
        for (r in 0 until n) {
            Row(Modifier.weight(1f)) {
                for (c in 0 until n) {
                    val i = r * n + c
                    val given = codec.isGiven(s.given[i])
                    val text = if (given) codec.symbol(s.given[i]) else s.preds?.let { codec.symbol(it[i]) } ?: ""
                    val conf = s.confidence?.getOrNull(i)?.takeIf { !it.isNaN() } ?: 0f
                    val bg = if (given) Color(0xFFE0E0E0) else Color(0xFF2E7D32).copy(alpha = 0.12f + 0.5f * conf)
                    val changed = s.changed?.get(i) == true
                    Box(
                        Modifier.weight(1f).fillMaxSize().background(bg)
                            .border(if (changed) 2.dp else 0.5.dp, if (changed) Color(0xFFF57C00) else Color.Gray),
                        contentAlignment = Alignment.Center,
                    ) {
                        Column(horizontalAlignment = Alignment.CenterHorizontally) {
                            Text(text, fontSize = 22.sp, fontWeight = if (given) FontWeight.Bold else FontWeight.Normal,
                                color = if (given) Color.Black else Color(0xFF1B5E20))
                            if (!given && s.confidence != null && conf > 0f) {
                                Text("%.0f%%".format(100 * conf), fontSize = 9.sp, color = Color.DarkGray)
                            }
                        }
                    }
                }
            }
        }
    }
}

/** Step counter, halting probability and latency per step / total. */
@Composable
fun StepPanel(s: UiState) {
    val m = s.manifest ?: return
    Column(verticalArrangement = Arrangement.spacedBy(4.dp)) {
        val halted = s.haltedAt?.let { " — halted at step $it" } ?: ""
        Text("step ${s.step} / ${m.nSup}$halted", style = MaterialTheme.typography.titleMedium)
        val p = s.haltProbability
        Text("halting probability: " + (p?.let { "%.3f".format(it) } ?: "—"))
        LinearProgressIndicator(progress = { p ?: 0f }, modifier = Modifier.fillMaxWidth().height(6.dp))
        if (s.stepMs.isNotEmpty()) {
            Text("latency per step (ms): " + s.stepMs.joinToString("  ") { "%.2f".format(it) },
                fontFamily = FontFamily.Monospace, fontSize = 12.sp)
        }
        s.totalMs?.let { Text("total: %.2f ms (init %.2f ms + %d steps)".format(it, s.initMs, s.stepMs.size)) }
        Text("${m.name} · ${m.target} ${m.precision} · batch ${m.batch}", fontSize = 12.sp, color = Color.Gray)
    }
}
