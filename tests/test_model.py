"""TinyRecursiveModel: shapes per preset, parameter counts of the paper presets, and that gradients
reach the parameters only through the last recursion of a supervision step."""
import pytest
import torch

from dataclasses import replace

from trm_edge.model import PRESETS, TRMConfig, build_model, count_params
from trm_edge.runtime import EagerSession

# tiny overrides keep every preset's structure (mixer, positions, prefix, L) but shrink D
TINY = dict(d_model=32, n_heads=4, n_latent=2, T=2, n_sup=3)


@pytest.mark.parametrize("name", list(PRESETS))
def test_shapes_per_preset(name):
    cfg = TRMConfig.preset(name, **TINY)
    model = build_model(cfg).eval()
    B = 2
    tokens = torch.randint(1, cfg.vocab_size, (B, cfg.seq_len), dtype=torch.int32)
    x = model.embed(tokens)
    assert x.shape == (B, cfg.total_len, cfg.d_model)
    y, z = model.initial_state(x)
    assert y.shape == z.shape == x.shape
    y2, z2, logits, q = model.step(x, y, z)
    assert y2.shape == z2.shape == x.shape
    assert logits.shape == (B, cfg.seq_len, cfg.vocab_size)
    assert q.shape == (B,)
    assert not y2.requires_grad and not z2.requires_grad  # carried state is detached
    r = EagerSession(model).solve(tokens, max_steps=cfg.n_sup, halt=False)
    assert r.preds.shape == (cfg.n_sup, B, cfg.seq_len)
    assert r.q_halt.shape == (cfg.n_sup, B)
    assert ((r.halted_at >= 1) & (r.halted_at <= cfg.n_sup)).all()


# the spec: ~5M (Sudoku MLP), ~7M (attention); exact counts of this implementation
@pytest.mark.parametrize("name,expected", [("sudoku-mlp", 5_028_353), ("sudoku-att", 6_827_521),
                                           ("maze-att", 6_822_401), ("arc-att", 6_828_545)])
def test_paper_preset_param_counts(name, expected):
    n = count_params(build_model(TRMConfig.preset(name)))
    print(f"{name}: {n:,} parameters")
    assert n == expected
    lo, hi = (4.8e6, 5.3e6) if name == "sudoku-mlp" else (6.5e6, 7.2e6)
    assert lo <= n <= hi


def _first_recursions_detached_step(model, x, y, z):
    """Reference: the first T-1 recursions computed on detached copies, the last with autograd."""
    with torch.no_grad():
        for _ in range(model.cfg.T - 1):
            y, z = model.recursion(x, y, z)
    y, z = model.recursion(x, y.detach(), z.detach())
    return model.heads(y)


def _full_backprop_step(model, x, y, z):
    """What the model must NOT do: backprop through all T recursions."""
    for _ in range(model.cfg.T):
        y, z = model.recursion(x, y, z)
    return model.heads(y)


def _grads(model, step_fn, tokens):
    model.zero_grad()
    x = model.embed(tokens)
    y, z = model.initial_state(x)
    logits, q = step_fn(model, x, y, z)[-2:]
    (logits.square().mean() + q.square().mean()).backward()
    return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("name", ["sudoku6-small", "maze-tiny"])
def test_gradients_only_through_last_recursion(name):
    torch.manual_seed(0)
    cfg = TRMConfig.preset(name, T=3, n_latent=2)
    model = build_model(cfg).double()
    # a non-trivial q_head so its gradient path is exercised too
    torch.nn.init.normal_(model.q_head.weight, std=0.1)
    tokens = torch.randint(1, cfg.vocab_size, (2, cfg.seq_len), dtype=torch.int32)

    # 1) every net call of the first T-1 recursions runs without autograd, the last recursion's with it
    flags = []
    hook = model.net.register_forward_hook(lambda m, i, o: flags.append(o.requires_grad))
    model.step(model.embed(tokens), *model.initial_state(model.embed(tokens)))
    hook.remove()
    per_rec = cfg.n_latent + 1
    assert flags == [False] * ((cfg.T - 1) * per_rec) + [True] * per_rec

    # 2) the gradients equal those of an explicitly detached reference, and differ from full backprop
    g = _grads(model, lambda m, x, y, z: m.step(x, y, z), tokens)
    g_ref = _grads(model, _first_recursions_detached_step, tokens)
    g_full = _grads(model, _full_backprop_step, tokens)
    assert g.keys() == g_ref.keys()
    for k in g:
        torch.testing.assert_close(g[k], g_ref[k], rtol=1e-10, atol=1e-12)
    net_keys = [k for k in g if k.startswith("net.")]
    assert any(not torch.allclose(g[k], g_full[k], rtol=1e-6, atol=1e-9) for k in net_keys)


# ---- the authors' layout (arch_version 2) and init, and old checkpoints (arch_version 1) -------------
def _rms(t):
    return t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + 1e-5)


def test_sequence_mlp_residual_is_normalised_over_the_sequence_axis():
    """Authors' Block with mlp_t: transpose to (B, D, L), h + SwiGLU_L(h), RMS-norm over L, transpose back."""
    torch.manual_seed(0)
    cfg = TRMConfig.preset("sudoku4-tiny")
    assert cfg.arch_version == 2
    mixer = build_model(cfg).net.blocks[0].mixer
    h = torch.randn(3, cfg.total_len, cfg.d_model)
    t = h.transpose(1, 2)                                   # (B, D, L)
    want = _rms(t + mixer.mlp(t)).transpose(1, 2)
    torch.testing.assert_close(mixer(h), want, rtol=0, atol=1e-6)
    assert mixer(h).pow(2).mean(1).sub(1).abs().max() < 1e-3   # unit RMS over L, not over D
    old = build_model(replace(cfg, arch_version=1)).net.blocks[0].mixer
    old.load_state_dict(mixer.state_dict())
    torch.testing.assert_close(old(h), _rms(h + mixer.mlp(t).transpose(1, 2)), rtol=0, atol=1e-6)
    for m in (mixer, old):   # the transpose-free form the web export traces (trm_edge/export/web.py)
        torch.testing.assert_close(m.forward_untransposed(h), m(h), rtol=0, atol=1e-6)


def test_config_without_arch_version_keeps_its_old_meaning(tmp_path):
    """config.json written before the field existed loads as arch_version 1 and computes what it did."""
    import json

    from trm_edge.checkpoint import load_model, save_model
    from trm_edge.errors import ArtifactError

    torch.manual_seed(0)
    old = build_model(TRMConfig.preset("sudoku4-tiny", arch_version=1)).eval()
    d = save_model(old, tmp_path / "old")
    cfg = json.loads((d / "config.json").read_text())
    del cfg["arch_version"]
    (d / "config.json").write_text(json.dumps(cfg))
    loaded, _ = load_model(d)
    assert loaded.cfg.arch_version == 1
    tokens = torch.randint(1, 6, (4, 16), dtype=torch.int32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(tokens)[0], old(tokens)[0], rtol=0, atol=0)
        new = build_model(replace(loaded.cfg, arch_version=2)).eval()
        new.load_state_dict(loaded.state_dict())
        assert (new(tokens)[0] - old(tokens)[0]).abs().max() > 1e-2   # the layouts really differ
    cfg["arch_version"] = 3
    (d / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ArtifactError, match=r"config.json: field 'arch_version' must be one of \(1, 2\), got 3"):
        load_model(d)


def test_init_is_the_authors():
    """Linear: truncated normal std 1/sqrt(fan_in) (LeCun); y/z init actual std 1; embedding 1/sqrt(D)."""
    from trm_edge.model import trunc_normal

    torch.manual_seed(0)
    t = trunc_normal(torch.empty(200_000), 0.5)
    assert abs(t.std().item() - 0.5) < 0.005 and t.abs().max() <= 1.0 / 0.8796256610342398 + 1e-6
    model = build_model(TRMConfig.preset("sudoku-mlp", d_model=128))
    for name, p in model.named_parameters():
        if p.ndim == 2 and name.startswith(("net.", "lm_head")):
            fan_in = p.shape[1]
            assert abs(p.std().item() * fan_in ** 0.5 - 1) < 0.05, name
            assert p.abs().max().item() * fan_in ** 0.5 <= 2 / 0.8796 + 1e-4, name
    assert abs(model.embed_tokens.weight.std().item() * 128 ** 0.5 - 1) < 0.2   # 11 x 128 values
    yz = torch.cat([torch.cat([m.y_init, m.z_init]) for m in
                    (build_model(TRMConfig.preset("sudoku4-tiny")) for _ in range(60))])  # 3840 values
    assert abs(yz.std().item() - 1) < 0.05                    # torch's trunc_normal_(std=1) gives 0.88
    assert (model.q_head.weight == 0).all() and (model.q_head.bias == -5).all()


def test_learned_positions_scaled_with_the_tokens():
    """Authors: sqrt(D) * (tok + pos) / sqrt(2); arch_version 1 added the table unscaled."""
    torch.manual_seed(0)
    cfg = TRMConfig.preset("maze-tiny", pos="learned")
    model = build_model(cfg)
    tokens = torch.randint(1, 6, (2, cfg.seq_len), dtype=torch.int32)
    tok = model.embed_tokens(tokens)
    D = cfg.d_model
    torch.testing.assert_close(model.embed(tokens), D ** 0.5 * (tok + model.embed_pos) / 2 ** 0.5)
    old = build_model(replace(cfg, arch_version=1))
    old.load_state_dict(model.state_dict())
    torch.testing.assert_close(old.embed(tokens), (D ** 0.5 * tok + model.embed_pos) / 2 ** 0.5)
