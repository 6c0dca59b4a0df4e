// Compile-only stub of ExecuTorch Android 1.4.1: EValue and Tensor, the members the app calls.
// Source and docs: see Module.kt beside this file (EValue.kt, Tensor.kt in the same folder there).
package org.pytorch.executorch

class EValue private constructor() {
    fun toTensor(): Tensor = stub()

    companion object {
        @JvmStatic fun from(tensor: Tensor): EValue = stub()
    }
}

abstract class Tensor internal constructor(shape: LongArray) {
    fun shape(): LongArray = stub()
    open val dataAsIntArray: IntArray get() = stub()
    open val dataAsLongArray: LongArray get() = stub()
    open val dataAsFloatArray: FloatArray get() = stub()

    companion object {
        @JvmStatic fun fromBlob(data: IntArray, shape: LongArray): Tensor = stub()
        @JvmStatic fun fromBlob(data: LongArray, shape: LongArray): Tensor = stub()
        @JvmStatic fun fromBlob(data: FloatArray, shape: LongArray): Tensor = stub()
    }
}
