package dev.trmedge.demo.runtime

import dev.trmedge.core.ArtifactException
import dev.trmedge.core.Manifest
import dev.trmedge.core.StepOutput
import dev.trmedge.core.TensorSpec
import dev.trmedge.core.TrmSession
import org.tensorflow.lite.Interpreter
import java.io.File
import java.nio.Buffer
import java.nio.ByteBuffer
import java.nio.ByteOrder

/** A `.tflite` with signatures `init` and `step` (LiteRT Interpreter, `runSignature`). */
class LiteRtSession(dir: File, override val manifest: Manifest, threads: Int) : TrmSession {
    private val initEp = manifest.entry("init")
    private val stepEp = manifest.entry("step")
    private val interpreter = Interpreter(File(dir, initEp.file), Interpreter.Options().apply {
        if (threads > 0) setNumThreads(threads)
        setUseXNNPACK(true)
    })
    private val state = HashMap<String, ByteBuffer>()   // step input name -> current value
    private val spare = HashMap<String, ByteBuffer>()   // double buffers for the y/z outputs
    private val outBufs = stepEp.outputs.filterNot { it.name.endsWith(TrmSession.NEXT_SUFFIX) }.associateWith(::alloc)

    override val runtimeName = "litert"
    override val delegate: String = "XNNPACK"

    init {
        val keys = interpreter.signatureKeys
        for (ep in listOf(initEp, stepEp)) if (ep.method !in keys) {
            interpreter.close()
            throw ArtifactException("${manifest.name}: no signature '${ep.method}' (has ${keys.toList()})")
        }
    }

    override fun init(tokens: IntArray, batch: Int) {
        TrmSession.checkBatch(manifest, tokens, batch)
        val inputs = initEp.inputs.associate { spec ->
            val b = alloc(spec)
            if (spec.name == TrmSession.TOKENS) b.asIntBuffer().put(tokens)   // other int inputs (puzzle_ids) stay 0
            spec.runtimeName to b.rewound()
        }
        val outputs = initEp.outputs.associate { it.runtimeName to alloc(it) as Any }
        interpreter.runSignature(inputs, outputs, initEp.method)
        state.clear()
        for (spec in initEp.outputs) state[spec.name] = (outputs.getValue(spec.runtimeName) as ByteBuffer)
    }

    override fun step(): StepOutput {
        val inputs = stepEp.inputs.associate { spec ->
            val v = state[spec.name] ?: throw ArtifactException("step input '${spec.name}' has no value: call init first")
            spec.runtimeName to v.rewound() as Any
        }
        val outputs = HashMap<String, Any>()
        for (spec in stepEp.outputs) {
            outputs[spec.runtimeName] = if (spec.name.endsWith(TrmSession.NEXT_SUFFIX)) {
                spare.getOrPut(spec.name) { alloc(spec) }
            } else outBufs.getValue(spec)
            (outputs[spec.runtimeName] as ByteBuffer).rewound()
        }
        interpreter.runSignature(inputs, outputs, stepEp.method)
        var logits: FloatArray? = null
        var preds: IntArray? = null
        var q: FloatArray? = null
        for (spec in stepEp.outputs) {
            val buf = (outputs.getValue(spec.runtimeName) as ByteBuffer).rewound()
            when {
                spec.name.endsWith(TrmSession.NEXT_SUFFIX) -> {     // swap: the old state buffer becomes the spare
                    val key = spec.name.removeSuffix(TrmSession.NEXT_SUFFIX)
                    state.put(key, buf)?.let { spare[spec.name] = it }
                }
                spec.name == TrmSession.LOGITS -> logits = FloatArray(spec.numel).also { buf.asFloatBuffer().get(it) }
                spec.name == TrmSession.PREDS -> preds =
                    if (spec.dtype == "int64") LongArray(spec.numel).also { buf.asLongBuffer().get(it) }.map(Long::toInt).toIntArray()
                    else IntArray(spec.numel).also { buf.asIntBuffer().get(it) }
                spec.name == TrmSession.Q_HALT -> q = FloatArray(spec.numel).also { buf.asFloatBuffer().get(it) }
            }
        }
        return StepOutput(logits, preds, q ?: throw ArtifactException("step has no '${TrmSession.Q_HALT}' output"))
    }

    override fun close() = interpreter.close()

    /** Buffer.rewind(), called through Buffer: ByteBuffer's covariant override is missing on older Android. */
    private fun ByteBuffer.rewound(): ByteBuffer {
        val b: Buffer = this
        b.rewind()
        return this
    }

    private fun alloc(spec: TensorSpec): ByteBuffer {
        val bytes = when (spec.dtype) { "int64", "float64" -> 8; "float16", "int16" -> 2; "int8", "uint8", "bool" -> 1; else -> 4 }
        return ByteBuffer.allocateDirect(maxOf(1, spec.numel) * bytes).order(ByteOrder.nativeOrder())
    }
}
