"""Training: the deep-supervision loop (loop.py) and its settings (config.py), its state on disk (state.py), where it runs
(device.py), the ARC pieces (arc.py) and the learning-curve plot (curve.py).

`from trm_edge.train import train, TrainConfig` works as before; the loop needs torch, so it is
imported on first use and `TrainConfig` (config.py) and `import trm_edge.train.curve` stay torch-free.
"""
from .config import TRAIN_PRESETS, TrainConfig, preset_config

__all__ = ["TRAIN_PRESETS", "TrainConfig", "preset_config", "train", "Trainer", "prepare_train_data"]

_LOOP = ("train", "Trainer", "prepare_train_data")


def __getattr__(name):
    if name in _LOOP:
        from . import loop
        return getattr(loop, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
