package dev.trmedge.demo

import android.content.Context
import dev.trmedge.core.Puzzles
import org.json.JSONObject
import java.io.File

/**
 * The models bundled in assets/trm/ by `trm-edge export --for-app android`:
 *   trm/index.json, trm/puzzles.json, trm/<artifact-name>/{manifest.json, model files}
 * Runtimes want file paths, so the folder is copied once to filesDir/trm (again when index.json
 * changes, i.e. after a new export). The sha256 check happens when a session opens.
 */
class BundledModels(private val context: Context) {
    data class Entry(val name: String, val target: String, val precision: String)

    val root: File get() = File(context.filesDir, ASSETS)

    /** Copies assets/trm to filesDir/trm if missing or stale; null if the APK bundles no model. */
    fun install(): List<Entry>? {
        val am = context.assets
        val index = runCatching { am.open("$ASSETS/index.json").bufferedReader().readText() }.getOrNull() ?: return null
        val installed = File(root, "index.json")
        if (!installed.isFile || installed.readText() != index) {
            val tmp = File(context.filesDir, "$ASSETS.tmp").apply { deleteRecursively() }
            copyAssetDir(ASSETS, tmp)
            root.deleteRecursively()
            if (!tmp.renameTo(root)) error("cannot install bundled models into $root")
        }
        val j = JSONObject(index)
        val arr = j.getJSONArray("artifacts")
        val entries = (0 until arr.length()).map {
            val a = arr.getJSONObject(it)
            Entry(a.getString("name"), a.getString("target"), a.getString("precision"))
        }
        val default = j.optString("default")
        return entries.sortedBy { if (it.name == default) 0 else 1 }
    }

    fun puzzles(): Puzzles? = File(root, "puzzles.json").takeIf { it.isFile }?.let { Puzzles.parse(it.readText()) }

    private fun copyAssetDir(path: String, dest: File) {
        val children = context.assets.list(path).orEmpty()
        if (children.isEmpty()) {   // a file
            dest.parentFile?.mkdirs()
            context.assets.open(path).use { i -> dest.outputStream().use { o -> i.copyTo(o) } }
            return
        }
        dest.mkdirs()
        for (c in children) copyAssetDir("$path/$c", File(dest, c))
    }

    companion object { const val ASSETS = "trm" }
}
