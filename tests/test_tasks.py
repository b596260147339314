"""The sticky-chain task: transition matrix, the authors' RNG replay, initial weights."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from attnlib.chain.task import PAPER_SEEDS, authors_initial_params, row_entropy, sticky_chain, transition_matrix

# --------------------------------------------------------------------------- transition matrix


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 24), self_prob=st.floats(0.0, 1.0), published=st.booleans())
def test_rows_are_probability_vectors(n, self_prob, published):
    P = transition_matrix(n, self_prob, published=published)
    assert P.shape == (n, n)
    assert np.all(P >= 0)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(2, 24), self_prob=st.floats(0.0, 1.0))
def test_exact_variant_has_self_prob_on_the_diagonal(n, self_prob):
    P = transition_matrix(n, self_prob, published=False)
    np.testing.assert_allclose(np.diag(P), self_prob, rtol=0, atol=1e-12)


def test_published_self_transition_is_0_3498():
    P = transition_matrix()
    off_diagonal = 2 * (1 + 1 / 2 + 1 / 3) + 1 / 4  # 1/d for d = 1, 2, 3, 4, 3, 2, 1
    expected = 0.3 + 0.7 * 0.3 / (0.3 + off_diagonal)  # 0.3 + 0.7 * 0.3 / 4.2167
    np.testing.assert_allclose(np.diag(P), expected, rtol=0, atol=1e-15)
    assert round(expected, 4) == 0.3498


def test_published_rows_follow_one_over_circular_distance():
    P = transition_matrix()
    d = np.array([0, 1, 2, 3, 4, 3, 2, 1])
    row = P[0, 1:]
    np.testing.assert_allclose(row / row[0], 1 / d[1:] / 1.0, rtol=1e-12)
    for i in range(8):  # circulant: every row is the first one rotated
        np.testing.assert_allclose(P[i], np.roll(P[0], i), rtol=0, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"n_symbols": 1}, ValueError, "n_symbols must be >= 2, got 1"),
        ({"n_symbols": 2.5}, TypeError, "n_symbols"),
        ({"self_prob": 1.5}, ValueError, "self_prob must be a finite number in [0, 1], got 1.5"),
        ({"self_prob": -0.1}, ValueError, "got -0.1"),
        ({"self_prob": float("nan")}, ValueError, "self_prob"),
        ({"self_prob": "0.3"}, TypeError, "self_prob"),
        ({"published": 1}, TypeError, "published"),
    ],
)
def test_transition_matrix_rejects_bad_arguments(kwargs, error, text):
    with pytest.raises(error, match=text.replace("[", r"\[").replace("]", r"\]")):
        transition_matrix(**kwargs)


def test_row_entropy_is_in_nats():
    assert row_entropy(np.full((1, 8), 1 / 8))[0] == pytest.approx(np.log(8))
    assert row_entropy(np.eye(3)).tolist() == [0.0, 0.0, 0.0]


# --------------------------------------------------------------------------- the chain


def test_shapes_dtypes_and_alignment():
    task = sticky_chain(42, T=300)
    assert task.X.shape == (299, 20) and task.X.dtype == np.float64
    assert task.y.shape == (299,) and task.y.dtype == np.int64
    assert task.states.shape == (300,) and task.mu.shape == (8, 20)
    np.testing.assert_array_equal(task.y, task.states[1:])  # target: the next symbol
    assert task.n_positions == 299
    assert not task.X.flags.writeable


def test_reproducible_and_seed_dependent():
    a, b, c = sticky_chain(7, T=200), sticky_chain(7, T=200), sticky_chain(8, T=200)
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.states, b.states)
    assert not np.array_equal(a.states, c.states)
    assert not np.array_equal(a.X, c.X)
    np.testing.assert_array_equal(a.mu, c.mu)  # the embedding seed is separate from the run seed


def test_embed_seed_changes_only_the_means():
    a, b = sticky_chain(7, T=200), sticky_chain(7, T=200, embed_seed=1)
    np.testing.assert_array_equal(a.states, b.states)
    assert not np.array_equal(a.mu, b.mu)


def test_global_generators_untouched():
    torch.manual_seed(123)
    np.random.seed(321)
    torch_before, numpy_before = torch.get_rng_state(), np.random.get_state()
    sticky_chain(42, T=100)
    authors_initial_params(42)
    assert torch.equal(torch.get_rng_state(), torch_before)
    numpy_after = np.random.get_state()
    assert numpy_after[0] == numpy_before[0] and np.array_equal(numpy_after[1], numpy_before[1])
    assert numpy_after[2:] == numpy_before[2:]


def _protocol_with_private_generators(seed, T, P, d_x=20, embed_seed=0, p_dtype=torch.float64):
    """The authors' script's draw order, written independently with explicit generators."""
    mu = torch.randn(P.shape[0], d_x, generator=torch.Generator().manual_seed(embed_seed))
    g = torch.Generator().manual_seed(seed)
    P_t = torch.tensor(P, dtype=p_dtype)
    states = [int(torch.randint(0, P.shape[0], (1,), generator=g))]
    for _ in range(T - 1):
        states.append(int(torch.multinomial(P_t[states[-1]], 1, generator=g)))
    noise = torch.randn(T - 1, d_x, generator=g)
    states = np.array(states)
    return states, (mu[states[:-1]] + noise).numpy()


def test_matches_the_protocol_draw_order():
    task = sticky_chain(2024, T=400)
    states, X = _protocol_with_private_generators(2024, 400, task.P)
    np.testing.assert_array_equal(task.states, states)
    np.testing.assert_array_equal(task.X, X.astype(np.float64))


def test_float32_or_float64_P_gives_the_same_paper_chains():
    """The one dtype we had to assume (see sticky_chain's docstring) does not matter for the paper's seeds."""
    P = transition_matrix()
    for seed in PAPER_SEEDS:
        s64, _ = _protocol_with_private_generators(seed, 2000, P, p_dtype=torch.float64)
        s32, _ = _protocol_with_private_generators(seed, 2000, P, p_dtype=torch.float32)
        np.testing.assert_array_equal(s64, s32)


@pytest.mark.parametrize("published, self_prob", [(True, 0.3), (False, 0.6)])
def test_long_run_frequencies_match_the_stationary_distribution(published, self_prob):
    T = 40_000
    task = sticky_chain(5, T=T, self_prob=self_prob, published=published)
    P = task.P
    eigvals, eigvecs = np.linalg.eig(P.T)
    pi = np.real(eigvecs[:, np.argmin(np.abs(eigvals - 1))])
    pi /= pi.sum()  # stationary distribution (uniform here: P is circulant)
    freq = np.bincount(task.states, minlength=P.shape[0]) / T
    # Tolerance: for a reversible chain the variance of an empirical frequency is at most
    # pi (1 - pi) (1 + lam) / (1 - lam) / T, lam the second largest eigenvalue modulus; allow 5 sigma.
    lam = np.sort(np.abs(eigvals))[-2]
    sigma = np.sqrt(pi * (1 - pi) * (1 + lam) / (1 - lam) / T)
    assert np.all(np.abs(freq - pi) < 5 * sigma), (freq, pi, sigma)


def test_h_min_is_the_mean_row_entropy_in_nats():
    task = sticky_chain(1, T=10)
    P = task.P
    assert task.H_min == pytest.approx(float(np.mean(-(P * np.log(P)).sum(axis=1))), rel=1e-12)
    assert task.H_min == pytest.approx(1.8291880594672074, rel=1e-12)
    assert task.H_min < np.log(8)


def test_inputs_are_noisy_symbol_means():
    task = sticky_chain(3, T=2000, noise=0.5)
    residual = task.X - task.mu[task.states[:-1]]  # (N, d_x)
    assert residual.std() == pytest.approx(0.5, rel=0.05)
    assert sticky_chain(3, T=50, noise=0.0).X.tolist() == sticky_chain(3, T=50, noise=0.0).mu[
        sticky_chain(3, T=50).states[:-1]
    ].tolist()


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"seed": -1}, ValueError),
        ({"seed": 2**32}, ValueError),
        ({"seed": 1.5}, TypeError),
        ({"seed": True}, TypeError),
        ({"seed": 1, "T": 1}, ValueError),
        ({"seed": 1, "noise": -1.0}, ValueError),
        ({"seed": 1, "self_prob": 2.0}, ValueError),
        ({"seed": 1, "n_symbols": 1}, ValueError),
    ],
)
def test_sticky_chain_rejects_bad_arguments(kwargs, error):
    with pytest.raises(error):
        sticky_chain(**kwargs)


# --------------------------------------------------------------------------- initial weights


def test_authors_initial_params_replay_torch_randn():
    p = authors_initial_params(42)
    g = torch.Generator().manual_seed(42)
    expected = [torch.randn(20, 10, generator=g), torch.randn(20, 10, generator=g),
                torch.randn(20, 15, generator=g), torch.randn(15, 8, generator=g)]  # fmt: skip
    for w, e in zip(p.as_dict().values(), expected):
        np.testing.assert_array_equal(w, (e * 0.1).numpy().astype(np.float64))
        np.testing.assert_array_equal(w, w.astype(np.float32))  # float32 draws, widened exactly
    assert not np.array_equal(p.W_Q, authors_initial_params(43).W_Q)
    assert authors_initial_params(0, d_x=3, d_k=2, d_v=4, n_classes=5).dims == {
        "d_x": 3, "d_k": 2, "d_v": 4, "n_classes": 5}  # fmt: skip


def test_authors_initial_params_rejects_bad_arguments():
    with pytest.raises(ValueError, match="n_classes"):
        authors_initial_params(1, n_classes=1)
    with pytest.raises(TypeError, match="seed"):
        authors_initial_params("42")


# --------------------------------------------------------------------------- the authors' GPU draws
NO_GPU = not torch.cuda.is_available()


@pytest.mark.skipif(not NO_GPU, reason="this machine has a CUDA GPU")
def test_cuda_draws_without_a_gpu_stop_with_one_line():
    from attnlib.chain.task import ChainConfig

    for make in (lambda: ChainConfig(draws="cuda"), lambda: sticky_chain(42, T=10, draws="cuda"),
                 lambda: authors_initial_params(42, draws="cuda")):  # fmt: skip
        with pytest.raises(ValueError, match=r"^draws='cuda' .* needs a CUDA GPU; none is available here") as error:
            make()
        assert "\n" not in str(error.value)
    with pytest.raises(ValueError, match="draws must be one of"):
        ChainConfig(draws="gpu")


@pytest.mark.skipif(NO_GPU, reason="needs a CUDA GPU")
def test_cuda_draws_replay_the_cuda_generator_in_the_authors_order():
    """mu then the noise from the CUDA stream of embed_seed; the states from the CPU stream; weights from CUDA(seed)."""
    cpu, gpu = sticky_chain(42, T=300), sticky_chain(42, T=300, draws="cuda")
    np.testing.assert_array_equal(gpu.states, cpu.states)  # the chain itself is drawn on the CPU either way
    stream = torch.Generator(device="cuda").manual_seed(0)
    mu = torch.randn(8, 20, device="cuda", generator=stream)  # (8, 20)
    noise = torch.randn(299, 20, device="cuda", generator=stream)  # (299, 20)
    np.testing.assert_array_equal(gpu.mu, mu.cpu().numpy().astype(np.float64))
    np.testing.assert_array_equal(gpu.X, (mu[torch.from_numpy(cpu.states[:-1]).cuda()] + noise).cpu().numpy())
    other = sticky_chain(7, T=300, draws="cuda")
    noise_of = lambda task: task.X - task.mu[task.states[:-1]]  # noqa: E731  (N, d_x)
    np.testing.assert_allclose(noise_of(other), noise_of(gpu), atol=1e-5)  # one noise for every run seed
    weights = torch.Generator(device="cuda").manual_seed(42)
    W_Q = (torch.randn(20, 10, device="cuda", generator=weights) * 0.1).cpu().numpy()
    np.testing.assert_array_equal(authors_initial_params(42, draws="cuda").W_Q, W_Q.astype(np.float64))


def test_replaying_the_authors_draws_leaves_every_cuda_generator_alone(monkeypatch):
    """torch.manual_seed also reseeds the CUDA generators, which the replay could not restore: it seeds the CPU alone."""
    calls = []
    monkeypatch.setattr(torch.cuda, "manual_seed_all", lambda seed: calls.append(seed))
    monkeypatch.setattr(torch.cuda, "manual_seed", lambda seed: calls.append(seed))
    sticky_chain(42, T=30)
    authors_initial_params(42)
    assert calls == []
    torch.manual_seed(3)  # the patch does see a global reseed
    assert calls == [3]
