"""The models committed into the demo apps (`trm-edge export --for-app android|ios`, trm_edge.apps)
are the bundled default model: every file's sha256 against its manifest, exported from the weights
the golden vectors were recorded from (whose checkpoint file is the bundled one), the sample puzzles
the installer writes, and, with the real ExecuTorch / LiteRT runtimes, the vectors replayed through
the committed .pte / .tflite (validate --vectors). The Kotlin core reads the same folders in
.ci/apps.sh (BundledAssetsTest). Re-install after retraining: docs in android_demo/README.md.
"""
from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from trm_edge import apps, artifact
from trm_edge.checkpoint import DEFAULT_CHECKPOINT, file_sha256, resolve
from trm_edge.targets import get as target_info

VECTORS_DIR = Path(__file__).resolve().parents[2] / "trm_edge" / "golden_vectors"   # the one place this file names them
ROOT = Path(__file__).resolve().parents[2]
APPS = ("android", "ios")  # the mobile apps (web_demo/assets/ stays git-ignored: out of this issue)
RUNTIME_MODULE = {"executorch": "executorch.runtime", "tflite": "ai_edge_litert.interpreter"}


def bundled(app):
    d = apps.assets_dir(app, ROOT / apps.APPS[app][1])   # the demo app's project folder
    index = json.loads((d / "index.json").read_text())
    return d, index


def vectors_for(weights_sha256):
    for f in sorted(VECTORS_DIR.glob("*.json")):
        v = json.loads(f.read_text())
        if v["weights_sha256"] == weights_sha256:
            return f, v
    raise AssertionError(f"no golden vectors recorded from weights {weights_sha256}")


@pytest.mark.parametrize("app", APPS)
def test_committed_assets_are_the_bundled_default_model(app):
    d, index = bundled(app)
    assert index["format"] == apps.INDEX_FORMAT
    names = [a["name"] for a in index["artifacts"]]
    assert index["default"] == names[0] and names
    ckpt = resolve(DEFAULT_CHECKPOINT) / "model.safetensors"
    for a in index["artifacts"]:
        m = artifact.read(d / a["name"]).manifest          # sha256 + size of every file vs the manifest
        assert (m["target"], m["mode"], m["precision"]) == (a["target"], "looped", a["precision"])
        assert m["target"] in apps.targets_for(app)
        assert m["source"]["checkpoint"] == DEFAULT_CHECKPOINT
        _, v = vectors_for(m["source"]["weights_sha256"])
        assert v["checkpoint"] == DEFAULT_CHECKPOINT
        assert v["checkpoint_sha256"] == file_sha256(ckpt), \
            "the bundled checkpoint changed: re-export the apps' models (android_demo/README.md)"
        # the oldest runtime release each was measured on (scripts/check_app_runtimes.py), which the
        # Android app checks before it opens one (AppRuntimes.kt)
        assert m.get("min_runtime", {}) == target_info(m["target"]).min_runtime, (a["name"], m.get("min_runtime"))
    puzzles = json.loads((d / "puzzles.json").read_text())
    assert puzzles == apps.sample_puzzles(puzzles["task"], len(puzzles["inputs"]), puzzles["seed"])


@pytest.mark.parametrize("target", ["executorch", "tflite"])
def test_committed_android_models_replay_the_golden_vectors(target):
    if importlib.util.find_spec(RUNTIME_MODULE[target].split(".")[0]) is None:
        pytest.skip(f"{RUNTIME_MODULE[target]} is not installed (extra [{target}])")
    from trm_edge.validate import format_vectors_report, validate_vectors

    d, index = bundled("android")
    names = [a["name"] for a in index["artifacts"] if a["target"] == target]
    assert names, f"the Android app bundles no {target} model"
    for name in names:
        m = artifact.read(d / name).manifest
        vec, _ = vectors_for(m["source"]["weights_sha256"])
        rep = validate_vectors(d / name, vec)
        assert rep["answer_agreement"] == 1.0 and rep["halting_agreement"] == 1.0, format_vectors_report(rep)
        if m["precision"] == "fp32":
            assert rep["passed"], format_vectors_report(rep)


# ---- first open: what a mobile developer's IDE reads before anything compiles -------------------
# gradle-wrapper.jar as shipped by npm @react-native-community/template 0.77.0; Gradle publishes
# this sha256 for the wrapper jar of Gradle 8.10 - 8.12.1 (gradle/actions wrapper-checksums.json)
WRAPPER_JAR_SHA256 = "2db75c40782f5e8ba1fc278a5574bab070adccb2d21ca5a6e5ed840888448046"
# AGP minor -> minimum Gradle, from the AGP release notes (8.7: Gradle 8.9, JDK 17, API 35)
AGP_MIN_GRADLE = {"8.7": (8, 9)}
XCODE_SWIFT_VERSIONS = {"4.0", "4.2", "5.0", "6.0"}   # the language modes Xcode's SWIFT_VERSION accepts


def test_android_opens_with_a_wrapper_matching_the_pinned_agp():
    import os
    import re
    import tomllib

    a = ROOT / "android_demo"
    assert file_sha256(a / "gradle/wrapper/gradle-wrapper.jar") == WRAPPER_JAR_SHA256
    assert os.access(a / "gradlew", os.X_OK) and (a / "gradlew.bat").is_file()
    url = re.search(r"^distributionUrl=.*gradle-([\d.]+)-bin\.zip$",
                    (a / "gradle/wrapper/gradle-wrapper.properties").read_text(), re.M)
    gradle = tuple(int(x) for x in url.group(1).split("."))
    versions = tomllib.loads((a / "gradle/libs.versions.toml").read_text())["versions"]
    agp_minor = ".".join(versions["agp"].split(".")[:2])
    assert agp_minor in AGP_MIN_GRADLE, f"AGP {versions['agp']}: add its minimum Gradle (release notes) here"
    assert gradle >= AGP_MIN_GRADLE[agp_minor]
    assert url.group(1) in (a / "README.md").read_text() and WRAPPER_JAR_SHA256 in (a / "README.md").read_text()


def test_both_apps_have_a_benchmark_screen_and_ios_a_valid_swift_version():
    import re

    a = ROOT / "android_demo/app/src/main"
    assert 'android:name=".BenchScreenActivity"' in (a / "AndroidManifest.xml").read_text()
    assert "BenchScreenActivity::class.java" in (a / "java/dev/trmedge/demo/MainActivity.kt").read_text()
    i = ROOT / "ios_demo"
    assert "BenchmarkScreen()" in (i / "TRMDemo/ContentView.swift").read_text()
    assert (i / "TRMDemo/BenchmarkScreen.swift").is_file()
    swift = re.search(r'SWIFT_VERSION:\s*"([^"]+)"', (i / "project.yml").read_text()).group(1)
    assert swift in XCODE_SWIFT_VERSIONS
