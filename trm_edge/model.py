"""Tiny Recursive Model (Jolicoeur-Martineau, 2025), written for export.

State: x (embedded question, never updated), y (answer), z (latent), all (B, L, D) where
L = puzzle_emb_len + seq_len. One small network `net` is reused everywhere; its input is the sum
of its arguments:

    latent step:  z <- net(z + y + x)     n_latent times
    answer step:  y <- net(y + z)         once
    recursion   = n_latent latent steps + 1 answer step
    supervision step = T recursions (the first T-1 without gradients) + heads

The recursion is exposed as export-friendly pieces: `embed`, `initial_state`, `step`;
`trm_edge.runtime.EagerSession(model).solve(...)` drives them with the shared host loop, the same
loop and Session API every exported artifact uses. Where the paper and the authors' code differ we
follow the code (post-norm blocks, fixed random y/z init, q_head bias -5) and say so below.

`arch_version` records which layer layout a checkpoint was trained with, so an old checkpoint never
silently changes meaning:
  2 (default) = the authors' code (SamsungSAILMontreal/TinyRecursiveModels, trm.py): the MLP mixer's
      residual is RMS-normalised in the transposed (B, D, L) layout, i.e. over the sequence axis L;
      a learned position table is added to the token embedding before the sqrt(D) scale.
  1 = trm-edge before the fix (docs/model.md#arch-versions): that residual over D; position table unscaled.
A config.json without the field is version 1 (every checkpoint written before the field existed).

HRM (Wang et al. 2025, TRM's predecessor) is the same recursion with two networks: `n_layers_H > 0`
adds a separate answer network `net_H` (HRM's H_level, n_layers_H blocks) while `net` (n_layers
blocks) stays the latent one (HRM's L_level). HRM's carry maps onto this state as y = z_H,
z = z_L, and its step is exactly `step` with T = H_cycles, n_latent = L_cycles:
    L_cycles times z_L <- L_level(z_L + z_H + e); then z_H <- H_level(z_H + z_L);  H_cycles times.
n_layers_H = 0 (TRM) adds no module: TRM checkpoints keep their key layout byte for byte.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields, replace

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class TRMConfig:
    task: str = "sudoku6"         # task name (trm_edge.tasks registry); fixes vocab and seq_len
    vocab_size: int = 8           # tokens: 0 pad, 1 blank, then task symbols
    seq_len: int = 36             # output cells (puzzle-id prefix excluded)
    d_model: int = 64             # D
    n_layers: int = 2             # layers in the recursed network (HRM: of the latent network L_level)
    n_layers_H: int = 0           # HRM: layers of a separate answer network (H_level); 0 = TRM, `net` does both
    expansion: float = 4.0        # SwiGLU hidden = round_up(expansion * D * 2/3, hidden_multiple)
    hidden_multiple: int = 256    # authors: 256; 1 = no rounding (docs/model.md#cpu-prototype)
    mixer: str = "mlp"            # "mlp" (SwiGLU over the sequence axis) or "attention"
    n_heads: int = 8              # attention heads (head_dim = D / n_heads)
    pos: str = "none"             # "rope", "learned" or "none" (the MLP mixer needs none)
    rope_base: float = 10000.0
    n_latent: int = 2             # n: latent steps per recursion (paper: 6 Sudoku, 4 Maze/ARC)
    T: int = 2                    # recursions per supervision step (paper: 3)
    n_sup: int = 8                # N_sup: supervision steps at most (paper: 16)
    puzzle_emb_len: int = 0       # prefix positions for the puzzle-id embedding (authors: 16)
    n_puzzle_ids: int = 1         # distinct puzzle ids (ARC: one per augmented puzzle)
    halt_threshold: float = 0.0   # halt when q_halt (a logit) > threshold
    norm_eps: float = 1e-5
    arch_version: int = 2         # 2: authors' layout; 1: pre-fix trm-edge checkpoints (module doc)

    def __post_init__(self):  # types, ranges and the rules between fields: trm_edge.schema
        from .schema import model_config

        model_config(self)

    # ---- presets -------------------------------------------------------------------------
    @staticmethod
    def preset(name: str, **overrides) -> "TRMConfig":
        if name not in PRESETS:
            raise ValueError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
        return replace(PRESETS[name], **overrides)

    # ---- derived -------------------------------------------------------------------------
    @property
    def total_len(self) -> int:
        return self.puzzle_emb_len + self.seq_len

    @property
    def head_dim(self) -> int:
        return self.d_model // self.n_heads

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_dict(cls, d: dict, where: str = "model config") -> "TRMConfig":
        """A config read from a file (`where` names it in errors: trm_edge.schema.SchemaError)."""
        from .schema import SchemaError, config_dict

        config_dict(d, where, [f.name for f in fields(cls)])
        d = {"arch_version": 1, **d}  # written before the field existed: the pre-fix layout
        if d["arch_version"] not in ARCH_VERSIONS:
            raise SchemaError(f"{where}: field 'arch_version' must be one of {ARCH_VERSIONS}, got {d['arch_version']!r}")
        try:
            return cls(**d)
        except SchemaError as e:
            raise SchemaError(f"{where}: {str(e).removeprefix('model config: ')}") from None


ARCH_VERSIONS = (1, 2)
_PAPER = dict(d_model=512, n_layers=2, expansion=4.0, n_heads=8, n_latent=6, T=3, n_sup=16,
              puzzle_emb_len=16)
PRESETS: dict[str, TRMConfig] = {
    # the paper's models (D=512, n=6 / 4, T=3, N_sup=16, 16 puzzle-id prefix positions)
    "sudoku-mlp": TRMConfig(task="sudoku9", vocab_size=11, seq_len=81, mixer="mlp", pos="none", **_PAPER),
    "sudoku-att": TRMConfig(task="sudoku9", vocab_size=11, seq_len=81, mixer="attention", pos="rope", **_PAPER),
    "maze-att": TRMConfig(task="maze30", vocab_size=6, seq_len=900, mixer="attention", pos="rope",
                          **{**_PAPER, "n_latent": 4}),
    "arc-att": TRMConfig(task="arc1", vocab_size=12, seq_len=900, mixer="attention", pos="rope",
                         **{**_PAPER, "n_latent": 4}),
    # HRM's published models (sapientinc/HRM config/arch/hrm_v1.yaml; ~27M params): separate 4-layer H
    # and L networks, H_cycles = L_cycles = 2, one puzzle-embedding position; Sudoku 9x9 Extreme shape
    "hrm-sudoku": TRMConfig(task="sudoku9", vocab_size=11, seq_len=81, d_model=512, n_layers=4, n_layers_H=4,
                            expansion=4.0, mixer="attention", pos="rope", n_heads=8, n_latent=2, T=2, n_sup=16,
                            puzzle_emb_len=1),
    # small CPU presets (no puzzle-id prefix: every Sudoku has id 0, so it carries no information)
    "sudoku4-tiny": TRMConfig(task="sudoku4", vocab_size=6, seq_len=16, d_model=32, n_latent=2, T=2, n_sup=4),
    "sudoku6-small": TRMConfig(task="sudoku6", vocab_size=8, seq_len=36, d_model=64, n_latent=2, T=2, n_sup=8),
    "sudoku9-small": TRMConfig(task="sudoku9", vocab_size=11, seq_len=81, d_model=128, n_latent=3, T=2, n_sup=8),
    "maze-tiny": TRMConfig(task="maze8", vocab_size=6, seq_len=64, d_model=64, mixer="attention", pos="rope",
                           n_heads=4, n_latent=2, T=2, n_sup=4),
}


# ---- layers --------------------------------------------------------------------------------
def rms_norm(x: torch.Tensor, eps: float, dim: int = -1) -> torch.Tensor:
    """Weightless RMSNorm over `dim` in fp32, by hand: F.rms_norm breaks Core ML conversion on torch 2.13."""
    dtype = x.dtype
    x = x.float()
    return (x * torch.rsqrt(x.pow(2).mean(dim, keepdim=True) + eps)).to(dtype)


# std of a standard normal truncated to [-2, 2]; torch's trunc_normal_(std=s) has std 0.88 s
_TRUNC2_STD = 0.8796256610342398


def trunc_normal(t: torch.Tensor, std: float) -> torch.Tensor:
    """Truncated normal (at +-2 std) whose actual std is `std`, as the authors' trunc_normal_init_."""
    with torch.no_grad():
        return nn.init.trunc_normal_(t, std=1.0, a=-2.0, b=2.0).mul_(std / _TRUNC2_STD)


def lecun_linear(dim_in: int, dim_out: int, bias: bool = False) -> nn.Linear:
    """nn.Linear with the authors' init: truncated normal, std 1/sqrt(fan_in) (biases zero)."""
    lin = nn.Linear(dim_in, dim_out, bias=bias)
    trunc_normal(lin.weight, 1.0 / math.sqrt(dim_in))
    if bias:
        nn.init.zeros_(lin.bias)
    return lin


def _round_up(v: float, multiple: int) -> int:
    return int(math.ceil(round(v) / multiple) * multiple)


class SwiGLU(nn.Module):
    """Fused gate+up projection, no biases: down(silu(gate) * up)."""

    def __init__(self, dim: int, expansion: float, multiple: int = 256):
        super().__init__()
        hidden = _round_up(expansion * dim * 2 / 3, multiple)
        self.gate_up = lecun_linear(dim, 2 * hidden)
        self.down = lecun_linear(hidden, dim)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        gate, up = self.gate_up(h).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


def rope_tables(length: int, head_dim: int, base: float) -> tuple[torch.Tensor, torch.Tensor]:
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    freqs = torch.outer(torch.arange(length, dtype=torch.float32), inv_freq)  # (L, hd/2)
    emb = torch.cat([freqs, freqs], dim=-1)  # (L, hd)
    return emb.cos(), emb.sin()


def _rotate_half(x: torch.Tensor) -> torch.Tensor:
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


class Attention(nn.Module):
    """Non-causal multi-head self-attention, no biases, optional RoPE."""

    def __init__(self, cfg: TRMConfig):
        super().__init__()
        self.n_heads, self.head_dim = cfg.n_heads, cfg.head_dim
        self.qkv = lecun_linear(cfg.d_model, 3 * cfg.d_model)
        self.out = lecun_linear(cfg.d_model, cfg.d_model)
        self.use_rope = cfg.pos == "rope"
        if self.use_rope:
            cos, sin = rope_tables(cfg.total_len, cfg.head_dim, cfg.rope_base)
            self.register_buffer("rope_cos", cos, persistent=False)
            self.register_buffer("rope_sin", sin, persistent=False)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        B, L, D = h.shape
        qkv = self.qkv(h)  # (B, L, 3D): [q | k | v], each (H, hd)
        # three slices, not view(B, L, 3, H, hd).permute + unpack: the unpack's selects lower to
        # squeeze_copy, which XNNPACK does not take (one partition break per q, k and v of every call)
        q, k, v = (qkv[..., i * D:(i + 1) * D].view(B, L, self.n_heads, self.head_dim).transpose(1, 2)
                   for i in range(3))  # 3x (B, H, L, hd)
        if self.use_rope:
            cos, sin = self.rope_cos.to(q.dtype), self.rope_sin.to(q.dtype)
            q = q * cos + _rotate_half(q) * sin
            k = k * cos + _rotate_half(k) * sin
        o = F.scaled_dot_product_attention(q, k, v)  # (B, H, L, hd)
        return self.out(o.transpose(1, 2).reshape(B, L, D))


class SequenceMLP(nn.Module):
    """TRM-MLP mixer: SwiGLU over the sequence axis (fixed L, no positions needed).

    The authors add the residual and normalise while the tensor is still (B, D, L), so that norm
    runs over L (arch_version 2); arch_version 1 returned to (B, L, D) first and normalised over D."""

    def __init__(self, cfg: TRMConfig):
        super().__init__()
        self.mlp = SwiGLU(cfg.total_len, cfg.expansion, cfg.hidden_multiple)
        self.norm_over_seq = cfg.arch_version >= 2
        self.eps = cfg.norm_eps

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> normalised residual (B, L, D)
        t = h.transpose(1, 2)  # (B, D, L)
        if self.norm_over_seq:
            return rms_norm(t + self.mlp(t), self.eps).transpose(1, 2)  # norm over L
        return rms_norm(h + self.mlp(t).transpose(1, 2), self.eps)      # norm over D (v1)

    def forward_untransposed(self, h: torch.Tensor) -> torch.Tensor:  # (B, L, D) -> (B, L, D)
        """`forward` without its two transposes, for graphs run by per-op-overhead runtimes (ONNX
        `--graph web`, trm_edge.export.web): the SwiGLU over L as left matmuls W @ h in the (B, L, D)
        layout and the v2 norm over dim 1 (= L). The same math; only float rounding differs (the
        matmuls accumulate in another order), so eager runs `forward` and exports check parity."""
        W = self.mlp.gate_up.weight                                       # (2H, L)
        H = W.shape[0] // 2
        gu = torch.matmul(W, h)                                           # (B, 2H, D)
        u = torch.matmul(self.mlp.down.weight, F.silu(gu[:, :H]) * gu[:, H:])  # (B, L, D)
        return rms_norm(h + u, self.eps, dim=1 if self.norm_over_seq else -1)


class Block(nn.Module):
    """Post-norm: h = norm(h + mixer(h)); h = norm(h + mlp(h)) (SequenceMLP does its own first norm)."""

    def __init__(self, cfg: TRMConfig):
        super().__init__()
        self.mixer = Attention(cfg) if cfg.mixer == "attention" else SequenceMLP(cfg)
        self.mlp = SwiGLU(cfg.d_model, cfg.expansion, cfg.hidden_multiple)
        self.eps = cfg.norm_eps

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        if isinstance(self.mixer, SequenceMLP):
            h = self.mixer(h)
        else:
            h = rms_norm(h + self.mixer(h), self.eps)
        return rms_norm(h + self.mlp(h), self.eps)


class ReasoningNet(nn.Module):
    """The tiny network that is recursed: a stack of `n_layers` blocks over the sum of its inputs."""

    def __init__(self, cfg: TRMConfig, n_layers: int | None = None):
        super().__init__()   # cfg.mixer is "mlp" or "attention": TRMConfig checks it (trm_edge.schema)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers if n_layers is None else n_layers))

    def forward(self, h: torch.Tensor, *inject: torch.Tensor) -> torch.Tensor:
        for t in inject:
            h = h + t
        for block in self.blocks:
            h = block(h)
        return h


# ---- the model -----------------------------------------------------------------------------
class TinyRecursiveModel(nn.Module):
    def __init__(self, cfg: TRMConfig, net: nn.Module | None = None):
        super().__init__()
        self.cfg = cfg
        D = cfg.d_model
        self.net = net if net is not None else ReasoningNet(cfg)
        if cfg.n_layers_H > 0:  # HRM: a separate answer network (H_level); TRM reuses `net` (>= 0: trm_edge.schema)
            self.net_H = ReasoningNet(cfg, cfg.n_layers_H)
        self.embed_scale = math.sqrt(D)
        self.embed_tokens = nn.Embedding(cfg.vocab_size, D)
        trunc_normal(self.embed_tokens.weight, 1.0 / math.sqrt(D))
        if cfg.pos == "learned":
            self.embed_pos = nn.Parameter(trunc_normal(torch.empty(cfg.total_len, D), 1.0 / math.sqrt(D)))
        if cfg.puzzle_emb_len > 0:
            # one vector per puzzle id, at prefix position 0 (the other prefix positions are zero);
            # zero-initialised as in the authors' code. ARC trains it with its own optimizer.
            self.puzzle_emb = nn.Embedding(cfg.n_puzzle_ids, D)
            nn.init.zeros_(self.puzzle_emb.weight)
        self.lm_head = lecun_linear(D, cfg.vocab_size)
        self.q_head = nn.Linear(D, 1, bias=True)
        with torch.no_grad():  # start "don't halt"
            self.q_head.weight.zero_()
            self.q_head.bias.fill_(-5.0)
        # fixed random initial answer / latent vectors (actual std 1), broadcast over positions
        self.register_buffer("y_init", trunc_normal(torch.empty(D), 1.0))
        self.register_buffer("z_init", trunc_normal(torch.empty(D), 1.0))

    # -- pieces ------------------------------------------------------------------------------
    def embed(self, tokens: torch.Tensor, puzzle_ids: torch.Tensor | None = None) -> torch.Tensor:
        """tokens int32 (B, seq_len) [+ puzzle_ids int32 (B,)] -> x (B, L, D)."""
        x = self.embed_tokens(tokens)  # (B, S, D)
        P = self.cfg.puzzle_emb_len
        if P > 0:
            B, D = tokens.shape[0], self.cfg.d_model
            if puzzle_ids is None:
                puzzle_ids = torch.zeros(B, dtype=tokens.dtype, device=tokens.device)
            first = self.puzzle_emb(puzzle_ids).unsqueeze(1)  # (B, 1, D)
            rest = torch.zeros(B, P - 1, D, dtype=x.dtype, device=x.device)
            x = torch.cat([first.to(x.dtype), rest, x], dim=1)  # (B, L, D)
        if self.cfg.pos == "learned":
            # 1/sqrt(2) keeps the variance of the sum at that of the token embedding
            if self.cfg.arch_version >= 2:  # authors: the table is scaled by sqrt(D) with the tokens
                return self.embed_scale * (0.7071067811865476 * (x + self.embed_pos))
            return 0.7071067811865476 * (self.embed_scale * x + self.embed_pos)
        return self.embed_scale * x

    def initial_state(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x (B, L, D) -> (y, z), each (B, L, D) copies of the fixed init vectors."""
        y = self.y_init.to(x.dtype).expand_as(x).contiguous()
        z = self.z_init.to(x.dtype).expand_as(x).contiguous()
        return y, z

    def recursion(self, x, y, z):
        """One recursion: n_latent latent updates, then one answer update (HRM: by net_H)."""
        v2 = self.cfg.arch_version >= 2
        for _ in range(self.cfg.n_latent):
            z = self.net(z, y + x) if v2 else self.net(z, y, x)  # v2: the authors' order, z + (y + x)
        y = (self.net_H if self.cfg.n_layers_H else self.net)(y, z)
        return y, z

    def heads(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """y (B, L, D) -> logits (B, seq_len, V) over the output cells, q_halt (B,)."""
        P = self.cfg.puzzle_emb_len
        # y[:, 0:] would export as an aten.alias node, which coremltools 9.0 cannot convert
        logits = self.lm_head(y[:, P:] if P > 0 else y)
        q_halt = self.q_head(y[:, 0]).squeeze(-1)
        return logits, q_halt

    def step(self, x, y, z):
        """One supervision step: T recursions (the first T-1 without gradients) + heads.

        Returns (y, z) detached for the next step, logits (B, seq_len, V) and q_halt (B,), which
        carry gradients through the last recursion only.
        """
        if self.cfg.T > 1:
            with torch.no_grad():
                for _ in range(self.cfg.T - 1):
                    y, z = self.recursion(x, y, z)
        y, z = self.recursion(x, y, z)
        logits, q_halt = self.heads(y)
        return y.detach(), z.detach(), logits, q_halt

    def forward(self, tokens: torch.Tensor, puzzle_ids: torch.Tensor | None = None):
        """One supervision step from scratch (handy for shape checks): -> logits, q_halt."""
        x = self.embed(tokens, puzzle_ids)
        _, _, logits, q_halt = self.step(x, *self.initial_state(x))
        return logits, q_halt


def build_model(cfg: TRMConfig) -> TinyRecursiveModel:
    return TinyRecursiveModel(cfg, ReasoningNet(cfg))


def keep_puzzle_rows(model: TinyRecursiveModel, ids) -> TinyRecursiveModel:
    """A copy of `model` whose puzzle-embedding table keeps only the rows `ids` (row i = the table's
    puzzle id ids[i], recorded as `model.puzzle_rows`): an ARC table has one row per augmented puzzle
    (10^5-10^6 x D floats) and an artifact needs only the puzzles it will be asked about."""
    ids = [int(i) for i in ids]
    n = model.cfg.n_puzzle_ids
    if model.cfg.puzzle_emb_len == 0:
        raise ValueError("this model has no puzzle-embedding table (puzzle_emb_len = 0)")
    if not ids or len(set(ids)) != len(ids) or min(ids) < 0 or max(ids) >= n:
        raise ValueError(f"puzzle ids must be distinct and in 0..{n - 1} (got {len(ids)} ids)")
    small = build_model(replace(model.cfg, n_puzzle_ids=len(ids)))
    state = dict(model.state_dict())
    state["puzzle_emb.weight"] = state["puzzle_emb.weight"][torch.tensor(ids)]
    small.load_state_dict(state)
    small.puzzle_rows = ids
    if hasattr(model, "source_checkpoint"):
        small.source_checkpoint = model.source_checkpoint
    return small.train(model.training)


def count_params(model: nn.Module, exclude_puzzle_emb: bool = True) -> int:
    return sum(p.numel() for n, p in model.named_parameters()
               if not (exclude_puzzle_emb and n.startswith("puzzle_emb")))
