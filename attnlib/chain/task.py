"""The paper's sticky Markov-chain task, replayed draw for draw (chapter 8).

Eight symbols on a circle. The chain stays where it is with probability about
0.35 and otherwise jumps, preferring near neighbours (weight ``1 / circular
distance``). Each position shows a noisy embedding of the current symbol and
the target is the next symbol, so the best possible loss is the entropy of a
row of the transition matrix.

Dimension names in shape comments: ``n`` symbols, ``T`` chain length,
``N = T - 1`` positions, ``d_x`` input width.

Randomness. The authors' script draws everything from torch's *global*
generator (and seeds numpy's too). To reproduce their numbers bit for bit this
module does the same, in exactly one place, :func:`_replay_authors_rng`, which
saves both global states first and restores them afterwards: callers never
see their generators moved. Everything else here is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from .._validate import as_bool, as_generator, as_number, as_positive_int, as_probability, as_seed
from ..head.model import Params


#: The five run seeds of the paper's table.
PAPER_SEEDS = (42, 2024, 1337, 7777, 9999)


# --------------------------------------------------------------------------- the transition matrix
def transition_matrix(n_symbols: int = 8, self_prob: float = 0.3, *, published: bool = True) -> np.ndarray:
    r"""The sticky, circularly local transition matrix of the experiment.

    Parameters
    ----------
    n_symbols : int, default 8
        Number of states ``n >= 2``, arranged on a circle.
    self_prob : float in [0, 1], default 0.3
        The nominal probability of staying put.
    published : bool, default True
        ``True`` reproduces the authors' construction: put ``self_prob`` on the
        diagonal and ``1 / d(i, j)`` off it, with the circular distance
        ``d(i, j) = min(|i - j|, n - |i - j|)``; divide the whole row (diagonal
        included) by its sum; multiply by ``1 - self_prob``; add ``self_prob``
        to the diagonal; renormalise (which changes nothing). Because the
        diagonal's ``self_prob`` joins the first normalisation, the effective
        self-transition is larger than nominal: ``0.3 + 0.7 * 0.3 / 4.2167 =
        0.3498`` for the defaults. ``False`` gives exactly ``self_prob`` on the
        diagonal and spreads ``1 - self_prob`` over the other states in
        proportion to ``1 / d(i, j)``.

    Returns
    -------
    numpy.ndarray, shape (n, n)
        Row-stochastic and circulant (so also doubly stochastic: the
        stationary distribution is uniform).

    Notes
    -----
    Chapter 7, eq. ``sticky-P``; the matrix of the authors' script,
    ``experiments/paper2_gradient/em_vs_sgd_multiseed.py`` in ``vishalmisra/bayesian-wind-tunnel``.

    Examples
    --------
    >>> P = transition_matrix()
    >>> round(float(P[0, 0]), 4), bool(np.allclose(P.sum(axis=1), 1.0))
    (0.3498, True)
    >>> float(transition_matrix(published=False)[3, 3])
    0.3
    >>> transition_matrix(4, 0.5, published=False).round(3)
    array([[0.5, 0.2, 0.1, 0.2],
           [0.2, 0.5, 0.2, 0.1],
           [0.1, 0.2, 0.5, 0.2],
           [0.2, 0.1, 0.2, 0.5]])
    """
    n = as_positive_int(n_symbols, "n_symbols", minimum=2)
    self_prob = as_probability(self_prob, "self_prob")
    published = as_bool(published, "published")
    idx = np.arange(n)  # (n,)
    gap = np.abs(idx[:, None] - idx[None, :])  # (n, n)  |i - j|
    dist = np.minimum(gap, n - gap)  # (n, n)  circular distance, 0 on the diagonal
    inv_dist = np.divide(1.0, dist, out=np.zeros((n, n)), where=dist > 0)  # (n, n)  1/d off the diagonal
    if published:
        w = inv_dist + self_prob * np.eye(n)  # (n, n)  self_prob on the diagonal joins the normalisation
        P = w / w.sum(axis=1, keepdims=True) * (1.0 - self_prob)  # (n, n)
        P = P + self_prob * np.eye(n)  # (n, n)
    else:
        P = inv_dist / inv_dist.sum(axis=1, keepdims=True) * (1.0 - self_prob)  # (n, n)
        P = P + self_prob * np.eye(n)  # (n, n)  exactly self_prob on the diagonal
    return P / P.sum(axis=1, keepdims=True)  # (n, n)  the authors' final renormalisation


def effective_self_transition(n_symbols: int = 8, self_prob: float = 0.3) -> float:
    r"""The diagonal of the authors' transition matrix, in closed form.

    The authors put :math:`\rho` = ``self_prob`` on the diagonal and ``1 / d`` off it, then
    normalise the whole row, so the diagonal keeps a share :math:`\rho / (\rho + D)` of
    the :math:`1 - \rho` that is spread, with ``D = sum_{j != i} 1 / d(i, j)``:

    .. math:: \Pi_{ii} = \rho + (1 - \rho) \frac{\rho}{\rho + D}.

    Parameters
    ----------
    n_symbols : int >= 2
    self_prob : float in [0, 1]

    Notes
    -----
    Chapter 8, eq. ``sticky-diag``. The same number is ``transition_matrix(n, s)[0, 0]``.

    Examples
    --------
    >>> round(effective_self_transition(), 4)
    0.3498
    >>> bool(np.isclose(effective_self_transition(5, 0.6), transition_matrix(5, 0.6)[2, 2]))
    True
    """
    n = as_positive_int(n_symbols, "n_symbols", minimum=2)
    s = as_probability(self_prob, "self_prob")
    dist = np.minimum(np.arange(1, n), n - np.arange(1, n))  # (n-1,)  circular distances from one state
    D = float(np.sum(1.0 / dist))
    return s + (1.0 - s) * s / (s + D)


def row_entropy(P) -> np.ndarray:
    """Entropy in nats of each row of a stochastic matrix, with ``0 log 0 = 0``.

    Examples
    --------
    >>> row_entropy(np.array([[0.5, 0.5], [1.0, 0.0]])).round(4)
    array([0.6931, 0.    ])
    """
    P = np.asarray(P, dtype=np.float64)  # (n, n)
    logP = np.log(P, out=np.zeros_like(P), where=P > 0)  # (n, n)  log 0 := 0
    return 0.0 - (P * logP).sum(axis=1)  # (n,)  (0.0 - x, not -x: no negative zeros)


# --------------------------------------------------------------------------- the one place with global RNG
#: Where the authors' script draws the symbol means, the input noise and the initial weights:
#: ``"cpu"`` (torch's CPU generator, the book's tables) or ``"cuda"`` (the CUDA generator, which
#: the script uses whenever a GPU is present; the chain's states come from the CPU generator in both).
DRAWS = ("cpu", "cuda")


def check_draws(draws) -> str:
    """``draws`` checked: one of :data:`DRAWS`, and ``"cuda"`` only where a CUDA GPU is present.

    Examples
    --------
    >>> check_draws("cpu")
    'cpu'
    >>> check_draws("gpu")
    Traceback (most recent call last):
    ...
    ValueError: draws must be one of ('cpu', 'cuda'), got 'gpu'
    """
    if draws not in DRAWS:
        raise ValueError(f"draws must be one of {DRAWS}, got {draws!r}")
    if draws == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise ValueError(
                "draws='cuda' replays the authors' GPU draws and needs a CUDA GPU; none is available here "
                "(torch.cuda.is_available() is False)"
            )
    return draws


def _replay_authors_rng(
    seed: int,
    *,
    chain: tuple[np.ndarray, int, int, int] | None = None,
    weight_shapes: dict[str, tuple[int, int]] | None = None,
    draws: str = "cpu",
) -> dict:
    """Replay the authors' draws from torch's *global* generator, then restore it.

    This is the only function in attnlib that touches a global generator. It
    exists because the published numbers come from a script that draws from
    torch's global RNG (and seeds numpy's), and replaying them needs the same
    stream. Whatever happens, the caller's torch and numpy global states are
    restored on return.

    Parameters
    ----------
    seed : int
        The run seed.
    chain : (P, T, d_x, embed_seed), optional
        Draw the sticky chain: ``mu`` under ``embed_seed`` (global state saved
        before and restored after, as the authors do), then, under ``seed``,
        the initial state, ``T - 1`` transitions and the noise.
    weight_shapes : dict name -> shape, optional
        Draw ``torch.randn(*shape)`` for each entry, in order, after
        ``torch.manual_seed(seed)``.
    draws : {"cpu", "cuda"}
        With ``"cuda"``, ``mu``, the noise and the weights come from a CUDA
        generator, as in the authors' script on a GPU: ``torch.manual_seed``
        seeds both generators, but the script saves and restores only the CPU
        state around ``mu``, so its noise continues the CUDA stream of
        ``embed_seed`` (the same noise for every run seed), and its weights are
        ``randn_like`` of CUDA tensors after ``torch.manual_seed(seed)``. The
        chain's states come from the CPU generator either way.

    Returns
    -------
    dict of float32 / int64 torch tensors: ``mu (n, d_x)``, ``states (T,)``,
    ``noise (T-1, d_x)`` and ``state_after`` (the generator state that
    follows these draws) for a chain; one entry per weight name otherwise.
    """
    import torch

    # torch.manual_seed would reseed every CUDA generator too, which nothing here restores: seed
    # the CPU generator alone (the same CPU stream; the CUDA draws below use generators of their own)
    cpu_stream = torch.default_generator
    torch_state = torch.get_rng_state()
    numpy_state = np.random.get_state()
    out = {}
    try:
        if chain is not None:
            P, T, d_x, embed_seed = chain
            n = P.shape[0]
            if draws == "cuda":  # the CUDA generator after manual_seed(embed_seed): mu, then (below) the noise
                device_stream = torch.Generator(device="cuda")
                device_stream.manual_seed(embed_seed)
                out["mu"] = torch.randn(n, d_x, device="cuda", generator=device_stream).cpu()  # (n, d_x) float32
            else:
                saved = torch.get_rng_state()  # the authors' "save, seed, draw mu, restore"
                cpu_stream.manual_seed(embed_seed)
                out["mu"] = torch.randn(n, d_x)  # (n, d_x) float32
                torch.set_rng_state(saved)
            cpu_stream.manual_seed(seed)
            np.random.seed(seed)
            P_t = torch.from_numpy(P)  # (n, n) float64, as built (assumption: see sticky_chain)
            states = torch.zeros(T, dtype=torch.long)  # (T,)
            states[0] = torch.randint(0, n, (1,))[0]  # uniform initial state
            for t in range(1, T):
                states[t] = torch.multinomial(P_t[states[t - 1]], 1)[0]  # next state from the current row
            out["states"] = states
            if draws == "cuda":
                out["noise"] = torch.randn(T - 1, d_x, device="cuda", generator=device_stream).cpu()  # (T-1, d_x)
            else:
                out["noise"] = torch.randn(T - 1, d_x)  # (T-1, d_x) float32, one call
            out["state_after"] = torch.get_rng_state()  # where the authors' CPU stream stands after the sequence
        if weight_shapes is not None:
            if draws == "cuda":
                weight_stream = torch.Generator(device="cuda")
                weight_stream.manual_seed(seed)
                for name, shape in weight_shapes.items():
                    out[name] = torch.randn(*shape, device="cuda", generator=weight_stream).cpu()  # float32, in order
            else:
                cpu_stream.manual_seed(seed)
                for name, shape in weight_shapes.items():
                    out[name] = torch.randn(*shape)  # float32, in the given order
        return out
    finally:
        torch.set_rng_state(torch_state)
        np.random.set_state(numpy_state)


# --------------------------------------------------------------------------- the task
@dataclass(frozen=True)
class Task:
    """One sampled sequence of the sticky-chain experiment (arrays are read-only).

    Attributes
    ----------
    X : numpy.ndarray, shape (N, d_x), float64
        Inputs ``x_t = mu[y_{t-1}] + noise``, ``t = 1 .. T-1`` (computed in
        float32 as the authors do, then widened exactly to float64).
    y : numpy.ndarray, shape (N,), int64
        Targets ``y_t``, ``t = 1 .. T-1``: the symbol that follows.
    P : numpy.ndarray, shape (n, n)
        The transition matrix.
    mu : numpy.ndarray, shape (n, d_x)
        Symbol means (float32 draws, widened).
    states : numpy.ndarray, shape (T,), int64
        The whole chain ``y_0 .. y_{T-1}``.
    H_min : float
        Mean over rows of the row entropy of ``P``, in **nats** (the authors'
        script prints it as "bits"; it is computed with the natural log). No
        predictor of ``y_t`` from the past can beat it on average.
    seed : int
        The run seed.
    T, n_symbols, self_prob, d_x, noise, embed_seed, published, draws
        The arguments that made it.
    generator_state : numpy.ndarray of uint8
        The state torch's global generator has in the authors' script right
        after drawing this sequence (what they draw next, e.g. a model's
        initial weights, starts from it); see :mod:`attnlib.dynamics.deep`.
    """

    X: np.ndarray
    y: np.ndarray
    P: np.ndarray
    mu: np.ndarray
    states: np.ndarray
    H_min: float
    seed: int
    T: int
    n_symbols: int
    self_prob: float
    d_x: int
    noise: float
    embed_seed: int
    published: bool
    generator_state: np.ndarray
    draws: str = "cpu"

    @property
    def n_positions(self) -> int:
        """``N = T - 1``, the number of (input, target) pairs."""
        return int(self.X.shape[0])


def sticky_chain(
    seed: int,
    *,
    T: int = 2000,
    n_symbols: int = 8,
    self_prob: float = 0.3,
    d_x: int = 20,
    noise: float = 1.0,
    embed_seed: int = 0,
    published: bool = True,
    draws: str = "cpu",
) -> Task:
    """Sample the sticky-chain sequence of one run seed, replaying the authors' RNG stream.

    Parameters
    ----------
    seed : int in [0, 2**32)
        Run seed (the paper uses 42, 2024, 1337, 7777, 9999).
    T : int, default 2000
        Chain length; the task has ``N = T - 1`` positions (``T >= 2``).
    n_symbols : int, default 8
    self_prob : float in [0, 1], default 0.3
    published : bool, default True
        Passed to :func:`transition_matrix`.
    d_x : int, default 20
        Embedding width.
    noise : float >= 0, default 1.0
        Standard deviation of the input noise (the authors' is 1).
    embed_seed : int, default 0
        Seed of the symbol means, independent of ``seed``.
    draws : {"cpu", "cuda"}, default "cpu"
        Which of the authors' streams to replay (:data:`DRAWS`); ``"cuda"``
        needs a CUDA GPU.

    Returns
    -------
    Task

    Notes
    -----
    Draw order (the authors' script, ``em_vs_sgd_multiseed.py``): ``mu = randn(n, d_x)`` under
    ``torch.manual_seed(embed_seed)`` with the global state saved before and
    restored after; then ``torch.manual_seed(seed)`` and
    ``np.random.seed(seed)``; ``y_0 = torch.randint(0, n, (1,))``; each next
    state ``torch.multinomial(P[y_{t-1}], 1)``; then the noise as a single
    ``torch.randn(T - 1, d_x)``. Both global generators are restored on return.

    The authors' script (``vishalmisra/bayesian-wind-tunnel`` at commit
    670c6d6, ``experiments/paper2_gradient/em_vs_sgd_multiseed.py``) draws in
    this order on a CPU. One difference is kept deliberately: it builds ``P``
    in float32, and here ``P`` reaches ``torch.multinomial`` as the float64
    matrix :func:`transition_matrix` returns. Both draw the same uniforms, and
    the chains differ only if one lands within ~1e-7 of a cumulative boundary:
    for the five paper seeds and their held-out sequences (seed + 10000) they
    are identical, which the tests and a side-by-side run of the script check.
    ``randint`` gets shape ``(1,)``, as there. ``x_t`` is formed in float32
    (``mu[y] + noise * noise_scale``) and widened to float64 exactly.

    Examples
    --------
    >>> task = sticky_chain(42, T=50)
    >>> task.X.shape, task.y.shape, task.states.shape, task.X.dtype, task.y.dtype
    ((49, 20), (49,), (50,), dtype('float64'), dtype('int64'))
    >>> bool(np.array_equal(task.y, task.states[1:]))
    True
    >>> round(task.H_min, 4)
    1.8292
    >>> bool(np.array_equal(sticky_chain(42, T=50).X, task.X))  # reproducible
    True
    """

    seed = as_seed(seed, "seed")
    embed_seed = as_seed(embed_seed, "embed_seed")
    T = as_positive_int(T, "T", minimum=2)
    d_x = as_positive_int(d_x, "d_x")
    noise = as_number(noise, "noise", minimum=0)
    P = transition_matrix(n_symbols, self_prob, published=published)  # (n, n)  validates the rest

    draws_from = check_draws(draws)
    draws = _replay_authors_rng(seed, chain=(P, T, d_x, embed_seed), draws=draws_from)
    states_t = draws["states"]  # (T,)
    noise_t = draws["noise"] if noise == 1.0 else draws["noise"] * noise  # (N, d_x) float32
    X_t = draws["mu"][states_t[:-1]] + noise_t  # (N, d_x) float32  x_t = mu[y_{t-1}] + noise

    def frozen(a: np.ndarray) -> np.ndarray:
        a.flags.writeable = False
        return a

    states = frozen(states_t.numpy().astype(np.int64))  # (T,)
    P.flags.writeable = False
    return Task(
        X=frozen(X_t.numpy().astype(np.float64)),  # (N, d_x)
        y=frozen(states[1:].copy()),  # (N,)
        P=P,
        mu=frozen(draws["mu"].numpy().astype(np.float64)),  # (n, d_x)
        states=states,
        H_min=float(row_entropy(P).mean()),
        seed=seed,
        T=T,
        n_symbols=int(P.shape[0]),
        self_prob=float(self_prob),
        d_x=d_x,
        noise=noise,
        embed_seed=embed_seed,
        published=bool(published),
        generator_state=frozen(draws["state_after"].numpy().copy()),  # (5056,) uint8
        draws=draws_from,
    )


def sample_sequences(task: Task, n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """``n`` new sequences of ``task``'s chain (its ``P``, ``mu``, noise and length), from a numpy generator.

    The book's own sampler, for protocols that need many sequences (fresh
    ones at every step, chapter 11): it does not replay the authors' stream
    and touches no global generator. Each chain starts in a uniform state
    (the chain's stationary distribution), moves by ``P`` (inverse CDF of
    the current row) and shows ``x_t = mu[y_{t-1}] + noise * eps_t``, as
    :func:`sticky_chain` does.

    Parameters
    ----------
    task : Task
        The chain to sample from (only ``P``, ``mu``, ``noise`` and ``T`` are used).
    n : int >= 1
        Number of sequences.
    rng : None, int or numpy.random.Generator
        The source of randomness (:func:`attnlib._validate.as_generator`); a
        Generator moves on.

    Returns
    -------
    X : numpy.ndarray, shape (n, N, d_x), float64
    y : numpy.ndarray, shape (n, N), int64
        ``N = T - 1`` positions, as in ``task``.

    Examples
    --------
    >>> task = sticky_chain(42, T=40)
    >>> X, y = sample_sequences(task, 3, np.random.default_rng(0))
    >>> X.shape, y.shape, y.dtype
    ((3, 39, 20), (3, 39), dtype('int64'))
    >>> bool(np.array_equal(sample_sequences(task, 3, 0)[1], sample_sequences(task, 3, 0)[1]))
    True
    """
    if not isinstance(task, Task):
        raise TypeError(f"task must be an attnlib Task, got {type(task).__name__}")
    n = as_positive_int(n, "n")
    rng = as_generator(rng, "rng")
    S, T = task.n_symbols, task.T
    cumulative = np.cumsum(task.P, axis=1)  # (S, S)
    states = np.empty((n, T), dtype=np.int64)  # (n, T)
    states[:, 0] = rng.integers(0, S, size=n)
    u = rng.random((n, T - 1))  # (n, T-1)
    for t in range(1, T):
        above = u[:, t - 1, None] >= cumulative[states[:, t - 1]]  # (n, S)  rows' CDF entries at or below u
        states[:, t] = np.minimum(above.sum(axis=1), S - 1)  # (n,)  rounding: a CDF that ends below 1
    noise = rng.standard_normal((n, T - 1, task.d_x))  # (n, N, d_x)
    X = task.mu[states[:, :-1]] + task.noise * noise  # (n, N, d_x)
    return X, states[:, 1:].copy()


def authors_initial_params(
    seed: int, d_x: int = 20, d_k: int = 10, d_v: int = 15, n_classes: int = 8, scale: float = 0.1, draws: str = "cpu"
) -> Params:
    """The authors' initial weights: ``torch.manual_seed(seed)``, then ``randn * scale``.

    ``W_Q, W_K, W_V, W_O`` are drawn in that order from torch's global
    generator in float32 (as the authors do) and returned widened to float64
    (from a CUDA generator with ``draws="cuda"``, as the script does on a GPU).
    Both arms of a seed start from these same weights. The caller's global
    RNG states are restored.

    Examples
    --------
    >>> p = authors_initial_params(42)
    >>> p.dims
    {'d_x': 20, 'd_k': 10, 'd_v': 15, 'n_classes': 8}
    >>> bool(np.array_equal(p.W_O, authors_initial_params(42).W_O))
    True
    """
    seed = as_seed(seed, "seed")
    d_x = as_positive_int(d_x, "d_x")
    d_k = as_positive_int(d_k, "d_k")
    d_v = as_positive_int(d_v, "d_v")
    n_classes = as_positive_int(n_classes, "n_classes", minimum=2)
    scale = as_number(scale, "scale", minimum=0)
    shapes = {"W_Q": (d_x, d_k), "W_K": (d_x, d_k), "W_V": (d_x, d_v), "W_O": (d_v, n_classes)}
    draws = _replay_authors_rng(seed, weight_shapes=shapes, draws=check_draws(draws))
    # float32 product, as in the authors' `torch.randn(...) * 0.1`, then widened exactly.
    return Params(**{name: (w * scale).numpy().astype(np.float64) for name, w in draws.items()})


@dataclass(frozen=True)
class ChainConfig:
    """Everything that defines a sticky-chain run besides its seed, checked once when made.

    The one configuration object of the chain experiments (as nanoGPT's
    ``GPTConfig``): the sequence (:func:`sticky_chain`'s arguments) and the
    sizes of the initial weights (:func:`authors_initial_params`). The
    defaults are the paper's. Every experiment that runs on the chain
    (:func:`attnlib.dynamics.paper_table.run_sticky_chain`,
    :class:`attnlib.dynamics.experiments.RunSpec`, the command line) takes one.

    Examples
    --------
    >>> cfg = ChainConfig(T=60)
    >>> cfg.N, cfg.task(42).X.shape, cfg.initial_params(42).dims["d_v"]
    (59, (59, 20), 15)
    >>> round(ChainConfig().effective_self_prob, 4)
    0.3498
    >>> ChainConfig(self_prob=1.5)
    Traceback (most recent call last):
    ...
    ValueError: self_prob must be a finite number in [0, 1], got 1.5
    """

    T: int = 2000
    n_symbols: int = 8
    self_prob: float = 0.3
    published: bool = True
    d_x: int = 20
    noise: float = 1.0
    embed_seed: int = 0
    d_k: int = 10
    d_v: int = 15
    scale: float = 0.1
    draws: str = "cpu"

    def __post_init__(self):
        checked = {
            "T": as_positive_int(self.T, "T", minimum=2),
            "n_symbols": as_positive_int(self.n_symbols, "n_symbols", minimum=2),
            "self_prob": as_probability(self.self_prob, "self_prob"),
            "published": as_bool(self.published, "published"),
            "d_x": as_positive_int(self.d_x, "d_x"),
            "noise": as_number(self.noise, "noise", minimum=0),
            "embed_seed": as_seed(self.embed_seed, "embed_seed"),
            "d_k": as_positive_int(self.d_k, "d_k"),
            "d_v": as_positive_int(self.d_v, "d_v"),
            "scale": as_number(self.scale, "scale", minimum=0),
            "draws": check_draws(self.draws),
        }
        for name, value in checked.items():
            object.__setattr__(self, name, value)

    @property
    def N(self) -> int:
        """Positions of a sequence, ``T - 1``."""
        return self.T - 1

    @property
    def effective_self_prob(self) -> float:
        """The diagonal of the transition matrix this configuration uses."""
        return float(transition_matrix(self.n_symbols, self.self_prob, published=self.published)[0, 0])

    def task(self, seed: int) -> Task:
        """The sequence of one run seed (:func:`sticky_chain`)."""
        return sticky_chain(
            seed, T=self.T, n_symbols=self.n_symbols, self_prob=self.self_prob, d_x=self.d_x,
            noise=self.noise, embed_seed=self.embed_seed, published=self.published, draws=self.draws,
        )  # fmt: skip

    def initial_params(self, seed: int) -> Params:
        """The initial weights of one run seed, shared by its arms (:func:`authors_initial_params`)."""
        return authors_initial_params(
            seed, d_x=self.d_x, d_k=self.d_k, d_v=self.d_v, n_classes=self.n_symbols, scale=self.scale,
            draws=self.draws,
        )  # fmt: skip

    def as_dict(self) -> dict:
        """The fields as a JSON-ready dict."""
        return {f.name: getattr(self, f.name) for f in fields(self)}
