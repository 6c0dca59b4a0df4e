// The app's core as a plain Kotlin/JVM library (no Android imports): manifest + sha256 checks,
// the host loop, token codec, Sudoku board, bench statistics, the session interface.
// `./gradlew :core:test` replays ../trm_edge/golden_vectors/*.json; .ci/apps.sh does the same on Linux CI
// with kotlinc + JUnit 4 and no Gradle.
plugins {
    alias(libs.plugins.kotlin.jvm)
}

java {
    sourceCompatibility = JavaVersion.VERSION_17
    targetCompatibility = JavaVersion.VERSION_17
}

kotlin {
    compilerOptions {
        jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_17)
        allWarningsAsErrors.set(true)
    }
}

// the vectors reader + replay session, shared with the app's instrumented test
kotlin.sourceSets["test"].kotlin.srcDir("src/sharedTest/java")

dependencies {
    compileOnly(libs.org.json)       // part of the Android platform; the app gets it from there
    testImplementation(libs.org.json)
    testImplementation(libs.junit)
}

tasks.test {
    // read at test time: nothing expected is written into the tests
    systemProperty("trm.vectors.dir", rootProject.file("../trm_edge/golden_vectors").absolutePath)
    systemProperty("trm.checkpoints.dir", rootProject.file("../trm_edge/checkpoints").absolutePath)
}
