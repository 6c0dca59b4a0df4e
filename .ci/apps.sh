#!/usr/bin/env bash
# CI for the demo apps on Linux (no Android SDK, no Xcode):
#   1. compiles the Android app's core (android_demo/core: plain Kotlin/JVM) with warnings as errors
#      and runs its JUnit tests, which replay trm_edge/golden_vectors/*.json, check the models committed into
#      both apps (sha256 vs manifest, same weights as the vectors, vectors replayed with the assets'
#      manifests) and run the apps' benchmark on a replaying session; the bench JSON it writes is read
#      back with trm_edge.bench.report.load_result when trm_edge is importable;
#   2. type-checks the app's runtime adapters (ExecuTorchSession, LiteRtSession, TrmSessions) against
#      compile-only stubs of the pinned ExecuTorch / LiteRT APIs (android_demo/compile-stubs), so API
#      drift such as ExecuTorch's loadMethod returning Unit since 1.3 fails here.
# Installs what it needs, idempotently: a JDK (apt, if javac is missing), Debian's junit4,
# libhamcrest-java, libandroid-json-java (org.json as on Android), and the Kotlin compiler from the
# npm registry's kotlin-compiler package (it bundles the standard library), cached per version.
# The iOS core (ios_demo/TRMCore) is not built here: Debian 12 has no Swift toolchain package.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

KOTLIN_VERSION=2.1.0   # = the app's Kotlin (android_demo/gradle/libs.versions.toml)
CACHE=${TRM_EDGE_CACHE:-${XDG_CACHE_HOME:-${HOME:-/tmp}/.cache}/trm-edge}
KOTLIN_HOME=$CACHE/kotlin-compiler-$KOTLIN_VERSION/node_modules/kotlin-compiler
JAVA_LIBS=/usr/share/java

t0=$(date +%s)
apt_install() {   # $@: Debian packages, installed only if one is missing
    local missing=()
    for p in "$@"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
    if ((${#missing[@]})); then
        echo "apps: apt-get install ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}
command -v javac >/dev/null || apt_install default-jdk-headless
apt_install junit4 libhamcrest-java libandroid-json-java
if [[ ! -x $KOTLIN_HOME/bin/kotlinc ]]; then
    command -v npm >/dev/null || apt_install npm
    echo "apps: npm install kotlin-compiler@$KOTLIN_VERSION -> $CACHE"
    mkdir -p "$CACHE/kotlin-compiler-$KOTLIN_VERSION"
    npm install --silent --no-save --no-audit --no-fund --prefix "$CACHE/kotlin-compiler-$KOTLIN_VERSION" \
        "kotlin-compiler@$KOTLIN_VERSION"
fi
KOTLINC=$KOTLIN_HOME/bin/kotlinc
STDLIB=$KOTLIN_HOME/lib/kotlin-stdlib.jar
JSON=$JAVA_LIBS/com.android.json.jar
JUNIT=$JAVA_LIBS/junit4.jar:$JAVA_LIBS/hamcrest.jar
echo "apps: $("$KOTLINC" -version 2>&1 | tail -1), $(javac -version 2>&1)"

A=$ROOT/android_demo
VECTORS_DIR=$ROOT/trm_edge/golden_vectors   # the golden vectors (the one place this script names them)
# the models committed into the apps by `trm-edge export --for-app android|ios` (BundledAssetsTest)
ASSETS_DIRS=$A/app/src/main/assets/trm:$ROOT/ios_demo/TRMDemo/Resources/trm
OUT=$A/build/ci
rm -rf "$OUT" && mkdir -p "$OUT/litert-stub"
kc() { "$KOTLINC" -Werror -jvm-target 17 -no-reflect "$@"; echo "apps:   kotlinc done at +$(( $(date +%s) - t0 )) s"; }

echo "apps: compile android_demo/core (-Werror)"
kc -cp "$JSON" -d "$OUT/core.jar" "$A/core/src/main/java"
echo "apps: compile the core's tests"
kc -cp "$OUT/core.jar:$JSON:$JUNIT" -d "$OUT/core-tests.jar" "$A/core/src/test/java" "$A/core/src/sharedTest/java"
tests=$(cd "$A/core/src/test/java" && find . -name '*Test.kt' | sed 's|^\./||; s|\.kt$||; s|/|.|g' | sort)
echo "apps: run JUnit:" $tests
# shellcheck disable=SC2086
java -Dtrm.vectors.dir="$VECTORS_DIR" -Dtrm.checkpoints.dir="$ROOT/trm_edge/checkpoints" \
    -Dtrm.assets.dirs="$ASSETS_DIRS" -Dtrm.bench.out="$OUT/bench_result.json" \
    -cp "$STDLIB:$OUT/core.jar:$OUT/core-tests.jar:$JSON:$JUNIT" org.junit.runner.JUnitCore $tests

# the JSON the apps' benchmark (dev.trmedge.core.Bench) wrote is what the host bench reads
if python3 -c "import trm_edge.bench.report" 2>/dev/null; then
    python3 -c "import sys; from trm_edge.bench.report import load_result; r = load_result(sys.argv[1]); \
print('apps: bench JSON from the Kotlin core passes trm_edge.bench.report.load_result:', r['schema'], \
[d['depth'] for d in r['runtimes'][0]['depths']])" "$OUT/bench_result.json"
else
    echo "apps: skip the bench JSON schema check: trm_edge is not importable by python3 here"
fi

echo "apps: type-check the runtime adapters against the ExecuTorch 1.4.1 / LiteRT 1.4.1 stubs (-Werror)"
javac -Werror -Xlint:all --release 17 -d "$OUT/litert-stub" $(find "$A/compile-stubs/litert" -name '*.java')
# the ExecuTorch stub is Kotlin like the real 1.4.1 API; it is compiled with the adapters in one call
kc -cp "$OUT/core.jar:$JSON:$OUT/litert-stub" -d "$OUT/adapters.jar" \
    "$A/compile-stubs/executorch" "$A/app/src/main/java/dev/trmedge/demo/runtime"

echo "apps: ok in $(( $(date +%s) - t0 )) s"
