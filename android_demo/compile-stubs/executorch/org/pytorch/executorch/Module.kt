// Compile-only stub of ExecuTorch Android 1.4.1 (org.pytorch:executorch-android:1.4.1), NOT the
// runtime: it exists so that .ci/apps.sh can type-check app/.../runtime/ExecuTorchSession.kt on
// Linux without the Android SDK. Only the members the app calls, with the published signatures:
//   source: github.com/pytorch/executorch, extension/android/executorch_android/src/main/java/
//           org/pytorch/executorch/Module.kt (read at tags v1.4.0 / v1.4.1 and on main of
//           2026-08-22, version.txt 1.5.0; these members are identical in all three (main only
//           adds a load overload with backend options), and loadMethod returns Unit and throws
//           since 1.3)
//   docs:   https://docs.pytorch.org/executorch/stable/using-executorch-android.html
// Every body throws: nothing here may ever run.
package org.pytorch.executorch

import java.io.Closeable

open class Module private constructor() : Closeable {
    open fun forward(vararg inputs: EValue): Array<EValue> = stub()
    open fun execute(methodName: String, vararg inputs: EValue): Array<EValue> = stub()

    /** Loads a method ahead of its first execute; throws ExecutorchRuntimeException on failure. */
    open fun loadMethod(methodName: String): Unit = stub()
    open fun getMethods(): Array<String> = stub()
    open fun getMethodMetadata(name: String): MethodMetadata = stub()

    /** Throws IllegalStateException("Cannot destroy module while method is executing"). */
    open fun destroy(): Unit = stub()
    override fun close() = destroy()

    companion object {
        const val LOAD_MODE_FILE = 0
        const val LOAD_MODE_MMAP = 1
        const val LOAD_MODE_MMAP_USE_MLOCK = 2
        const val LOAD_MODE_MMAP_USE_MLOCK_IGNORE_ERRORS = 3

        @JvmStatic
        @JvmOverloads
        fun load(modelPath: String?, loadMode: Int = LOAD_MODE_FILE, numThreads: Int = 0): Module = stub()
    }
}

class MethodMetadata internal constructor(val name: String, val backends: Array<String>)

internal fun stub(): Nothing = throw UnsupportedOperationException("compile-only stub of ExecuTorch Android")
