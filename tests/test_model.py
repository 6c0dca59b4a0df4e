"""TinyRecursiveModel: shapes per preset, parameter counts of the paper presets, and that gradients
reach the parameters only through the last recursion of a supervision step."""
import pytest
import torch

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
