"""The cross-layer transcoder (Ameisen et al., 2025, §"Building an interpretable replacement model").

Layer ``l`` has ``F`` features. Each reads the (normalised) residual stream ``x_l`` before the
layer's MLP and writes, through its own decoder per target layer, to the MLP outputs of layer
``l`` and of *every later layer*:

.. math::

    a_l = \\mathrm{JumpReLU}_\\theta(W_\\mathrm{enc}^{l} x_l + b_\\mathrm{enc}^{l}), \\qquad
    \\hat y_l = \\sum_{l' \\le l} W_\\mathrm{dec}^{l' \\to l}\\, a_{l'} + b_\\mathrm{dec}^{l}.

Training minimises (paper's loss, with the pre-activation term of Anthropic's January 2025
update against dead features)

.. math::

    \\mathcal L = \\sum_l \\lVert \\hat y_l - y_l \\rVert^2
      + \\lambda \\sum_{l,i} \\tanh\\!\\big(c\\, \\lVert W_{\\mathrm{dec},i}^{l} \\rVert\\, a_{l,i}\\big)
      + \\lambda_p \\sum_{l,i} \\mathrm{ReLU}(\\theta_{l,i} - h_{l,i})\\, \\lVert W_{\\mathrm{dec},i}^{l} \\rVert,

where :math:`\\lVert W_{\\mathrm{dec},i}^{l}\\rVert` is the norm of the concatenation of feature
``i``'s decoders over all the layers it writes to and ``h`` is the pre-activation. ``\\lambda``
ramps linearly from 0 during training. The threshold ``theta`` of the JumpReLU is learned through a
straight-through estimator with a rectangle kernel of bandwidth ``epsilon`` (Rajamanoharan et al.,
2024, Eq. 11).

Inputs and targets are normalised per layer by one fixed scalar each, so that their mean norm is
``sqrt(D)``; the scalars are buffers of the module (:meth:`CrossLayerTranscoder.set_scales`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import torch
from torch import nn
from tqdm import tqdm

from readingroom.common.checks import check_bool, check_float, check_int, check_seed

__all__ = [
    "CLTConfig",
    "JumpReLU",
    "jump_relu",
    "CrossLayerTranscoder",
    "CLTLoss",
    "CLTMetrics",
    "train_clt",
    "evaluate_clt",
]


@dataclass
class CLTConfig:
    """Sizes and loss coefficients of a :class:`CrossLayerTranscoder`.

    Attributes:
        n_layers: number of layers ``L`` of the model it replaces.
        d_model: width ``D`` of the residual stream.
        n_features: features ``F`` per layer (``L * F`` in all).
        sparsity: ``lambda``, the final coefficient of the tanh sparsity penalty.
        c: the sharpness ``c`` inside the tanh.
        preact: ``lambda_p``, the coefficient of the pre-activation penalty (0 disables it).
        bandwidth: ``epsilon``, the width of the straight-through estimator's kernel.
        threshold_init: the initial JumpReLU threshold ``theta``.
        cross_layer: ``True`` for the paper's CLT (a feature writes to its layer and every later
            one); ``False`` for a per-layer transcoder (PLT), whose features write to their own
            layer only.
    """

    n_layers: int
    d_model: int
    n_features: int = 64
    sparsity: float = 0.3
    c: float = 4.0
    preact: float = 3e-4
    bandwidth: float = 0.1
    threshold_init: float = 0.1
    cross_layer: bool = True

    def __post_init__(self) -> None:
        check_int(self.n_layers, "n_layers", minimum=1)
        check_int(self.d_model, "d_model", minimum=1)
        check_int(self.n_features, "n_features", minimum=1)
        check_bool(self.cross_layer, "cross_layer")
        for name, positive in (("sparsity", False), ("c", True), ("preact", False),
                               ("bandwidth", True), ("threshold_init", True)):
            check_float(getattr(self, name), name, low=0, low_open=positive)


class JumpReLU(torch.autograd.Function):
    """``a = h * H(h - theta)`` with a straight-through gradient for ``theta``.

    The forward pass is exact. Backwards, ``da/dh = H(h - theta)`` and, with the rectangle kernel
    ``K(u) = 1[|u| < 1/2]``, ``da/dtheta = -(theta / epsilon) K((h - theta) / epsilon)``
    (Rajamanoharan et al., 2024, Eq. 11): the threshold feels the loss only from pre-activations
    within ``epsilon / 2`` of it.
    """

    @staticmethod
    def forward(ctx, h: torch.Tensor, theta: torch.Tensor, epsilon: float) -> torch.Tensor:
        ctx.save_for_backward(h, theta)
        ctx.epsilon = epsilon
        return h * (h > theta).to(h.dtype)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        h, theta = ctx.saved_tensors
        eps = ctx.epsilon
        grad_h = grad * (h > theta).to(h.dtype)
        kernel = ((h - theta).abs() < eps / 2).to(h.dtype)
        grad_theta = -(theta / eps) * kernel * grad
        grad_theta = grad_theta.reshape(-1, theta.shape[-1]).sum(0).reshape(theta.shape)
        return grad_h, grad_theta, None


def jump_relu(h: torch.Tensor, theta: torch.Tensor, epsilon: float) -> torch.Tensor:
    """:class:`JumpReLU` with checks: ``theta`` broadcasts over ``h``'s last dimension."""
    if theta.dim() != 1 or theta.shape[0] != h.shape[-1]:
        raise ValueError(f"theta must have shape [{h.shape[-1]}], got {tuple(theta.shape)}")
    return JumpReLU.apply(h, theta, epsilon)


@dataclass
class CLTLoss:
    """The terms of one training loss (floats), and ``total`` as the tensor to minimise."""

    total: torch.Tensor
    mse: float
    sparsity: float
    preact: float
    l0: float


class CrossLayerTranscoder(nn.Module):
    """A cross-layer transcoder for an ``L``-layer model of width ``D`` (see the module docstring).

    Parameters (in normalised units):
        ``W_enc[l]`` ``[F, D]``, ``b_enc[l]`` ``[F]``, ``log_theta[l]`` ``[F]``;
        ``W_dec[l]`` ``[F, L - l, D]``: feature ``(l, i)``'s decoder to layer ``l + k`` is
        ``W_dec[l][i, k]`` (``[F, 1, D]`` for a per-layer transcoder); ``b_dec`` ``[L, D]``.
    """

    def __init__(self, config: CLTConfig) -> None:
        super().__init__()
        if not isinstance(config, CLTConfig):
            raise TypeError(f"config must be a CLTConfig, got {type(config).__name__}")
        self.config = config
        L, D, F = config.n_layers, config.d_model, config.n_features
        # Initialisation as in Anthropic's CLT write-up: U(+-1/sqrt(F)) encoders,
        # U(+-1/sqrt(L D)) decoders.
        self.W_enc = nn.Parameter(torch.empty(L, F, D).uniform_(-1 / math.sqrt(F), 1 / math.sqrt(F)))
        self.b_enc = nn.Parameter(torch.zeros(L, F))
        self.log_theta = nn.Parameter(torch.full((L, F), math.log(config.threshold_init)))
        bound = 1 / math.sqrt(L * D)
        self.W_dec = nn.ParameterList(
            nn.Parameter(torch.empty(F, L - l if config.cross_layer else 1, D)
                         .uniform_(-bound, bound))
            for l in range(L)
        )
        self.b_dec = nn.Parameter(torch.zeros(L, D))
        self.register_buffer("in_scale", torch.ones(L))
        self.register_buffer("out_scale", torch.ones(L))

    # -- shapes and normalisation -------------------------------------------------------------

    def _check(self, t: torch.Tensor, name: str) -> None:
        L, D = self.config.n_layers, self.config.d_model
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.dim() < 2 or t.shape[0] != L or t.shape[-1] != D:
            raise ValueError(f"{name} must have shape [L={L}, ..., D={D}], got {tuple(t.shape)}")
        if not t.dtype.is_floating_point:
            raise TypeError(f"{name} must be a floating-point tensor, got {t.dtype}")

    @torch.no_grad()
    def set_scales(self, x: torch.Tensor, y: torch.Tensor) -> None:
        """Fix the per-layer normalisers so that inputs and targets have mean norm ``sqrt(D)``."""
        self._check(x, "x")
        self._check(y, "y")
        D = self.config.d_model
        for name, t in (("in_scale", x), ("out_scale", y)):
            norms = t.reshape(t.shape[0], -1, D).norm(dim=-1).mean(-1)  # [L]
            if (norms <= 0).any():
                raise ValueError(f"{name}: a layer's activations are all zero; cannot normalise")
            getattr(self, name).copy_(math.sqrt(D) / norms)

    @property
    def theta(self) -> torch.Tensor:
        """The JumpReLU thresholds ``[L, F]``."""
        return self.log_theta.exp()

    def decoder_norms(self) -> torch.Tensor:
        """``||W_dec,i||`` over the concatenation of each feature's decoders: ``[L, F]``."""
        return torch.stack([w.flatten(1).norm(dim=-1) for w in self.W_dec])

    # -- the map -----------------------------------------------------------------------------

    def preactivations(self, x: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """``h = W_enc x_hat + b_enc`` for inputs ``x`` in model units.

        ``x`` is ``[L, ..., D]`` (all layers) or, with ``layer``, ``[..., D]`` for that layer.
        Returns ``[L, ..., F]`` or ``[..., F]``.
        """
        if layer is not None:
            x_hat = x * self.in_scale[layer]
            return x_hat @ self.W_enc[layer].T + self.b_enc[layer]
        self._check(x, "x")
        shape = x.shape
        x_hat = x.reshape(shape[0], -1, shape[-1]) * self.in_scale[:, None, None]  # [L, N, D]
        h = torch.bmm(x_hat, self.W_enc.transpose(1, 2)) + self.b_enc[:, None]  # [L, N, F]
        return h.reshape(*shape[:-1], -1)

    def activate(self, h: torch.Tensor, layer: int | None = None) -> torch.Tensor:
        """JumpReLU of pre-activations (all layers ``[L, ..., F]`` or one layer ``[..., F]``)."""
        eps = self.config.bandwidth
        if layer is not None:
            return jump_relu(h, self.theta[layer], eps)
        return torch.stack([jump_relu(h[l], self.theta[l], eps) for l in range(h.shape[0])])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Feature activations ``a`` ``[L, ..., F]`` of inputs ``x`` ``[L, ..., D]`` (model units)."""
        return self.activate(self.preactivations(x))

    def decode_layer(self, a: Sequence[torch.Tensor] | torch.Tensor, layer: int) -> torch.Tensor:
        """Reconstruction of layer ``layer``'s MLP output in model units, from the activations
        ``a[l']`` ``[..., F]`` of layers ``l' <= layer``: ``(sum_l' W_dec^{l'->l} a_l' + b_dec_l)
        / out_scale_l``."""
        y = self.b_dec[layer]
        for src in range(layer + 1) if self.config.cross_layer else (layer,):
            y = y + a[src] @ self.W_dec[src][:, layer - src]
        return y / self.out_scale[layer]

    def decode(self, a: torch.Tensor) -> torch.Tensor:
        """Reconstructions ``[L, ..., D]`` (model units) of all layers from ``a`` ``[L, ..., F]``."""
        return torch.stack([self.decode_layer(a, l) for l in range(self.config.n_layers)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(reconstruction [L, ..., D], activations [L, ..., F])`` of ``x`` ``[L, ..., D]``."""
        a = self.encode(x)
        return self.decode(a), a

    # -- the loss ----------------------------------------------------------------------------

    def loss(self, x: torch.Tensor, y: torch.Tensor, sparsity: float | None = None) -> CLTLoss:
        """The training loss on a batch of ``x, y`` ``[L, N, D]`` (see the module docstring).

        The reconstruction term is in normalised units, summed over layers and width and averaged
        over tokens. ``sparsity`` overrides ``config.sparsity`` (the ramp uses it).
        """
        self._check(x, "x")
        self._check(y, "y")
        if x.shape != y.shape:
            raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
        return self._loss(x, y, sparsity)

    def _loss(self, x: torch.Tensor, y: torch.Tensor, sparsity: float | None) -> CLTLoss:
        # :meth:`loss` without the checks, for :func:`train_clt`'s steps (it checked x and y once)
        cfg = self.config
        lam = cfg.sparsity if sparsity is None else sparsity
        h = self.preactivations(x)  # [L, N, F]
        a = self.activate(h)
        y_hat = self.decode(a)  # model units
        scale = self.out_scale.view(-1, *([1] * (y.dim() - 1)))
        err = (y_hat - y) * scale  # normalised units
        n_tokens = y[0].numel() // y.shape[-1]
        mse = err.pow(2).sum() / n_tokens
        norms = self.decoder_norms()  # [L, F]
        norms_b = norms.view(norms.shape[0], *([1] * (a.dim() - 2)), norms.shape[1])
        sparse = torch.tanh(cfg.c * norms_b * a).sum() / n_tokens
        theta = self.theta.view_as(norms_b)
        pre = (torch.relu(theta - h) * norms_b).sum() / n_tokens
        total = mse + lam * sparse + cfg.preact * pre
        l0 = float((a > 0).sum()) / n_tokens
        return CLTLoss(total, float(mse.detach()), float(sparse.detach()), float(pre.detach()), l0)

    def describe(self) -> dict:
        """The config as a dict (for records)."""
        return asdict(self.config)


@dataclass
class CLTMetrics:
    """How faithful and how sparse a CLT is on a set of activations.

    Attributes:
        nmse: per layer, ``sum ||y_hat - y||^2 / sum ||y - mean(y)||^2`` (the fraction of the MLP
            output's variance the CLT misses; 0 is perfect).
        l0: per layer, the mean number of active features per token.
        dead: the fraction of all ``L * F`` features never active on these tokens.
    """

    nmse: list[float]
    l0: list[float]
    dead: float

    @property
    def mean_nmse(self) -> float:
        return sum(self.nmse) / len(self.nmse)

    @property
    def total_l0(self) -> float:
        return sum(self.l0)


@torch.no_grad()
def evaluate_clt(clt: CrossLayerTranscoder, x: torch.Tensor, y: torch.Tensor) -> CLTMetrics:
    """Normalised MSE and L0 per layer, and the dead-feature fraction, on ``x, y`` ``[L, N, D]``."""
    clt._check(x, "x")
    clt._check(y, "y")
    y_hat, a = clt(x)
    L, D = y.shape[0], y.shape[-1]
    y2, yh2 = y.reshape(L, -1, D), y_hat.reshape(L, -1, D)
    resid = (yh2 - y2).pow(2).sum((1, 2))
    var = (y2 - y2.mean(1, keepdim=True)).pow(2).sum((1, 2)).clamp_min(1e-12)
    a2 = a.reshape(L, -1, a.shape[-1])
    l0 = (a2 > 0).float().sum(-1).mean(-1)
    dead = float((~(a2 > 0).any(1)).float().mean())
    return CLTMetrics((resid / var).tolist(), l0.tolist(), dead)


def train_clt(
    x: torch.Tensor,
    y: torch.Tensor,
    config: CLTConfig,
    *,
    steps: int = 2000,
    lr: float = 2e-3,
    batch_size: int = 512,
    ramp: float = 0.8,
    seed: int = 0,
    progress: bool = True,
    desc: str = "CLT",
) -> tuple[CrossLayerTranscoder, list[dict[str, float]]]:
    """Train a CLT on activations ``x, y`` ``[L, N, D]`` (from :func:`~readingroom.clt.collect`).

    Adam on random minibatches of tokens; ``lambda`` rises linearly from 0 to ``config.sparsity``
    over the first ``ramp`` fraction of the steps and then stays there.

    Returns:
        ``(clt, log)``: the trained transcoder (eval mode) and one dict per step with the
        loss terms (``total, mse, sparsity, preact, l0, lambda``).
    """
    if not isinstance(config, CLTConfig):
        raise TypeError(f"config must be a CLTConfig, got {type(config).__name__}")
    check_int(steps, "steps", minimum=1)
    check_int(batch_size, "batch_size", minimum=1)
    check_seed(seed)
    check_float(lr, "lr", low=0, low_open=True)
    check_float(ramp, "ramp", low=0, high=1)
    for name, t in (("x", x), ("y", y)):
        if not isinstance(t, torch.Tensor) or t.dim() != 3:
            raise ValueError(f"{name} must be a [L, N, D] tensor, got "
                             f"{tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__}")
        if t.shape[0] != config.n_layers or t.shape[2] != config.d_model:
            raise ValueError(f"{name} has shape {tuple(t.shape)}; the config expects "
                             f"[L={config.n_layers}, N, D={config.d_model}]")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}")
    x, y = x.detach(), y.detach()
    generator = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        clt = CrossLayerTranscoder(config).to(device=x.device, dtype=x.dtype)
    clt.set_scales(x, y)
    optimizer = torch.optim.Adam(clt.parameters(), lr=lr)
    N = x.shape[1]
    log: list[dict[str, float]] = []
    ramp_steps = max(1, int(ramp * steps))
    clt.train()
    bar = tqdm(range(steps), desc=desc, mininterval=0.5, disable=not progress)
    for step in bar:
        lam = config.sparsity * min(1.0, (step + 1) / ramp_steps)
        idx = torch.randint(0, N, (min(batch_size, N),), generator=generator).to(x.device)
        terms = clt._loss(x[:, idx], y[:, idx], lam)
        optimizer.zero_grad(set_to_none=True)
        terms.total.backward()
        optimizer.step()
        log.append({"total": float(terms.total.detach()), "mse": terms.mse, "sparsity": terms.sparsity,
                    "preact": terms.preact, "l0": terms.l0, "lambda": lam})
        if step % 50 == 0:
            bar.set_postfix(mse=f"{terms.mse:.3f}", l0=f"{terms.l0:.1f}", refresh=False)
    bar.close()
    clt.eval()
    return clt, log
