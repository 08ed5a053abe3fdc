"""A batch of independent MLP classifiers with auxiliary logits (Cloud et al., 2025, Section 6).

The paper's MNIST experiment uses a feed-forward network ``784 -> 256 -> 256 -> (10 + m)`` with
ReLU: the first 10 outputs are the digit logits, the last ``m`` are *auxiliary* logits that no loss
ever asks to mean anything. The experiment trains many such networks (teachers, and students in
four conditions, for several seeds), so this module holds ``M`` independent models in one set of
tensors with a leading model dimension and runs them all with batched matrix products::

    params = init_params(M, width=256, n_aux=3, seeds=[0, 1, 2])  # W1: [M, 784, 256], ...
    logits = forward(params, x)                                    # x [N, 784] -> [M, N, 13]

Models never interact: a loss that is a *sum* of per-model losses has per-model gradients, and
Adam is element-wise, so training the batch equals training each model alone.

Parameters are a plain ``dict[str, Tensor]`` (keys ``w1 b1 w2 b2 w3 b3``) so that
:mod:`torch.func` can differentiate with respect to them
(see :mod:`readingroom.subliminal.theorem`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from readingroom.common import make_generator
from readingroom.common.checks import check_int, check_seeds

__all__ = [
    "IN_FEATURES",
    "N_DIGITS",
    "PARAM_NAMES",
    "init_params",
    "forward",
    "digit_logits",
    "aux_logits",
    "accuracy",
    "n_models",
    "select_models",
    "flatten_params",
]

#: MNIST images are 28 x 28 = 784 pixels, flattened.
IN_FEATURES: int = 784
#: The regular (digit) logits come first in the output.
N_DIGITS: int = 10
#: The parameter tensors, in the order :func:`init_params` draws them.
PARAM_NAMES: tuple[str, ...] = ("w1", "b1", "w2", "b2", "w3", "b3")

Params = dict[str, torch.Tensor]


def check_params(params: object, name: str = "params") -> Params:
    """Check that ``params`` is a dict of the six MLP tensors with matching shapes."""
    if not isinstance(params, dict):
        raise TypeError(f"{name} must be a dict of tensors (from init_params), "
                        f"got {type(params).__name__}")
    missing = [k for k in PARAM_NAMES if k not in params]
    if missing:
        raise ValueError(f"{name} lacks {missing}; expected keys {list(PARAM_NAMES)}")
    for key in PARAM_NAMES:
        if not isinstance(params[key], torch.Tensor):
            raise TypeError(f"{name}[{key!r}] must be a Tensor, got {type(params[key]).__name__}")
    w1, w2, w3 = params["w1"], params["w2"], params["w3"]
    if w1.dim() != 3 or w2.dim() != 3 or w3.dim() != 3:
        raise ValueError(f"{name} weights must be [M, in, out] tensors, got shapes "
                         f"{tuple(w1.shape)}, {tuple(w2.shape)}, {tuple(w3.shape)}")
    m = w1.shape[0]
    if w1.shape[1] != IN_FEATURES or w2.shape[1] != w1.shape[2] or w3.shape[1] != w2.shape[2]:
        raise ValueError(f"{name} weight shapes do not chain: {tuple(w1.shape)}, "
                         f"{tuple(w2.shape)}, {tuple(w3.shape)}")
    for key, w in (("b1", w1), ("b2", w2), ("b3", w3)):
        if tuple(params[key].shape) != (m, w.shape[2]):
            raise ValueError(f"{name}[{key!r}] must have shape {(m, w.shape[2])}, "
                             f"got {tuple(params[key].shape)}")
    if w2.shape[0] != m or w3.shape[0] != m:
        raise ValueError(f"{name} tensors disagree on the number of models")
    if w3.shape[2] <= N_DIGITS:
        raise ValueError(f"{name}['w3'] must have more than {N_DIGITS} outputs (10 digits plus "
                         f"at least one auxiliary logit), got {w3.shape[2]}")
    return params


def init_params(
    n: int,
    width: int,
    n_aux: int,
    seeds: Sequence[int],
    *,
    device: torch.device | str = "cpu",
) -> Params:
    """Initialise ``n`` MLPs ``784 -> width -> width -> (10 + n_aux)``, model ``i`` from seed ``i``.

    Each model is drawn like PyTorch's default :class:`torch.nn.Linear` (Kaiming-uniform with
    ``a = sqrt(5)``, i.e. weight and bias ``~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))``), from its own
    CPU generator seeded with its seed, in the order ``w1 b1 w2 b2 w3 b3``. Model ``i``'s weights
    therefore depend only on ``seeds[i]`` (not on ``n`` or its neighbours): two models with
    the same seed start **bit-identical** — the paper's "shared initialisation" — and different
    seeds give different starts. Draws happen on the CPU and are then moved to ``device``, so the
    init is the same on every device.

    Args:
        n: number of models ``M`` (must equal ``len(seeds)``).
        width: hidden width (the paper uses 256).
        n_aux: number ``m`` of auxiliary logits (the paper's default is 3).
        seeds: one int seed per model.
        device: where the tensors live.

    Returns:
        ``{"w1": [M, 784, width], "b1": [M, width], "w2": [M, width, width], "b2": [M, width],
        "w3": [M, width, 10 + n_aux], "b3": [M, 10 + n_aux]}``, float32, not requiring grad.
    """
    n = check_int(n, "n")
    width = check_int(width, "width")
    n_aux = check_int(n_aux, "n_aux")
    seeds = check_seeds(seeds)
    if len(seeds) != n:
        raise ValueError(f"seeds must hold one seed per model: n={n} but len(seeds)={len(seeds)}")
    sizes = [(IN_FEATURES, width), (width, width), (width, N_DIGITS + n_aux)]
    per_model: list[list[torch.Tensor]] = []
    for seed in seeds:
        gen = make_generator(seed)
        tensors = []
        for fan_in, fan_out in sizes:
            bound = 1.0 / math.sqrt(fan_in)
            w = torch.empty(fan_in, fan_out).uniform_(-bound, bound, generator=gen)  # [in, out]
            b = torch.empty(fan_out).uniform_(-bound, bound, generator=gen)  # [out]
            tensors += [w, b]
        per_model.append(tensors)
    return {
        name: torch.stack([t[i] for t in per_model]).to(device)
        for i, name in enumerate(PARAM_NAMES)
    }


def n_models(params: Params) -> int:
    """The number ``M`` of models held in ``params``."""
    return int(check_params(params)["w1"].shape[0])


def select_models(params: Params, index: Sequence[int] | torch.Tensor) -> Params:
    """A new params dict holding the models at ``index`` (copies; repeats allowed)."""
    check_params(params)
    idx = torch.as_tensor(index, dtype=torch.long, device=params["w1"].device)
    return {k: params[k].index_select(0, idx).clone() for k in PARAM_NAMES}


def flatten_params(params: Params) -> torch.Tensor:
    """Every parameter of each model as one vector: ``[M, P]`` (``P`` = parameters per model)."""
    check_params(params)
    m = params["w1"].shape[0]
    return torch.cat([params[k].reshape(m, -1) for k in PARAM_NAMES], dim=1)


def _linear(x: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``x @ w + b`` per model: x ``[N, in]`` (shared) or ``[M, N, in]``; w ``[M, in, out]``."""
    if x.dim() == 2:
        # Shared input: one big GEMM [N, in] @ [in, M*out], cheaper than M small ones.
        m, d_in, d_out = w.shape
        y = x @ w.permute(1, 0, 2).reshape(d_in, m * d_out)  # [N, M*out]
        return y.reshape(x.shape[0], m, d_out).transpose(0, 1) + b[:, None, :]  # [M, N, out]
    return torch.baddbmm(b[:, None, :], x, w)  # [M, N, out]


def forward(params: Params, x: torch.Tensor) -> torch.Tensor:
    """Logits of every model: ``x`` ``[N, 784]`` (shared by all models) or ``[M, N, 784]``.

    Returns ``[M, N, 10 + m]``: digit logits first, then the ``m`` auxiliary logits.
    """
    check_params(params)
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a Tensor, got {type(x).__name__}")
    m = params["w1"].shape[0]
    if x.dim() not in (2, 3) or x.shape[-1] != IN_FEATURES or (x.dim() == 3 and x.shape[0] != m):
        raise ValueError(f"x must have shape [N, {IN_FEATURES}] or [{m}, N, {IN_FEATURES}], "
                         f"got {tuple(x.shape)}")
    if x.dtype != params["w1"].dtype:
        raise TypeError(f"x must have dtype {params['w1'].dtype} like the params, got {x.dtype}")
    h = torch.relu(_linear(x, params["w1"], params["b1"]))  # [M, N, width]
    h = torch.relu(torch.baddbmm(params["b2"][:, None, :], h, params["w2"]))  # [M, N, width]
    return torch.baddbmm(params["b3"][:, None, :], h, params["w3"])  # [M, N, 10 + m]


def digit_logits(logits: torch.Tensor) -> torch.Tensor:
    """The 10 regular logits: ``[..., 10 + m] -> [..., 10]``."""
    if not isinstance(logits, torch.Tensor) or logits.shape[-1] <= N_DIGITS:
        raise ValueError(f"logits must be a Tensor with more than {N_DIGITS} entries in its last "
                         f"dim, got {getattr(logits, 'shape', type(logits).__name__)}")
    return logits[..., :N_DIGITS]


def aux_logits(logits: torch.Tensor) -> torch.Tensor:
    """The ``m`` auxiliary logits: ``[..., 10 + m] -> [..., m]``."""
    if not isinstance(logits, torch.Tensor) or logits.shape[-1] <= N_DIGITS:
        raise ValueError(f"logits must be a Tensor with more than {N_DIGITS} entries in its last "
                         f"dim, got {getattr(logits, 'shape', type(logits).__name__)}")
    return logits[..., N_DIGITS:]


@torch.no_grad()
def accuracy(params: Params, x: torch.Tensor, y: torch.Tensor, *,
             chunk: int = 2048) -> torch.Tensor:
    """Digit accuracy of every model on ``(x, y)``: argmax of the 10 digit logits. Returns ``[M]``.

    ``x`` is ``[N, 784]``, ``y`` ``[N]`` int64 labels in ``0..9``; evaluated in chunks of ``chunk``
    rows to bound memory.
    """
    check_params(params)
    if not isinstance(y, torch.Tensor) or y.dim() != 1 or y.dtype != torch.long:
        raise TypeError(f"y must be a 1-D int64 Tensor of labels, got "
                        f"{getattr(y, 'dtype', type(y).__name__)} {tuple(getattr(y, 'shape', ()))}")
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[0] != y.shape[0]:
        raise ValueError(f"x must be [N, {IN_FEATURES}] with N = len(y) = {y.shape[0]}, "
                         f"got {tuple(getattr(x, 'shape', ()))}")
    chunk = check_int(chunk, "chunk")
    correct = torch.zeros(params["w1"].shape[0], device=params["w1"].device)
    for start in range(0, x.shape[0], chunk):
        pred = digit_logits(forward(params, x[start:start + chunk])).argmax(-1)  # [M, n]
        correct += (pred == y[start:start + chunk]).sum(-1)
    return correct / x.shape[0]
