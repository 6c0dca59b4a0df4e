pluginManagement {
    repositories {
        google()
        mavenCentral()
        gradlePluginPortal()
    }
}

dependencyResolutionManagement {
    repositoriesMode.set(RepositoriesMode.FAIL_ON_PROJECT_REPOS)
    repositories {
        google()        // LiteRT (com.google.ai.edge.litert), AndroidX
        mavenCentral()  // ExecuTorch (org.pytorch:executorch-android), org.json for JVM tests
    }
}

rootProject.name = "TRMDemo"
include(":core")   // plain Kotlin/JVM: tested on Linux CI (.ci/apps.sh)
include(":app")
