// Compile-only stub of LiteRT 1.4.1 (com.google.ai.edge.litert:litert:1.4.1), NOT the runtime: it
// exists so that .ci/apps.sh can type-check app/.../runtime/LiteRtSession.kt on Linux. Only the
// members the app calls, with the published signatures (Interpreter extends the package-private
// InterpreterImpl, which implements InterpreterApi; flattened here):
//   source: github.com/google-ai-edge/LiteRT at tag v1.4.1,
//           tflite/java/src/main/java/org/tensorflow/lite/{Interpreter,InterpreterImpl,InterpreterApi}.java
//   docs:   https://ai.google.dev/edge/litert/android (versions table: v1.4.1, Interpreter API)
// Every body throws: nothing here may ever run.
package org.tensorflow.lite;

import java.io.File;
import java.util.Map;

public final class Interpreter implements AutoCloseable {
    public static class Options {
        public Options() {}

        public Options setNumThreads(int numThreads) { throw stub(); }

        public Options setUseXNNPACK(boolean useXNNPACK) { throw stub(); }
    }

    public Interpreter(File modelFile) { throw stub(); }

    public Interpreter(File modelFile, Options options) { throw stub(); }

    /** Runs the model signature [signatureKey]: inputs / outputs by the signature's tensor names. */
    public void runSignature(Map<String, Object> inputs, Map<String, Object> outputs, String signatureKey) { throw stub(); }

    public String[] getSignatureKeys() { throw stub(); }

    @Override
    public void close() { throw stub(); }

    private static UnsupportedOperationException stub() {
        return new UnsupportedOperationException("compile-only stub of LiteRT");
    }
}
