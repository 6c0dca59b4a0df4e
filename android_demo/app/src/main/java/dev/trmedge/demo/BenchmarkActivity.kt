package dev.trmedge.demo

import android.app.Activity
import android.content.Context
import android.os.Build
import android.os.Bundle
import android.util.Log
import android.widget.TextView
import dev.trmedge.core.Bench
import dev.trmedge.core.BenchArgs
import dev.trmedge.core.Puzzles
import dev.trmedge.demo.runtime.TrmSessions
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.cancel
import kotlinx.coroutines.launch
import kotlinx.coroutines.withContext
import org.json.JSONObject
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
 * The measuring is dev.trmedge.core.Bench (JVM-tested in CI); the in-app screen is BenchScreenActivity.
 */
class BenchmarkActivity : Activity() {
    private val scope = CoroutineScope(SupervisorJob() + Dispatchers.Main)

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val status = TextView(this).apply { text = "trm-edge benchmark running…"; setPadding(48, 48, 48, 48) }
        setContentView(status)
        val b = intent.extras ?: Bundle()
        val root = "/data/local/tmp/trm-edge"
        val puzzles = b.getString("puzzles") ?: "$root/puzzles.json"
        val out = (b.getString("out") ?: "bench_result.json").substringAfterLast('/')   // a name, not a path
        val args = argsFrom(b, "$root/executorch-fp32-looped", puzzles, out)
        scope.launch {
            val written = withContext(Dispatchers.Default) {
                val result = Bench(args, deviceJson()).run(
                    puzzles = { Puzzles.parse(File(puzzles).readText()) },
                    open = { TrmSessions.open(File(args.artifactDir), args.threads) })
                writeResult(this@BenchmarkActivity, result, out)
            }
            Log.i(TAG, "wrote $written")
            status.text = "wrote $written"
            finish()
        }
    }

    override fun onDestroy() {
        scope.cancel()
        super.onDestroy()
    }

    companion object {
        const val TAG = "TRMBench"

        private fun argsFrom(b: Bundle, defaultArtifact: String, puzzles: String, out: String): BenchArgs {
            val a = BenchArgs(
                artifactDir = b.getString("artifact_dir") ?: defaultArtifact,
                depths = (b.getString("depths") ?: "1,2,4,8").split(",").mapNotNull { it.trim().toIntOrNull() },
                runs = b.getInt("runs", 20),
                warmup = b.getInt("warmup", 3),
                threads = b.getInt("threads", 0),
                batch = b.getInt("batch", 1),
                nPuzzles = b.getInt("n_puzzles", 100),
                halt = b.getBoolean("halt", true),
                puzzlesSource = puzzles,
            )
            val cmd = "am start -n dev.trmedge.demo/.BenchmarkActivity --es artifact_dir ${a.artifactDir} " +
                "--es puzzles $puzzles --es depths ${a.depths.joinToString(",")} --ei runs ${a.runs} " +
                "--ei warmup ${a.warmup} --ei threads ${a.threads} --ei batch ${a.batch} --ei n_puzzles ${a.nPuzzles} " +
                "--ez halt ${a.halt} --es out $out"
            return a.copy(command = cmd)
        }

        /** getExternalFilesDir(null)/<name>, written atomically (temporary file + rename). */
        fun writeResult(context: Context, result: JSONObject, name: String): File {
            val dir = context.getExternalFilesDir(null) ?: context.filesDir
            val target = File(dir, name)
            val tmp = File(dir, "$name.tmp")
            tmp.writeText(result.toString(2) + "\n")
            if (!tmp.renameTo(target)) throw IllegalStateException("cannot rename $tmp to $target")
            return target
        }

        /** The bench JSON's `device` block for this phone. */
        fun deviceJson(): JSONObject {
            val soc = if (Build.VERSION.SDK_INT >= 31) "${Build.SOC_MANUFACTURER} ${Build.SOC_MODEL}" else Build.HARDWARE
            return JSONObject().put("name", Build.DEVICE).put("platform", "android")
                .put("os", "Android ${Build.VERSION.RELEASE} (API ${Build.VERSION.SDK_INT})")
                .put("model", "${Build.MANUFACTURER} ${Build.MODEL}").put("cpu", soc)
                .put("cores", Runtime.getRuntime().availableProcessors())
                .put("load_avg", Bench.loadAvg() ?: JSONObject.NULL)
        }
    }
}
