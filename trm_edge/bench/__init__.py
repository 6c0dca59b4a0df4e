"""Benchmarks: latency, memory and accuracy per depth on the host, Android, iOS and Chromium
(`trm-edge bench`: run.py), the quantization report (quant.py), result files and summaries
(report.py), device profiles (devices.py), the idle-machine gate (quiet.py)."""
