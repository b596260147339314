"""attnlib.dynamics.variants: the generalised head, its LayerNorm backward, its trainer and the grouped task."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import attnlib
from attnlib.reference import check_gradient, check_jacobian
from attnlib.laws.responsibility import value_grad
from attnlib.chain.task import authors_initial_params, sticky_chain
from attnlib.head.training import Diverged, RECORDABLE, LearningRates, train
from attnlib.dynamics.variants.spec import W_R_STREAM
from attnlib.dynamics.variants import (
    VariantHistory,
    VariantParams,
    VariantSpec,
    error_signal_diversity,
    grouped_chain,
    head_slices,
    init_variant_params,
    layer_norm,
    layer_norm_backward,
    layer_norm_jacobian,
    loss_function_of,
    train_variant,
    train_variants,
    variant_loss,
    variant_state,
)

TASK = sticky_chain(42, T=40)  # N = 39
SMALL = sticky_chain(5, T=13)  # N = 12, for finite differences


def small_params(seed=3, d_x=20, d_k=4, d_v=6, n_classes=8, scale=0.7):
    """A non-trivial initialisation (larger than the authors' 0.1) so wrong gradients cannot hide."""
    return VariantParams(attnlib.init_params(d_x, d_k, d_v, n_classes, scale=scale, rng=seed))


# --------------------------------------------------------------------------- the default spec is the single head
@pytest.mark.parametrize("causal", [True, False])
@pytest.mark.parametrize("lrs", [LearningRates.sgd(0.05), LearningRates.em_like(0.05)], ids=["sgd", "em"])
def test_default_spec_reproduces_the_reference_trainer(causal, lrs):
    p = init_variant_params(VariantSpec(), 42)
    mine = train_variant(TASK.X, TASK.y, VariantSpec(), p, lrs, steps=40, causal=causal, record=RECORDABLE)
    ref = train(p.head, TASK.X, TASK.y, lrs, steps=40, causal=causal, record=RECORDABLE)
    assert isinstance(mine, VariantHistory) and isinstance(mine, attnlib.History)
    np.testing.assert_allclose(mine.losses, ref.losses, rtol=0, atol=1e-10)
    for name in ("attn_entropy", "score_grad_norm", "value_grad_norm"):
        np.testing.assert_allclose(getattr(mine, name), getattr(ref, name), rtol=1e-10, atol=1e-14)
    for name, w in ref.params.as_dict().items():
        np.testing.assert_allclose(getattr(mine.params, name), w, rtol=0, atol=1e-12)
    assert mine.final_loss == pytest.approx(ref.final_loss, abs=1e-10)
    assert mine.final_entropy == pytest.approx(ref.final_entropy, abs=1e-10)
    assert mine.final_accuracy == ref.final_accuracy
    assert mine.lrs == lrs and mine.spec == VariantSpec() and mine.W_R is None


def test_runs_trained_together_equal_runs_trained_alone():
    spec = VariantSpec(value_norm=True, residual=True, n_heads=2)
    tasks = [sticky_chain(s, T=30) for s in (1, 2)]
    problems = [(t.X, t.y, init_variant_params(spec, s), lr) for s, t in zip((1, 2), tasks)
                for lr in (LearningRates.sgd(0.05), LearningRates.em_like(0.05))]  # fmt: skip
    together = train_variants(problems, spec, steps=15, record=RECORDABLE)
    for problem, h in zip(problems, together):
        alone = train_variant(*problem[:2], spec, *problem[2:], steps=15, record=RECORDABLE)
        np.testing.assert_allclose(h.losses, alone.losses, rtol=0, atol=1e-12)
        np.testing.assert_allclose(h.score_grad_norm, alone.score_grad_norm, rtol=1e-10)
        np.testing.assert_allclose(h.W_R, alone.W_R, rtol=0, atol=1e-12)


def test_adam_matches_torch_optim_adam():
    spec = VariantSpec(optimizer="adam", residual=True)
    p = init_variant_params(spec, 7)
    lrs = LearningRates(W_Q=1e-3, W_K=2e-3, W_V=1e-2, W_O=3e-3)
    mine = train_variant(TASK.X, TASK.y, spec, p, lrs, steps=25)

    weights = {name: torch.tensor(w, requires_grad=True) for name, w in p.as_dict().items()}
    rate = lrs.as_dict() | {"W_R": lrs.W_O}
    opt = torch.optim.Adam([{"params": [w], "lr": rate[name]} for name, w in weights.items()],
                           betas=spec.adam_betas, eps=spec.adam_eps)  # fmt: skip
    X, y = torch.tensor(TASK.X), torch.tensor(TASK.y)
    mask = torch.tensor(attnlib.causal_mask(len(y)))
    losses = []
    for _ in range(25):
        W = weights
        s = (X @ W["W_Q"]) @ (X @ W["W_K"]).T / np.sqrt(W["W_Q"].shape[1])
        alpha = torch.softmax(s.masked_fill(~mask, float("-inf")), dim=-1)
        z = (alpha @ (X @ W["W_V"]) + X @ W["W_R"]) @ W["W_O"]
        loss = torch.nn.functional.cross_entropy(z, y)
        losses.append(loss.item())
        opt.zero_grad()
        loss.backward()
        opt.step()
    np.testing.assert_allclose(mine.losses, losses, rtol=0, atol=1e-12)
    np.testing.assert_allclose(mine.W_R, weights["W_R"].detach().numpy(), rtol=0, atol=1e-12)


def test_several_heads_are_column_blocks_of_the_single_head():
    """H heads = the sum over heads of single heads on column blocks (attnlib.forward, an independent path)."""
    for H in (2, 3):
        spec = VariantSpec(n_heads=H)
        p = small_params(d_k=6, d_v=7)
        logits = 0.0
        for sk, sv in zip(head_slices(6, H), head_slices(7, H)):
            block = attnlib.Params(p.head.W_Q[:, sk], p.head.W_K[:, sk], p.head.W_V[:, sv], p.head.W_O[sv])
            logits = logits + attnlib.forward(block, TASK.X).logits  # (N, C)
        expected = attnlib.cross_entropy(logits, TASK.y)
        assert variant_loss(p, TASK.X, TASK.y, spec) == pytest.approx(expected, rel=1e-12)
        state = variant_state(p, TASK.X, TASK.y, spec)
        assert state["attn"].shape == (H, 39, 39)
        assert np.allclose(state["attn"].sum(-1), 1.0)


def test_multi_head_entropy_and_score_norm_are_pooled_over_heads():
    spec = VariantSpec(n_heads=2)
    p = small_params(d_k=4, d_v=6)
    h = train_variant(TASK.X, TASK.y, spec, p, LearningRates.sgd(0.0), steps=1, record=RECORDABLE)
    per_head = []
    grads_sq = 0.0
    for sk, sv in zip(head_slices(4, 2), head_slices(6, 2)):
        block = attnlib.Params(p.head.W_Q[:, sk], p.head.W_K[:, sk], p.head.W_V[:, sv], p.head.W_O[sv])
        cache = attnlib.forward(block, TASK.X)
        a = cache.attn
        per_head.append(-(a * np.log(a, out=np.zeros_like(a), where=a > 0)).sum(1).mean())
    assert h.attn_entropy[0] == pytest.approx(np.mean(per_head), rel=1e-12)
    # ||dL/dS||: autograd through the whole two-head model, scores of both heads
    state = variant_state(p, TASK.X, TASK.y, spec)
    dS = attnlib.laws.routing.score_gradient  # per head, with the shared upstream sliced to the head's columns
    for (sk, sv), a in zip(zip(head_slices(4, 2), head_slices(6, 2)), state["attn"]):
        grads_sq += (dS(a, state["upstream"][:, sv], state["values"][:, sv]) ** 2).sum()
    assert h.score_grad_norm[0] == pytest.approx(np.sqrt(grads_sq), rel=1e-10)


# --------------------------------------------------------------------------- LayerNorm by hand
def test_layer_norm_matches_torch():
    A = np.random.default_rng(0).normal(size=(5, 7)) * 3 + 1  # (N, d)
    for eps in (1e-5, 0.3):
        ref = torch.nn.functional.layer_norm(torch.tensor(A), (7,), eps=eps).numpy()
        np.testing.assert_allclose(layer_norm(A, eps), ref, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("eps", [0.0, 1e-5, 0.5])
def test_layer_norm_jacobian_against_autograd_and_finite_differences(eps):
    a = np.array([0.3, -1.2, 2.0, 0.7, -0.4])
    f_torch = (lambda t: torch.nn.functional.layer_norm(t, (5,), eps=eps)) if eps > 0 else None
    report = check_jacobian("dv/da", layer_norm_jacobian(a, eps), lambda x: layer_norm(x, eps), a, f_torch=f_torch)
    assert report.passed, report
    J = layer_norm_jacobian(a, eps)
    assert np.allclose(J, J.T) and np.allclose(J @ np.ones(5), 0.0)
    if eps == 0.0:  # a projection (onto the complement of 1 and v) divided by s
        s = np.sqrt(a.var())
        P = J * s
        assert np.allclose(P @ P, P) and np.allclose(P @ layer_norm(a, 0.0), 0.0)
    wrong = np.eye(5) / np.sqrt(a.var() + eps)
    assert not check_jacobian("dv/da", wrong, lambda x: layer_norm(x, eps), a).passed


def test_layer_norm_backward_is_the_gradient_in_the_head():
    spec = VariantSpec(value_norm=True)
    p = small_params()
    A = SMALL.X @ p.head.W_V  # (N, d_v)
    cache = attnlib.forward(p.head, SMALL.X)
    V = layer_norm(A, spec.ln_eps)  # (N, d_v)
    G = attnlib.cross_entropy_grad(cache.attn @ V @ p.head.W_O, SMALL.y)  # (N, C)
    dV = value_grad(cache.attn, G @ p.head.W_O.T)  # (N, d_v)  the value law
    dA = layer_norm_backward(A, dV, spec.ln_eps)  # (N, d_v)
    f, f_torch = loss_function_of(p, SMALL.X, SMALL.y, spec, "A")
    assert check_gradient("dL/dA", dA, f, A, f_torch=f_torch).passed
    f, f_torch = loss_function_of(p, SMALL.X, SMALL.y, spec, "W_V")
    assert check_gradient("dL/dW_V", SMALL.X.T @ dA, f, p.head.W_V, f_torch=f_torch).passed
    assert not check_gradient("dL/dA", dV, f_torch=None, f=loss_function_of(p, SMALL.X, SMALL.y, spec, "A")[0],
                              x=A).passed  # fmt: skip  the plain value law is not the answer


def test_layer_norm_is_scale_invariant_up_to_eps():
    """<dL/dW_V, W_V> = sum_j (g_j . v_j) eps / (sigma_j^2 + eps): zero when eps = 0."""
    for eps in (0.0, 1e-2):
        spec = VariantSpec(value_norm=True, ln_eps=eps)
        p = small_params()
        f, f_torch = loss_function_of(p, SMALL.X, SMALL.y, spec, "W_V")
        W = torch.tensor(p.head.W_V, requires_grad=True)
        f_torch(W).backward()
        inner = float((W.grad.numpy() * p.head.W_V).sum())
        A = SMALL.X @ p.head.W_V
        state = variant_state(p, SMALL.X, SMALL.y, spec)
        g = value_grad(state["attn"][0], state["upstream"])  # (N, d_v)
        var = A.var(axis=1)  # (N,)
        predicted = float(((g * state["values"]).sum(1) * eps / (var + eps)).sum())
        assert inner == pytest.approx(predicted, abs=1e-15 + 1e-9 * abs(predicted))
        assert f(3.0 * p.head.W_V) == pytest.approx(f(p.head.W_V), rel=1e-12 if eps == 0 else 1e-2)


# --------------------------------------------------------------------------- the residual
def test_residual_gradients_of_W_R_and_of_the_input():
    spec = VariantSpec(residual=True)
    p = VariantParams(small_params().head, np.random.default_rng(5).normal(scale=0.7, size=(20, 6)))
    cache = attnlib.forward(p.head, SMALL.X)
    O = cache.out + SMALL.X @ p.W_R  # (N, d_v)
    G = attnlib.cross_entropy_grad(O @ p.head.W_O, SMALL.y)  # (N, C)
    U = G @ p.head.W_O.T  # (N, d_v)
    assert np.allclose(variant_state(p, SMALL.X, SMALL.y, spec)["upstream"], U, rtol=1e-10, atol=1e-16)
    f, f_torch = loss_function_of(p, SMALL.X, SMALL.y, spec, "W_R")
    assert check_gradient("dL/dW_R", SMALL.X.T @ U, f, p.W_R, f_torch=f_torch).passed
    dS = attnlib.laws.routing.score_gradient(cache.attn, U, cache.values)  # (N, N)
    dQ = dS @ cache.keys / np.sqrt(4)  # (N, d_k)
    dK = dS.T @ cache.queries / np.sqrt(4)  # (N, d_k)
    dV = value_grad(cache.attn, U)  # (N, d_v)
    dX = dQ @ p.head.W_Q.T + dK @ p.head.W_K.T + dV @ p.head.W_V.T + U @ p.W_R.T  # (N, d_x)
    f, f_torch = loss_function_of(p, SMALL.X, SMALL.y, spec, "X")
    assert check_gradient("dL/dX", dX, f, SMALL.X, f_torch=f_torch).passed
    without = dX - U @ p.W_R.T
    assert not check_gradient("dL/dX", without, f, SMALL.X).passed


# --------------------------------------------------------------------------- validation
@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"n_heads": 0}, ValueError, "n_heads must be >= 1, got 0"),
        ({"n_heads": 2.0}, TypeError, "n_heads must be an integer"),
        ({"optimizer": "rmsprop"}, ValueError, "optimizer must be one of ('sgd', 'adam'), got 'rmsprop'"),
        ({"value_norm": 1}, TypeError, "value_norm must be True or False"),
        ({"ln_eps": -1.0}, ValueError, "ln_eps must be a finite number >= 0, got -1.0"),
        ({"adam_betas": (0.9, 1.0)}, ValueError, "adam_betas must be two numbers in [0, 1)"),
        ({"adam_eps": 0.0}, ValueError, "adam_eps must be a finite number > 0"),
    ],
)
def test_spec_validation_is_one_line(kwargs, error, text):
    with pytest.raises(error) as info:
        VariantSpec(**kwargs)
    assert text in str(info.value) and "\n" not in str(info.value)


def test_dimension_and_argument_errors():
    with pytest.raises(ValueError, match=r"n_heads must be <= min\(d_k, d_v\) = 10, got 11"):
        init_variant_params(VariantSpec(n_heads=11), 42)
    with pytest.raises(ValueError, match="every head's value width >= 2"):
        init_variant_params(VariantSpec(n_heads=10, value_norm=True), 42)
    with pytest.raises(TypeError, match="seed must be an integer"):
        init_variant_params(VariantSpec(residual=True), 4.2)
    one, two = (init_variant_params(VariantSpec(residual=True), 42) for _ in range(2))
    np.testing.assert_array_equal(one.W_R, two.W_R)  # W_R comes from the seed alone
    p = init_variant_params(VariantSpec(), 42)
    with pytest.raises(ValueError, match="no W_R"):
        variant_loss(p, TASK.X, TASK.y, VariantSpec(residual=True))
    with pytest.raises(ValueError, match=r"X must have shape \(N >= 1, 20\)"):
        train_variant(TASK.X[:, :5], TASK.y, VariantSpec(), p, LearningRates.sgd(), steps=1)
    with pytest.raises(TypeError, match="lrs must be a LearningRates"):
        train_variant(TASK.X, TASK.y, VariantSpec(), p, 0.01, steps=1)
    with pytest.raises(ValueError, match="every run must match run 0"):
        short = sticky_chain(1, T=20)
        train_variants([(TASK.X, TASK.y, p, LearningRates.sgd()), (short.X, short.y, p, LearningRates.sgd())],
                       VariantSpec(), steps=1)  # fmt: skip
    with pytest.raises(TypeError, match="wrap a single one in a list"):
        train_variants((TASK.X, TASK.y, p, LearningRates.sgd()), VariantSpec(), steps=1)
    with pytest.raises(ValueError, match="at must be one of"):
        loss_function_of(p, TASK.X, TASK.y, VariantSpec(), "W_R")
    with pytest.raises(ValueError, match=r"W_R must have shape \(d_x, d_v\) = \(20, 15\)"):
        VariantParams(p.head, np.zeros((15, 20)))


def test_a_diverging_run_is_named_in_one_line():
    p = init_variant_params(VariantSpec(), 42)
    runs = [(TASK.X, TASK.y, p, LearningRates.sgd()), (TASK.X, TASK.y, p, LearningRates.sgd(1e4))]
    with pytest.raises(Diverged, match=r"^problems\[1\] diverged: its loss is not finite from step \d+ on, "
                                       r"with learning rates LearningRates\(W_Q=10000.0, .*; lower them$"):
        train_variants(runs, VariantSpec(), steps=200)


def test_progress_and_thread_count_are_restored():
    seen = []
    before = torch.get_num_threads()
    p = init_variant_params(VariantSpec(), 42)
    train_variant(TASK.X, TASK.y, VariantSpec(), p, LearningRates.sgd(), steps=25)
    train_variants([(TASK.X, TASK.y, p, LearningRates.sgd())], VariantSpec(), steps=25, progress=seen.append)
    assert seen == [10, 20, 25] and torch.get_num_threads() == before


def test_initial_weights_are_the_authors_and_W_R_comes_from_the_seed():
    spec = VariantSpec(residual=True, n_heads=2, value_norm=True)
    p = init_variant_params(spec, 2024)
    for name, w in authors_initial_params(2024).as_dict().items():
        assert np.array_equal(getattr(p.head, name), w)
    assert np.array_equal(p.W_R, np.random.default_rng([W_R_STREAM, 2024]).normal(scale=0.1, size=(20, 15)))


# --------------------------------------------------------------------------- (e) the grouped chain
def test_grouped_chain():
    full = grouped_chain(42, 8, T=60)
    chain = sticky_chain(42, T=60)
    assert np.array_equal(full.y, chain.y) and np.array_equal(full.X, chain.X)
    assert full.H_min == pytest.approx(chain.H_min, rel=1e-12)
    two = grouped_chain(42, 2, T=60)
    assert np.array_equal(two.y, chain.y // 4) and np.array_equal(two.X, chain.X)
    assert 0 < two.H_min < full.H_min and grouped_chain(42, 1, T=60).H_min == 0.0
    with pytest.raises(ValueError, match="n_groups must divide the number of symbols 8, got 3"):
        grouped_chain(42, 3)


def test_error_signal_diversity_falls_with_the_number_of_groups():
    cos = []
    for k in (1, 2, 4, 8):
        task = grouped_chain(42, k, T=150)
        p = init_variant_params(VariantSpec(), 42)
        cos.append(error_signal_diversity(variant_state(p, task.X, task.y, VariantSpec())["upstream"])["mean_cosine"])
    assert cos[0] > 0.99 and all(a > b for a, b in zip(cos, cos[1:])) and abs(cos[-1]) < 0.05
    with pytest.raises(ValueError, match="at least 2 non-zero rows"):
        error_signal_diversity(np.zeros((3, 2)))


# --------------------------------------------------------------------------- attention dropout
def test_attention_dropout_is_seeded_per_run_and_evaluated_without_dropout():
    spec = VariantSpec(attn_dropout=0.3)
    p = init_variant_params(spec, 42)
    problems = [(TASK.X, TASK.y, p, LearningRates.sgd(0.5)), (TASK.X, TASK.y, p, LearningRates.em_like(0.5))]
    together = train_variants(problems, spec, steps=12, dropout_seeds=[1, 2], record=RECORDABLE)
    again = train_variants(problems, spec, steps=12, dropout_seeds=[1, 2])
    alone = train_variant(TASK.X, TASK.y, spec, p, LearningRates.em_like(0.5), steps=12, dropout_seed=2)
    np.testing.assert_array_equal(together[0].losses, again[0].losses)  # the seeds fix the masks
    np.testing.assert_allclose(together[1].losses, alone.losses, rtol=1e-12)  # its masks do not depend on its batch
    plain = train_variant(TASK.X, TASK.y, VariantSpec(), p, LearningRates.sgd(0.5), steps=12)
    other = train_variants(problems[:1], spec, steps=12, dropout_seeds=[7])[0]
    assert together[0].losses[0] != plain.losses[0] and other.losses[0] != together[0].losses[0]
    # the final metrics are measured with dropout off
    assert together[0].final_loss == pytest.approx(variant_loss(together[0].final_params, TASK.X, TASK.y, spec))
    assert spec.label == "attention dropout 0.3" and spec.as_dict()["attn_dropout"] == 0.3


def test_attention_dropout_keeps_the_expected_output():
    """E[mask / (1 - p)] = 1: the mean loss over many masks is close to the loss without dropout at small p."""
    spec = VariantSpec(attn_dropout=0.1)
    p = init_variant_params(spec, 42)
    first = [train_variants([(TASK.X, TASK.y, p, LearningRates.sgd(0.1))], spec, steps=1, dropout_seeds=[s])[0].losses[0]
             for s in range(40)]  # fmt: skip
    exact = variant_loss(p, TASK.X, TASK.y, VariantSpec())
    assert abs(np.mean(first) - exact) < 4 * np.std(first) / np.sqrt(40) + 1e-3


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"spec": VariantSpec(attn_dropout=0.2)}, "dropout_seeds must give one seed per problem"),
        ({"spec": VariantSpec(attn_dropout=0.2), "dropout_seeds": [1, 2]}, "dropout_seeds must give one seed"),
        ({"spec": VariantSpec(), "dropout_seeds": [1]}, "dropout_seeds is only used when"),
    ],
)
def test_attention_dropout_needs_its_seeds(kwargs, text):
    p = init_variant_params(VariantSpec(), 42)
    with pytest.raises(ValueError, match=text):
        train_variants([(TASK.X, TASK.y, p, LearningRates.sgd())], steps=1, **kwargs)
    with pytest.raises(ValueError, match="attn_dropout must be below 1"):
        VariantSpec(attn_dropout=1.0)
