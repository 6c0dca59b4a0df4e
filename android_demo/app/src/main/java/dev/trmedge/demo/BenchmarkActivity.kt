package dev.trmedge.demo

import android.app.Activity
import android.os.Bundle
import android.util.Log
import android.widget.TextView
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import java.io.File

/**
 * Benchmark mode, driven over adb by `trm-edge bench --device <android profile>`:
 *
 *   adb shell am start -W -S -n dev.trmedge.demo/.BenchmarkActivity \
 *     --es artifact_dir /data/local/tmp/trm-edge/executorch-fp32-looped \
 *     --es puzzles /data/local/tmp/trm-edge/puzzles.json --es depths 1,2,4,8 \
 *     --ei runs 20 --ei warmup 3 --ei threads 0 --ei batch 1 --ei n_puzzles 100 --ez halt true \
 *     --es out bench_result.json
 *
 * Writes getExternalFilesDir(null)/<out> (= /sdcard/Android/data/dev.trmedge.demo/files/) atomically
 * in the `trm-edge-bench/1` schema of benchmarks/README.md, then finishes. Errors go into the file.
 */
class BenchmarkActivity : Activity() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Main)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val status = TextView(this).apply { text = "trm-edge benchmark running…"; setPadding(48, 48, 48, 48) }
        setContentView(status)
        val args = argsFrom(intent.extras ?: Bundle())
        scope.launch {
            val out = withContext(Dispatchers.Default) {
                val result = Bench(args).run()
                val dir = getExternalFilesDir(null) ?: filesDir
                val target = File(dir, args.out)
                val tmp = File(dir, args.out + ".tmp")
                tmp.writeText(result.toString(2) + "\n")
                if (!tmp.renameTo(target)) throw IllegalStateException("cannot rename $tmp to $target")
                target
            }
            Log.i(TAG, "wrote $out")
            status.text = "wrote $out"
            finish()
        }
    }

    override fun onDestroy() {
        scope.cancel()
        super.onDestroy()
    }

    private fun argsFrom(b: Bundle): BenchArgs {
        val root = "/data/local/tmp/trm-edge"
        val a = BenchArgs(
            artifactDir = b.getString("artifact_dir") ?: "$root/executorch-fp32-looped",
            puzzles = b.getString("puzzles") ?: "$root/puzzles.json",
            depths = (b.getString("depths") ?: "1,2,4,8").split(",").mapNotNull { it.trim().toIntOrNull() },
            runs = b.getInt("runs", 20),
            warmup = b.getInt("warmup", 3),
            threads = b.getInt("threads", 0),
            batch = b.getInt("batch", 1),
            nPuzzles = b.getInt("n_puzzles", 100),
            halt = b.getBoolean("halt", true),
            out = (b.getString("out") ?: "bench_result.json").substringAfterLast('/'),  // a name, not a path
        )
        val cmd = "am start -n dev.trmedge.demo/.BenchmarkActivity --es artifact_dir ${a.artifactDir} " +
            "--es puzzles ${a.puzzles} --es depths ${a.depths.joinToString(",")} --ei runs ${a.runs} " +
            "--ei warmup ${a.warmup} --ei threads ${a.threads} --ei batch ${a.batch} --ei n_puzzles ${a.nPuzzles} " +
            "--ez halt ${a.halt} --es out ${a.out}"
        return a.copy(command = cmd)
    }

    companion object { const val TAG = "TRMBench" }
}
