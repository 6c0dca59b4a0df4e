plugins {
    alias(libs.plugins.android.application)
    alias(libs.plugins.kotlin.android)
    alias(libs.plugins.kotlin.compose)
}

android {
    namespace = "dev.trmedge.demo"
    compileSdk = 35

    defaultConfig {
        applicationId = "dev.trmedge.demo"   // benchmarks/README.md: the adb runner launches this package
        minSdk = 26
        targetSdk = 35
        versionCode = 1
        versionName = "0.1.0"
        testInstrumentationRunner = "androidx.test.runner.AndroidJUnitRunner"
        ndk { abiFilters += listOf("arm64-v8a", "x86_64") }  // phones + the emulator
    }

    buildTypes {
        release {
            isMinifyEnabled = false
            proguardFiles(getDefaultProguardFile("proguard-android-optimize.txt"), "proguard-rules.pro")
            signingConfig = signingConfigs.getByName("debug")  // a demo: installable without a keystore
        }
    }

    compileOptions {
        sourceCompatibility = JavaVersion.VERSION_17
        targetCompatibility = JavaVersion.VERSION_17
    }
    buildFeatures { compose = true }

    // Model files are copied out of the APK once (runtimes want a file path); keep them uncompressed.
    androidResources { noCompress += listOf("pte", "tflite", "json") }

    sourceSets {
        // One contract: the golden vectors written by `trm-edge vectors` in the Python repo.
        // (The JVM tests of the logic live in :core; this module keeps the on-device test.)
        getByName("androidTest").assets.srcDir("../../trm_edge/golden_vectors")
        // the vectors reader, shared with :core's JVM tests
        getByName("androidTest").java.srcDir("../core/src/sharedTest/java")
    }

    packaging { jniLibs { useLegacyPackaging = false } }
}

kotlin {
    compilerOptions { jvmTarget.set(org.jetbrains.kotlin.gradle.dsl.JvmTarget.JVM_17) }
}

dependencies {
    implementation(project(":core"))      // manifest, host loop, codec, board, bench stats (plain Kotlin/JVM)
    implementation(libs.androidx.core.ktx)
    implementation(libs.androidx.activity.compose)
    implementation(libs.androidx.lifecycle.viewmodel.compose)
    implementation(libs.androidx.lifecycle.runtime.compose)
    implementation(platform(libs.androidx.compose.bom))
    implementation(libs.androidx.compose.ui)
    implementation(libs.androidx.compose.ui.tooling.preview)
    implementation(libs.androidx.compose.material3)
    implementation(libs.kotlinx.coroutines.android)
    debugImplementation(libs.androidx.compose.ui.tooling)

    implementation(libs.executorch.android)  // .pte: Module.load + execute("init"/"step")
    implementation(libs.litert)              // .tflite: Interpreter signature runners "init"/"step"

    androidTestImplementation(libs.junit)
    androidTestImplementation(libs.androidx.test.runner)
    androidTestImplementation(libs.androidx.test.ext.junit)
}
