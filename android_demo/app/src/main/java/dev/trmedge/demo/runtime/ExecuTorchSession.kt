package dev.trmedge.demo.runtime

import dev.trmedge.core.ArtifactException
import dev.trmedge.core.Manifest
import dev.trmedge.core.StepOutput
import dev.trmedge.core.TrmSession
import org.pytorch.executorch.EValue
import org.pytorch.executorch.Module
import org.pytorch.executorch.Tensor
import java.io.File

/** A `.pte` with methods `init` and `step` (ExecuTorch Android, `Module.execute`). */
class ExecuTorchSession(dir: File, override val manifest: Manifest, threads: Int) : TrmSession {
    private val initEp = manifest.entry("init")
    private val stepEp = manifest.entry("step")
    private val module: Module = Module.load(File(dir, initEp.file).absolutePath, Module.LOAD_MODE_MMAP, threads)
    private val state = HashMap<String, EValue>()   // step input name -> current value

    override val runtimeName = "executorch"
    override val delegate: String? =
        runCatching { module.getMethodMetadata(stepEp.method).backends.joinToString(",").ifEmpty { null } }.getOrNull()

    init {
        // Since ExecuTorch 1.3 loadMethod returns nothing and throws (ExecutorchRuntimeException, with
        // the runtime's error code in its message) when a method cannot be loaded.
        for (ep in listOf(initEp, stepEp)) {
            try {
                module.loadMethod(ep.method)
            } catch (e: RuntimeException) {
                module.destroy()
                throw ArtifactException("${manifest.name}: cannot load method '${ep.method}': ${e.message}")
            }
        }
    }

    override fun init(tokens: IntArray, batch: Int) {
        TrmSession.checkBatch(manifest, tokens, batch)
        val args = initEp.inputs.map { spec ->
            val data = if (spec.name == TrmSession.TOKENS) tokens else IntArray(spec.numel)  // puzzle_ids: 0
            EValue.from(Tensor.fromBlob(data, spec.shape.map { it.toLong() }.toLongArray()))
        }
        val out = module.execute(initEp.method, *args.toTypedArray())
        state.clear()
        initEp.outputs.forEachIndexed { i, spec -> state[spec.name] = out[i] }
    }

    override fun step(): StepOutput {
        val args = stepEp.inputs.map { state[it.name] ?: throw ArtifactException("step input '${it.name}' has no value: call init first") }
        val out = module.execute(stepEp.method, *args.toTypedArray())
        var logits: FloatArray? = null
        var preds: IntArray? = null
        var q: FloatArray? = null
        stepEp.outputs.forEachIndexed { i, spec ->
            when {
                spec.name.endsWith(TrmSession.NEXT_SUFFIX) -> state[spec.name.removeSuffix(TrmSession.NEXT_SUFFIX)] = out[i]
                spec.name == TrmSession.LOGITS -> logits = out[i].toTensor().dataAsFloatArray
                spec.name == TrmSession.PREDS -> preds = out[i].toTensor().let {
                    if (spec.dtype == "int64") it.dataAsLongArray.map(Long::toInt).toIntArray() else it.dataAsIntArray
                }
                spec.name == TrmSession.Q_HALT -> q = out[i].toTensor().dataAsFloatArray
            }
        }
        return StepOutput(logits, preds, q ?: throw ArtifactException("step has no '${TrmSession.Q_HALT}' output"))
    }

    override fun close() = module.destroy()
}
