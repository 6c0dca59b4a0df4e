package dev.trmedge.core

import org.json.JSONObject
import org.junit.Assert.assertEquals
import org.junit.Assert.assertThrows
import org.junit.Assert.assertTrue
import org.junit.Rule
import org.junit.Test
import org.junit.rules.TemporaryFolder
import java.io.File

/**
 * Manifest.load refuses partial and tampered artifacts. The reference digest is the one Python
 * wrote into each vectors file (`checkpoint_sha256` of trm_edge/checkpoints/<checkpoint>/
 * model.safetensors), so the Kotlin sha256 is checked against an independent implementation.
 */
class ManifestTest {
    @get:Rule val tmp = TemporaryFolder()

    private val checkpoints = File(System.getProperty("trm.checkpoints.dir") ?: error("set -Dtrm.checkpoints.dir=<repo>/trm_edge/checkpoints"))

    /** An artifact folder: the vectors' manifest listing the checkpoint's weights file under [rel]. */
    private fun artifact(v: GoldenVectors, rel: String = "model.bin"): Pair<File, File> {
        val weights = File(checkpoints, "${v.json.getString("checkpoint")}/model.safetensors")
        assertTrue("$weights is missing (the vectors name checkpoint ${v.json.getString("checkpoint")})", weights.isFile)
        val dir = tmp.newFolder()
        val m = JSONObject(manifestJson(v))
        m.put("files", JSONObject().put(rel, JSONObject().put("sha256", v.json.getString("checkpoint_sha256")).put("bytes", weights.length())))
        File(dir, Manifest.FILE).writeText(m.toString())
        File(dir, "sub").mkdirs()                  // so that "sub/../../x" resolves (outside dir)
        val copy = File(dir, rel).apply { parentFile.mkdirs() }
        weights.copyTo(copy)
        return dir to copy
    }

    @Test fun sha256MatchesPythonsDigestAndAcceptsTheArtifact() {
        for (v in GoldenVectors.all()) {
            val (dir, file) = artifact(v)
            assertEquals(v.json.getString("checkpoint_sha256"), Manifest.sha256(file))
            val m = Manifest.load(dir)
            assertEquals(file.length(), m.sizeBytes)
            assertEquals(v.json.getInt("seq_len"), m.seqLen)
        }
    }

    @Test fun tamperedMissingAndEscapingFilesAreRefused() {
        val v = GoldenVectors.all().first()
        val (dir, file) = artifact(v)
        val bytes = file.readBytes().also { it[it.size / 2] = (it[it.size / 2] + 1).toByte() }
        file.writeBytes(bytes)
        val e = assertThrows(ArtifactException::class.java) { Manifest.load(dir) }
        assertTrue(e.message, e.message!!.contains("tampered"))
        file.delete()
        assertTrue(assertThrows(ArtifactException::class.java) { Manifest.load(dir) }.message!!.contains("missing"))
        val (dir2, outside) = artifact(v, "sub/../../outside.bin")   // exists, with the right digest
        assertTrue(outside.isFile)
        assertThrows(ArtifactException::class.java) { Manifest.load(dir2) }
        assertThrows(ArtifactException::class.java) { Manifest.load(tmp.newFolder()) }   // no manifest.json
    }

    /** GoldenVectors.manifest() as JSON text (the export schema), to edit its files table. */
    private fun manifestJson(v: GoldenVectors): String {
        val m = v.manifest()
        return JSONObject().put("format", Manifest.FORMAT).put("name", m.name).put("target", m.target)
            .put("mode", m.mode).put("precision", m.precision).put("depth", JSONObject.NULL).put("batch", m.batch)
            .put("task", v.taskInfo).put("model", JSONObject().put("n_sup", m.nSup).put("halt_threshold", m.haltThreshold.toDouble()))
            .put("entry_points", JSONObject()).toString()
    }
}
