"""Spectral clustering of samples from their cosine-similarity matrix, over a sweep of cluster counts.

Michaud et al. 2023 ("The Quantization Model of Neural Scaling", §5, "quanta discovery from
gradients") cluster samples with scikit-learn's ``SpectralClustering(affinity="precomputed")`` on the
angular affinity

    A_ij = 1 - arccos(C_ij) / π        (C clipped to [-1, 1]; A in [0, 1], A = 1/2 for orthogonal)

where ``C`` is the cosine similarity of the samples' gradients (``kind="signed"``, the default).
``kind="abs"`` uses ``|C|`` instead: ``1 - arccos(|C|) / π``, the angle between the lines the two
gradients span, in [1/2, 1]. Anti-parallel gradients then count as parallel: with a two-class
cross-entropy the gradient of a low-loss sample is ``-(1 - p_y)`` times the gradient of its signed
margin ``±(z_1 - z_0)``, so two samples that use the same computation but carry opposite labels have
anti-parallel gradients, and the signed affinity (0 for them) pushes them apart.
``SpectralClustering(k)`` computes a
``k``-column spectral embedding of ``A`` (the first ``k`` eigenvectors of its normalized Laplacian)
and runs k-means on it. A sweep over ``k`` would recompute that embedding for every ``k``, the
dearest step (an eigenproblem on a dense ``n x n`` matrix); :func:`spectral_sweep` computes it once
with ``max(k)`` columns and runs each ``k``'s k-means on its first ``k`` columns, from the random
state ``SpectralClustering`` would hand its k-means. With the ``arpack`` solver (whose start vector
does not depend on ``k``) each ``k``'s labels equal ``SpectralClustering(n_clusters=k,
affinity="precomputed", random_state=seed)``'s (``tests/unit/test_qdg.py`` checks it).

>>> import numpy as np
>>> C = np.array([[1.0, 0.9, -0.2], [0.9, 1.0, 0.0], [-0.2, 0.0, 1.0]])
>>> angular_affinity(C)[0].round(3).tolist()
[1.0, 0.856, 0.436]
>>> angular_affinity(C, "abs")[0].round(3).tolist()
[1.0, 0.856, 0.564]
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

__all__ = ["AFFINITIES", "EIGEN_SOLVERS", "adjusted_rand", "angular_affinity", "homogeneity", "spectral_sweep"]

EIGEN_SOLVERS = ("arpack", "lobpcg")  # scikit-learn's spectral_embedding solvers that need no extra package
AFFINITIES = ("signed", "abs")  # 1 - arccos(C)/π (Michaud et al. 2023) or 1 - arccos(|C|)/π (sign-blind)


def angular_affinity(C, kind: str = "signed") -> np.ndarray:
    """``1 - arccos(clip(C, -1, 1)) / π`` (``kind="signed"``) or ``1 - arccos(|C|) / π`` (``"abs"``)
    as float64 ``[n, n]`` from a torch tensor or array ``C``."""
    if kind not in AFFINITIES:
        raise ValueError(f"kind={kind!r}: must be one of {', '.join(AFFINITIES)}")
    A = torch.as_tensor(C).to(torch.float64, copy=True)  # [n, n]; sklearn works in float64 anyway
    A.clamp_(-1.0, 1.0)
    if kind == "abs":
        A.abs_()
    A.acos_().mul_(-1.0 / math.pi).add_(1.0)
    return A.numpy()


def spectral_sweep(affinity: np.ndarray, ks, *, eigen_solver: str = "arpack", seed: int = 0,
                   n_init: int = 10) -> tuple[dict[int, np.ndarray], dict[str, float]]:
    """Spectral clustering of a precomputed affinity ``[n, n]`` for every ``k`` in ``ks``.

    Returns ``({k: labels int64 [n]}, {"embedding_s": ..., "kmeans_s": ...})``. One spectral
    embedding with ``max(ks)`` columns (scikit-learn's ``spectral_embedding``, normalized
    Laplacian, first eigenvector kept, as ``SpectralClustering`` calls it), then per ``k``
    scikit-learn's ``k_means`` with ``n_init`` restarts on its first ``k`` columns.
    """
    from sklearn.cluster import k_means
    from sklearn.manifold import spectral_embedding

    ks = sorted({int(k) for k in ks})
    rs = np.random.RandomState(seed)  # SpectralClustering: check_random_state(random_state), shared by both steps
    t0 = time.perf_counter()
    maps = spectral_embedding(affinity, n_components=ks[-1], eigen_solver=eigen_solver, random_state=rs,
                              drop_first=False)  # [n, max k]
    t1 = time.perf_counter()
    state = rs.get_state()  # what SpectralClustering's k-means would start from (arpack draws n numbers, whatever k)
    out = {}
    for k in ks:
        rs_k = np.random.RandomState()
        rs_k.set_state(state)
        _, labels, _ = k_means(maps[:, :k], k, random_state=rs_k, n_init=n_init)
        out[k] = labels.astype(np.int64)
    return out, {"embedding_s": t1 - t0, "kmeans_s": time.perf_counter() - t1}


def adjusted_rand(truth, labels) -> float:
    """Adjusted Rand index (Hubert & Arabie 1985) between two labelings; scikit-learn's definition."""
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(np.asarray(truth), np.asarray(labels)))


def homogeneity(truth, labels) -> float:
    """Homogeneity of clusters with respect to the truth, 1 - H(truth | cluster) / H(truth) (Rosenberg &
    Hirschberg 2007; scikit-learn's definition): 1 when no cluster holds samples of two truth groups,
    whatever the number of clusters (clusters that refine the truth), 0 when every cluster has the
    truth's proportions."""
    from sklearn.metrics import homogeneity_score

    return float(homogeneity_score(np.asarray(truth), np.asarray(labels)))
