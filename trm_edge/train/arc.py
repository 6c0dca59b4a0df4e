"""ARC pieces of training: the puzzle-id data stream and the puzzle-embedding optimizer.

`trm_edge.train.loop` calls two hooks:
  - `arc_setup(model_cfg, arc_options, seed, rank, world)` builds the ARC data (trm_edge.tasks.arc)
    for a model whose task is "arc1"/"arc2", sets `n_puzzle_ids` to its id table, and returns the
    stream (take(k) -> inputs, labels, puzzle_ids) plus the JSON to save next to the weights
    (arc_data.json: what `trm-edge eval --task arc1-eval` needs to rebuild the same ids);
  - `split_optimizers(model, lr, weight_decay, ...)` gives the puzzle-id embedding its own optimizer,
    as the authors (docs/model.md#training-recipe): sign-SGD, lr 1e-2, weight decay 0.1 (the authors' ARC settings).
"""
from __future__ import annotations

import torch
from torch import nn

PUZZLE_LR = 1e-2            # separate lr 1e-2 for the puzzle-id embeddings (ARC; docs/model.md#training-recipe)
PUZZLE_WEIGHT_DECAY = 0.1


def is_arc(task: str) -> bool:
    return task in ("arc1", "arc2")


class SignSGD(torch.optim.Optimizer):
    """w <- w * (1 - lr * wd) - lr * sign(grad), on embedding rows with a non-zero gradient only.

    Hand-written because torch has no sign-SGD. Touching only the rows used in the batch is what
    the authors' sparse embedding optimizer does: an id not seen in a step is neither moved nor
    decayed (with hundreds of thousands of ids, dense weight decay would wipe them out)."""

    def __init__(self, params, lr: float = PUZZLE_LR, weight_decay: float = PUZZLE_WEIGHT_DECAY):
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure=None):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is None:
                    continue
                grad = p.grad.reshape(p.shape[0], -1)
                rows = (grad != 0).any(-1, keepdim=True)  # (n_ids, 1) ids used in this batch
                w = p.reshape(p.shape[0], -1)
                # torch.where, not w[rows]: boolean indexing makes the host wait for the device
                w.copy_(torch.where(rows, w * (1 - g["lr"] * g["weight_decay"]) - g["lr"] * grad.sign(), w))


def split_optimizers(model: nn.Module, lr: float, betas, weight_decay: float,
                     puzzle_lr: float = PUZZLE_LR, puzzle_weight_decay: float = PUZZLE_WEIGHT_DECAY):
    """-> (AdamW over everything but the puzzle-id embedding, SignSGD over it or None)."""
    puzzle = [p for n, p in model.named_parameters() if n.startswith("puzzle_emb")]
    main = [p for n, p in model.named_parameters() if not n.startswith("puzzle_emb")]
    opt = torch.optim.AdamW(main, lr=lr, betas=tuple(betas), weight_decay=weight_decay)
    return opt, (SignSGD(puzzle, lr=puzzle_lr, weight_decay=puzzle_weight_decay) if puzzle else None)


def arc_setup(model_cfg, options: dict, seed: int = 0, rank: int = 0, world: int = 1):
    """-> (model config with n_puzzle_ids set, ArcTrainStream, {"arc_data.json": spec}).

    options: ArcSpec fields (n_aug, seed, n_train_puzzles, n_eval_puzzles) and "translate"."""
    from dataclasses import fields, replace

    from ..evaluate.arc import ARC_DATA_FILE
    from ..errors import TRMEdgeError
    from ..tasks.arc import ArcData, ArcSpec, ArcTrainStream

    options = dict(options)
    translate = bool(options.pop("translate", True))
    known = {f.name for f in fields(ArcSpec)} - {"version"}
    if set(options) - known:
        raise TRMEdgeError(f"unknown ARC options {sorted(set(options) - known)}; use {sorted(known)} or translate")
    if model_cfg.puzzle_emb_len < 1:
        raise TRMEdgeError("ARC needs puzzle-id embeddings: set puzzle_emb_len >= 1 (the arc-att preset has 16)")
    spec = ArcSpec(version=model_cfg.task, **options)
    data = ArcData(spec)
    stream = ArcTrainStream(data, seed=seed, rank=rank, world=world, translate=translate)
    return replace(model_cfg, n_puzzle_ids=data.n_puzzle_ids), stream, {ARC_DATA_FILE: spec.to_dict()}
