"""A sparse autoencoder (a sparse dictionary of activations), for any chapter that reads features.

A sparse autoencoder (SAE) rewrites an activation vector ``x`` ``[D]`` as a sparse, non-negative
combination of ``F`` learned directions (Bricken et al., 2023; Cunningham et al., 2023):

.. math::

    a = \\sigma\\big(W_\\mathrm{enc} (\\hat x - b_\\mathrm{dec}) + b_\\mathrm{enc}\\big), \\qquad
    \\hat x' = W_\\mathrm{dec}^\\top a + b_\\mathrm{dec},

where ``x_hat = s x`` is the input scaled by one fixed scalar ``s`` so that its mean norm is
``sqrt(D)`` (the reconstruction is divided by ``s`` again). Two activations ``sigma`` are offered:

* ``"topk"`` (Gao et al., 2024, "Scaling and evaluating sparse autoencoders"): keep the
  ``k`` largest pre-activations of each input (after a ReLU), zero the rest; the loss is the
  reconstruction error alone, and ``k`` fixes the sparsity;
* ``"relu"`` with an L1 penalty weighted by the decoder norms (Anthropic's "Towards
  Monosemanticity" update of April 2024): ``L = ||x_hat - x_hat'||^2 + lambda sum_i a_i
  ||W_dec,i||``.

Row ``i`` of ``W_dec`` ``[F, D]`` is feature ``i``'s direction in activation space (the direction
that steering adds). The circuit-tracing chapter's cross-layer transcoder
(:mod:`readingroom.clt.transcoder`) is a relative: it reads one layer and writes to others, with
a JumpReLU; this module is the plain, single-site dictionary.

Shapes: ``N`` activation vectors, ``D`` their width, ``F`` features.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn
from tqdm import tqdm

from readingroom.common.checks import check_choice, check_float, check_int
from readingroom.common.train import progress_enabled

__all__ = ["ACTIVATIONS", "SAEConfig", "SAELoss", "SAEMetrics", "SparseAutoencoder",
           "evaluate_sae", "train_sae"]

ACTIVATIONS = ("topk", "relu")


@dataclass(frozen=True)
class SAEConfig:
    """Sizes and sparsity of a :class:`SparseAutoencoder`.

    Attributes:
        d_in: width ``D`` of the activations.
        n_features: dictionary size ``F``.
        activation: ``"topk"`` or ``"relu"`` (see the module docstring).
        k: active features per input for ``"topk"`` (``1 <= k <= F``; unused by ``"relu"``).
        l1: ``lambda`` of the L1 penalty for ``"relu"`` (ignored by ``"topk"``).
    """

    d_in: int
    n_features: int = 256
    activation: str = "topk"
    k: int = 8
    l1: float = 1e-2

    def __post_init__(self) -> None:
        check_int(self.d_in, "d_in")
        check_int(self.n_features, "n_features")
        check_int(self.k, "k")
        check_choice(self.activation, "activation", ACTIVATIONS)
        if self.activation == "topk" and self.k > self.n_features:
            raise ValueError(f"k must be <= n_features={self.n_features}, got {self.k}")
        check_float(self.l1, "l1", low=0)


@dataclass
class SAELoss:
    """One training loss: ``total`` (the tensor to minimise) and its terms as floats."""

    total: torch.Tensor
    mse: float
    l1: float
    l0: float


@dataclass
class SAEMetrics:
    """How faithful and sparse an SAE is on a set of activations.

    Attributes:
        nmse: ``sum ||x' - x||^2 / sum ||x - mean(x)||^2`` (the share of variance missed).
        l0: mean number of active features per input.
        dead: share of the ``F`` features never active on these inputs.
    """

    nmse: float
    l0: float
    dead: float


class SparseAutoencoder(nn.Module):
    """A single-site sparse autoencoder (see the module docstring).

    Parameters: ``W_enc`` ``[F, D]``, ``b_enc`` ``[F]``, ``W_dec`` ``[F, D]`` (rows of unit norm
    at initialisation; the encoder starts as its transpose, as in Gao et al. 2024), ``b_dec``
    ``[D]``; buffer ``scale`` (the input normaliser ``s``, set by :meth:`set_scale`).
    """

    def __init__(self, config: SAEConfig) -> None:
        super().__init__()
        if not isinstance(config, SAEConfig):
            raise TypeError(f"config must be an SAEConfig, got {type(config).__name__}")
        self.config = config
        D, F = config.d_in, config.n_features
        W = torch.randn(F, D)
        W = W / W.norm(dim=-1, keepdim=True)
        self.W_dec = nn.Parameter(W.clone())
        self.W_enc = nn.Parameter(W.clone())
        self.b_enc = nn.Parameter(torch.zeros(F))
        self.b_dec = nn.Parameter(torch.zeros(D))
        self.register_buffer("scale", torch.ones(()))

    def _check(self, x: object, name: str = "x") -> torch.Tensor:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"{name} must be a floating-point tensor, got {x.dtype}")
        if x.dim() < 1 or x.shape[-1] != self.config.d_in:
            raise ValueError(f"{name} must have shape [..., D={self.config.d_in}], "
                             f"got {tuple(x.shape)}")
        return x

    @torch.no_grad()
    def set_scale(self, x: torch.Tensor) -> float:
        """Fix ``s`` so that the inputs ``x`` ``[N, D]`` have mean norm ``sqrt(D)``; returns it."""
        x = self._check(x)
        norms = x.reshape(-1, x.shape[-1]).norm(dim=-1)
        if norms.numel() == 0 or float(norms.mean()) <= 0:
            raise ValueError("x has no non-zero rows; cannot normalise")
        self.scale.copy_(math.sqrt(self.config.d_in) / norms.mean())
        return float(self.scale)

    def preactivations(self, x: torch.Tensor) -> torch.Tensor:
        """``W_enc (s x - b_dec) + b_enc``: ``[..., D] -> [..., F]``."""
        x = self._check(x)
        return (x * self.scale - self.b_dec) @ self.W_enc.T + self.b_enc

    def activate(self, h: torch.Tensor) -> torch.Tensor:
        """The sparse activations of pre-activations ``h`` ``[..., F]``."""
        h = torch.relu(h)
        if self.config.activation == "relu":
            return h
        top = h.topk(self.config.k, dim=-1)  # the k largest of each row
        return torch.zeros_like(h).scatter(-1, top.indices, top.values)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature activations ``a`` ``[..., F]`` of activations ``x`` ``[..., D]``."""
        return self.activate(self.preactivations(x))

    def decode(self, a: torch.Tensor) -> torch.Tensor:
        """The reconstruction ``(W_dec^T a + b_dec) / s`` ``[..., D]`` in the input's units."""
        if not isinstance(a, torch.Tensor) or a.shape[-1] != self.config.n_features:
            raise ValueError(f"a must have shape [..., F={self.config.n_features}], got "
                             f"{tuple(a.shape) if isinstance(a, torch.Tensor) else type(a)}")
        return (a @ self.W_dec + self.b_dec) / self.scale

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(reconstruction [..., D], activations [..., F])``."""
        a = self.encode(x)
        return self.decode(a), a

    def direction(self, feature: int) -> torch.Tensor:
        """Feature ``feature``'s decoder direction ``W_dec[i] / s`` ``[D]`` in the input's units
        (adding ``c`` times it to ``x`` is what activation ``c`` of the feature reconstructs).
        """
        check_int(feature, "feature", minimum=0)
        if feature >= self.config.n_features:
            raise ValueError(f"feature must be < n_features={self.config.n_features}, "
                             f"got {feature}")
        return (self.W_dec[feature] / self.scale).detach()

    def loss(self, x: torch.Tensor) -> SAELoss:
        """The training loss on a batch ``x`` ``[N, D]``: squared error summed over ``D`` and
        averaged over inputs, in normalised units (plus the weighted L1 for ``"relu"``)."""
        a = self.encode(x)  # checks x
        err = (a @ self.W_dec + self.b_dec) - x * self.scale  # normalised units   [N, D]
        mse = err.pow(2).sum(-1).mean()
        l1 = (a * self.W_dec.norm(dim=-1)).sum(-1).mean()
        total = mse + (self.config.l1 * l1 if self.config.activation == "relu" else 0.0)
        l0 = float((a > 0).float().sum(-1).mean())
        return SAELoss(total, float(mse.detach()), float(l1.detach()), l0)

    def describe(self) -> dict:
        """The config as a dict (for records)."""
        return asdict(self.config)


@torch.no_grad()
def evaluate_sae(sae: SparseAutoencoder, x: torch.Tensor) -> SAEMetrics:
    """Normalised MSE, mean L0 and the dead-feature share of ``sae`` on ``x`` ``[N, D]``."""
    if not isinstance(sae, SparseAutoencoder):
        raise TypeError(f"sae must be a SparseAutoencoder, got {type(sae).__name__}")
    x = sae._check(x).reshape(-1, sae.config.d_in)
    x_hat, a = sae(x)
    var = (x - x.mean(0)).pow(2).sum().clamp_min(1e-12)
    return SAEMetrics(nmse=float((x_hat - x).pow(2).sum() / var),
                      l0=float((a > 0).float().sum(-1).mean()),
                      dead=float((~(a > 0).any(0)).float().mean()))


def train_sae(x: torch.Tensor, config: SAEConfig, *, steps: int = 1000, lr: float = 1e-3,
              batch_size: int = 1024, seed: int = 0, progress: bool = True, desc: str = "SAE"
              ) -> tuple[SparseAutoencoder, list[dict[str, float]]]:
    """Train an SAE on activations ``x`` ``[N, D]`` with Adam on random minibatches.

    Decoder rows are renormalised to unit norm after every step (so that the sparsity of ``a``
    cannot be bought by growing the decoder; for ``"relu"`` the penalty's norm weighting does the
    same job, and the renormalisation keeps the two comparable).

    Returns:
        ``(sae, log)``: the trained SAE (eval mode) and one dict per step (``total, mse, l1,
        l0``).
    """
    if not isinstance(config, SAEConfig):
        raise TypeError(f"config must be an SAEConfig, got {type(config).__name__}")
    if not isinstance(x, torch.Tensor) or not x.dtype.is_floating_point:
        raise TypeError("x must be a floating-point tensor [N, D]")
    if x.dim() != 2 or x.shape[1] != config.d_in or x.shape[0] < 1:
        raise ValueError(f"x must have shape [N >= 1, D={config.d_in}], got {tuple(x.shape)}")
    check_int(steps, "steps")
    check_int(batch_size, "batch_size")
    check_int(seed, "seed", minimum=0)
    check_float(lr, "lr", low=0, low_open=True)
    x = x.detach()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        sae = SparseAutoencoder(config).to(device=x.device, dtype=x.dtype)
    sae.set_scale(x)
    with torch.no_grad():  # start the decoder bias at the (normalised) mean input
        sae.b_dec.copy_((x * sae.scale).mean(0))
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(sae.parameters(), lr=lr)
    log: list[dict[str, float]] = []
    sae.train()
    bar = tqdm(range(steps), desc=desc, mininterval=0.5, disable=not progress_enabled(progress))
    for step in bar:
        idx = torch.randint(0, x.shape[0], (min(batch_size, x.shape[0]),),
                            generator=generator).to(x.device)
        terms = sae.loss(x[idx])
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        with torch.no_grad():
            sae.W_dec.div_(sae.W_dec.norm(dim=-1, keepdim=True).clamp_min(1e-8))
        log.append({"total": float(terms.total.detach()), "mse": terms.mse, "l1": terms.l1,
                    "l0": terms.l0})
        if step % 50 == 0:
            bar.set_postfix(mse=f"{terms.mse:.3f}", l0=f"{terms.l0:.1f}", refresh=False)
    bar.close()
    return sae.eval(), log
