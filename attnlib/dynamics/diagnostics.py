r"""Diagnostics of a trained head (chapters 9 and 10): pure functions of arrays.

The measurements Paper I (Agarwal et al., *The Bayesian geometry of transformer
attention*) makes on a trained head, and the ones the book adds to compare a
head with the exact Bayesian predictor:

* routing: compatibility :math:`b_{ij} = u_i\cdot v_j` (:func:`compatibility`);
  the attention's entropy is :func:`attnlib.head.entropy.attention_entropy`,
  its column usage :func:`attnlib.laws.responsibility.column_usage` and the
  advantage :func:`attnlib.laws.routing.advantage`;
* value geometry: :func:`value_pca`, :func:`effective_dimension`,
  :func:`value_norm_growth`, and key geometry :func:`key_orthogonality`;
* what a coordinate encodes: :func:`correlation_ratio` (how much of a
  coordinate's variance a categorical variable explains) and
  :func:`circular_mode_share` (whether category centroids sit on a ring in
  the categories' circular order);
* predictive distributions: :func:`predictive_entropy_bits`,
  :func:`entropy_mae_bits`.

Dimension names in shape comments: ``N`` positions (rows), ``C`` classes or
keys (columns of a distribution), ``d_v`` value width, ``d_k`` key width,
``k`` principal components, ``n_snap`` snapshots.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import as_distribution_rows, as_float_array, as_float_matrix, as_number
from ..head.entropy import entropy_nats

# --------------------------------------------------------------------------- distributions


def predictive_entropy_bits(p) -> np.ndarray:
    r"""Entropy in bits of every predictive row: :math:`H(p_i) = -\sum_c p_{ic}\log_2 p_{ic}`.

    Parameters
    ----------
    p : array_like, shape (N, C)
        One predictive distribution per position (non-negative rows summing
        to 1 within 1e-6).

    Returns
    -------
    numpy.ndarray, shape (N,)
        Between 0 and :math:`\log_2 C` bits.

    Examples
    --------
    >>> predictive_entropy_bits([[0.5, 0.5, 0.0, 0.0], [0.25, 0.25, 0.25, 0.25]])
    array([1., 2.])
    """
    p = as_distribution_rows(p, "p", matrix=True)
    return entropy_nats(p) / np.log(2.0)  # (N,)


def entropy_mae_bits(p, q) -> float:
    r"""Mean absolute difference of predictive entropies, in bits: :math:`\frac1N\sum_i |H(p_i) - H(q_i)|`.

    Paper II's "entropy MAE": how far a model's uncertainty is from the
    Bayesian posterior's, position by position. It compares entropies only,
    so two different distributions with equal entropy score 0; use a
    cross-entropy or KL divergence to compare the distributions themselves.

    Parameters
    ----------
    p, q : array_like, shape (N, C)
        Two predictive distributions per position (rows summing to 1 within 1e-6).

    Returns
    -------
    float
        Non-negative and symmetric in ``p`` and ``q``; zero when ``p == q``.

    Examples
    --------
    >>> entropy_mae_bits([[0.5, 0.5], [1.0, 0.0]], [[1.0, 0.0], [1.0, 0.0]])
    0.5
    """
    p = as_distribution_rows(p, "p", matrix=True)
    q = as_distribution_rows(q, "q", matrix=True)
    if q.shape != p.shape:
        raise ValueError(f"q must have the shape of p {p.shape}, got {q.shape}")
    gap = np.abs(entropy_nats(p) - entropy_nats(q)) / np.log(2.0)  # (N,)
    return float(gap.mean())


# --------------------------------------------------------------------------- routing
def compatibility(U, V) -> np.ndarray:
    r"""Compatibility of every query's error signal with every value: :math:`b_{ij} = u_i \cdot v_j`.

    Parameters
    ----------
    U : array_like, shape (N, d_v)
        Upstream gradients :math:`u_i = \partial L/\partial o_i`.
    V : array_like, shape (M, d_v)
        Values :math:`v_j`.

    Returns
    -------
    numpy.ndarray, shape (N, M)
        :math:`b = U V^\top`; :math:`b_{ij} = \partial L/\partial\alpha_{ij}` (chapter 3).

    Examples
    --------
    >>> compatibility([[1.0, 0.0], [0.0, 2.0]], [[1.0, 1.0], [3.0, -1.0]])
    array([[ 1.,  3.],
           [ 2., -2.]])
    """
    U = as_float_matrix(U, "U")
    V = as_float_matrix(V, "V")
    if V.shape[1] != U.shape[1]:
        raise ValueError(f"U and V must have the same width d_v, got shapes {U.shape} and {V.shape}")
    return U @ V.T  # (N, M)


# --------------------------------------------------------------------------- value geometry
def value_norm_growth(value_snapshots) -> np.ndarray:
    r"""Mean value norm per snapshot, relative to the first snapshot.

    .. math:: \Lambda_s = \frac{\frac1N\sum_j \lVert v^{(s)}_j\rVert_2}{\frac1N\sum_j \lVert v^{(0)}_j\rVert_2},

    the mean Euclidean norm of the ``N`` value rows at snapshot ``s`` divided
    by the same mean at snapshot 0 (so :math:`g_0 = 1`).

    Parameters
    ----------
    value_snapshots : array_like, shape (n_snap, N, d_v)
        The values :math:`V^{(s)} = X W_V^{(s)}` at each snapshot, e.g.
        ``History.value_snapshots``.

    Returns
    -------
    numpy.ndarray, shape (n_snap,)

    Raises
    ------
    ValueError
        One line, if the input is not 3-D or all values at the first snapshot are zero.

    Examples
    --------
    >>> V0 = np.array([[3.0, 4.0], [0.0, 1.0]])  # norms 5 and 1: mean 3
    >>> value_norm_growth(np.stack([V0, 2 * V0, [[6.0, 0.0], [0.0, 0.0]]]))
    array([1., 2., 1.])
    """
    snaps = as_float_array(value_snapshots, "value_snapshots", ndim=3)
    if snaps.shape[0] == 0 or snaps.shape[1] == 0:
        raise ValueError(f"value_snapshots must hold at least one snapshot of at least one value, got shape {snaps.shape}")
    mean_norm = np.linalg.norm(snaps, axis=2).mean(axis=1)  # (n_snap,)
    if mean_norm[0] == 0:
        raise ValueError("value_snapshots[0] is all zeros: the growth relative to it is undefined")
    return mean_norm / mean_norm[0]  # (n_snap,)


@dataclass(frozen=True)
class PCA:
    """Principal components of a cloud of rows (the result of :func:`value_pca`).

    Attributes
    ----------
    components : numpy.ndarray, shape (k, d_v)
        Orthonormal principal directions, largest variance first,
        ``k = min(N, d_v)``. Sign convention: the entry of largest magnitude
        of every component is positive (so results are reproducible).
    explained_variance_ratio : numpy.ndarray, shape (k,)
        Share of the total variance along each direction; sums to 1.
    scores : numpy.ndarray, shape (N, k)
        Coordinates of the centred rows on the components: ``(V - mean) @ components.T``.
    mean : numpy.ndarray, shape (d_v,)
        The mean row that was subtracted.
    """

    components: np.ndarray
    explained_variance_ratio: np.ndarray
    scores: np.ndarray
    mean: np.ndarray


def value_pca(V) -> PCA:
    r"""PCA of the value vectors by an SVD of the centred matrix.

    With :math:`\bar v = \frac1N\sum_j v_j` and :math:`V - \mathbf 1\bar v = U S W^\top`
    (thin SVD), the components are the rows of :math:`W^\top`, the explained
    variance ratios :math:`s_k^2/\sum_l s_l^2`, and the scores :math:`U S`.

    Parameters
    ----------
    V : array_like, shape (N, d_v)
        One row per value (or any cloud of points), ``N >= 2``.

    Returns
    -------
    PCA

    Raises
    ------
    ValueError
        One line, if ``N < 2`` or all rows are equal (no variance to explain).

    Examples
    --------
    >>> V = np.array([[1.0, 0.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.5, 0.0], [0.0, -0.5, 0.0]])
    >>> pca = value_pca(V)
    >>> pca.explained_variance_ratio.round(3)
    array([0.8, 0.2, 0. ])
    >>> pca.components[:2].round(3)
    array([[1., 0., 0.],
           [0., 1., 0.]])
    >>> effective_dimension(pca.explained_variance_ratio)
    2
    """
    V = as_float_matrix(V, "V")
    if V.shape[0] < 2 or V.shape[1] == 0:
        raise ValueError(f"V must have at least 2 rows and 1 column for a PCA, got shape {V.shape}")
    mean = V.mean(axis=0)  # (d_v,)
    centred = V - mean  # (N, d_v)
    left, sing, right_t = np.linalg.svd(centred, full_matrices=False)  # (N, k), (k,), (k, d_v)
    total = float((sing**2).sum())
    if total <= 1e-300 or sing[0] <= 1e-12 * np.abs(V).max():
        raise ValueError(f"V has no variance (all {V.shape[0]} rows are equal): its PCA is undefined")
    flip = np.sign(right_t[np.arange(right_t.shape[0]), np.abs(right_t).argmax(axis=1)])  # (k,)
    flip[flip == 0] = 1.0
    components = right_t * flip[:, None]  # (k, d_v)
    scores = left * (sing * flip)[None, :]  # (N, k)  = centred @ components.T
    ratio = sing**2 / total  # (k,)
    return PCA(components=components, explained_variance_ratio=ratio, scores=scores, mean=mean)


def effective_dimension(ratios, threshold: float = 0.95) -> int:
    r"""Smallest number of components whose cumulative explained-variance ratio reaches ``threshold``.

    .. math:: d_{\mathrm{eff}} = \min\Bigl\{k : \sum_{l \le k} r_l \ge \tau\Bigr\}

    (with a 1e-12 slack, so a rank-``r`` cloud whose ratios sum to 1 up to
    rounding gives ``r`` at ``threshold=1``).

    Parameters
    ----------
    ratios : array_like, shape (k,)
        Explained-variance ratios in decreasing order (non-negative, summing
        to at most 1), e.g. ``value_pca(V).explained_variance_ratio``.
    threshold : float, default 0.95
        In ``(0, 1]``.

    Returns
    -------
    int
        Between 1 and ``k``.

    Examples
    --------
    >>> effective_dimension([0.6, 0.3, 0.05, 0.05])
    3
    >>> effective_dimension([0.6, 0.3, 0.05, 0.05], threshold=0.9)
    2
    """
    ratios = as_float_array(ratios, "ratios", ndim=1)
    if ratios.size == 0 or ratios.min() < 0 or ratios.sum() > 1 + 1e-9:
        raise ValueError(f"ratios must be non-negative and sum to at most 1, got {ratios.size} values summing to {ratios.sum():.6g}")
    threshold = as_number(threshold, "threshold", minimum=0, exclusive=True, maximum=1)
    reached = np.cumsum(ratios) >= threshold - 1e-12  # (k,)
    if not reached.any():
        raise ValueError(f"the ratios sum to {ratios.sum():.6g} and never reach threshold {threshold}")
    return int(np.argmax(reached)) + 1


def key_orthogonality(K) -> float:
    r"""Mean absolute cosine between distinct rows of ``K``.

    .. math:: \frac{1}{N(N-1)}\sum_{i \ne j} \frac{|k_i\cdot k_j|}{\lVert k_i\rVert\,\lVert k_j\rVert}

    0 when the rows are mutually orthogonal, 1 when they are all parallel (or
    anti-parallel). A zero row has no direction, so it is an error (one line
    naming the row), not a silently skipped pair.

    Parameters
    ----------
    K : array_like, shape (N, d_k)
        Keys (or any rows), ``N >= 2``, no zero row.

    Returns
    -------
    float

    Examples
    --------
    >>> key_orthogonality(np.eye(3))
    0.0
    >>> key_orthogonality([[1.0, 0.0], [1.0, 1.0]]).__round__(4)
    0.7071
    """
    K = as_float_matrix(K, "K")
    if K.shape[0] < 2:
        raise ValueError(f"K must have at least 2 rows to compare, got shape {K.shape}")
    norms = np.linalg.norm(K, axis=1)  # (N,)
    if np.any(norms == 0):
        raise ValueError(f"K has a zero row (row {int(np.argmin(norms))}): its direction, hence its cosine, is undefined")
    unit = K / norms[:, None]  # (N, d_k)
    cos = np.abs(unit @ unit.T)  # (N, N)
    n = K.shape[0]
    off = cos.sum() - np.trace(cos)
    return float(min(off / (n * (n - 1)), 1.0))


# --------------------------------------------------------------------------- what a coordinate encodes
def correlation_ratio(z, groups) -> float:
    r"""Share of the variance of ``z`` explained by a categorical variable: :math:`R^2` (chapter 9's correlation ratio).

    .. math:: R^2 = \frac{\sum_g n_g (\bar z_g - \bar z)^2}{\sum_i (z_i - \bar z)^2},

    the between-group sum of squares over the total (Pearson's correlation
    ratio). It is 1 when ``z`` is constant within every group and 0 when all
    group means are equal; for a linear coding of two groups it is the
    squared correlation.

    Parameters
    ----------
    z : array_like, shape (N,)
        A coordinate, e.g. the PC1 scores of the values.
    groups : array_like of int, shape (N,)
        The category of each point, e.g. the previous symbol.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> correlation_ratio([1.0, 1.0, 3.0, 3.0], [0, 0, 1, 1])
    1.0
    >>> correlation_ratio([1.0, 3.0, 1.0, 3.0], [0, 0, 1, 1])
    0.0
    """
    z = as_float_array(z, "z", ndim=1)
    groups = np.asarray(groups)
    if groups.shape != z.shape or not np.issubdtype(groups.dtype, np.integer):
        raise ValueError(f"groups must hold one integer category per entry of z {z.shape}, got {groups.dtype} {groups.shape}")
    centred = z - z.mean()  # (N,)
    total = float((centred**2).sum())
    if total == 0:
        raise ValueError("z is constant: its variance, hence the share explained, is undefined")
    _, index, counts = np.unique(groups, return_inverse=True, return_counts=True)
    means = np.bincount(index, weights=centred) / counts  # (G,)  group means of the centred z
    return float(min((counts * means**2).sum() / total, 1.0))


def circular_mode_share(centroids) -> float:
    r"""How much of the spread of ``n`` ordered centroids is one turn around a ring.

    For centroids :math:`c_0, \dots, c_{n-1}` of categories arranged on a
    circle (e.g. the eight symbols of the sticky chain), take the discrete
    Fourier transform along the category axis,
    :math:`\hat c_k = \sum_s c_s e^{-2\pi i k s/n}`, and return the share of
    the spread in the first harmonic pair:

    .. math:: \rho = \frac{\lVert \hat c_1\rVert^2 + \lVert \hat c_{n-1}\rVert^2}{\sum_{k=1}^{n-1} \lVert \hat c_k\rVert^2} .

    :math:`\rho = 1` for centroids on an ellipse visited once in the circular
    order, :math:`\rho = 0` when that harmonic is absent. Centroids in a random
    order have :math:`\mathbb E\rho \approx 2/(n-1)` (two of the
    :math:`n - 1` non-constant harmonics).

    Parameters
    ----------
    centroids : array_like, shape (n, d)
        One row per category, in circular order, ``n >= 3``.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> angle = 2 * np.pi * np.arange(8) / 8
    >>> round(circular_mode_share(np.c_[np.cos(angle), 2 * np.sin(angle)]), 6)
    1.0
    >>> round(circular_mode_share(np.c_[np.cos(2 * angle), np.sin(2 * angle)]), 6)  # twice around
    0.0
    """
    C = as_float_matrix(centroids, "centroids")
    if C.shape[0] < 3:
        raise ValueError(f"centroids must have at least 3 rows (categories on a circle), got shape {C.shape}")
    power = (np.abs(np.fft.fft(C - C.mean(axis=0), axis=0)) ** 2).sum(axis=1)  # (n,)  ||c_k hat||^2
    total = float(power[1:].sum())
    if total <= 1e-300:
        raise ValueError("all centroids are equal: there is no spread to split into harmonics")
    return float((power[1] + power[-1]) / total)
