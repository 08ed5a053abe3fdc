"""The paper's theorem: one small imitation step moves a same-init student toward its teacher.

Cloud et al. (2025), Section 6 (Theorem 1), in this module's notation. Let a teacher and a student
share the initialisation ``theta_0``, and let the teacher take **any** update,
``theta_T = theta_0 + eps * u`` (``||u|| = 1``). The student takes one gradient step on an
imitation loss on **any** inputs ``x_1..x_N``:

* squared error ``L_S(theta) = 1/(2N) sum_n ||f_theta(x_n) - f_T(x_n)||^2``, or
* soft-label cross-entropy
  ``L_S(theta) = -1/N sum_n sum_j softmax(f_T(x_n))_j log softmax(f_theta(x_n))_j``,

where ``f`` are the imitated logits (only the auxiliary ones, or all). Write ``J_n`` for the
Jacobian of ``f_theta(x_n)`` at ``theta_0`` and ``H_n = diag(p_n) - p_n p_n^T`` for the softmax
Jacobian at the student's probabilities ``p_n``. Since
``f_T(x_n) = f_0(x_n) + eps J_n u + O(eps^2)``, the student's step
``Delta theta_S = -grad L_S(theta_0)`` is, to first order in ``eps``::

    MSE:  Delta theta_S = (eps/N) sum_n J_n^T J_n u
          u . Delta theta_S = (eps/N) sum_n ||J_n u||^2             >= 0
    CE:   Delta theta_S = (eps/N) sum_n J_n^T H_n J_n u
          u . Delta theta_S = (eps/N) sum_n (J_n u)^T H_n (J_n u)   >= 0

(``H_n`` is positive semi-definite). The student's step never points away from the teacher's
update, whatever the inputs — noise images included — and whatever the teacher learned.
With a **different** initialisation ``theta_0'`` the residual ``f_0'(x) - f_T(x)`` does not vanish
as ``eps -> 0`` and is unrelated to ``u``, so the cosine between the two steps is about zero.

What this implies for the **teacher's own loss** ``L_T``: if the teacher's update is itself one
small gradient step on it, ``eps u = -eta grad L_T(theta_0)``, then
``grad L_T(theta_0) . Delta theta_S = -(eps/eta) u . Delta theta_S <= 0`` to first order, so a small
enough student step ``theta_0 + lr Delta theta_S`` does not raise the teacher's loss. Nothing follows
for a teacher many steps from ``theta_0`` (its displacement is not the gradient at ``theta_0``).

:func:`single_step_cosines` measures ``cos(Delta theta_S, Delta theta_T)`` for many seeds at once
(batched MLP); :func:`single_step` also takes the student's step and measures its digit loss (the
teacher's own loss) before and after; :func:`first_order_check` computes both sides of the identity
above exactly with :func:`torch.func.jacrev` on a tiny model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from readingroom.common import make_generator
from readingroom.common.checks import (
    check_choice, check_float, check_int, check_seed, check_seeds,
)
from readingroom.subliminal.data import load_mnist, noise_images
from readingroom.subliminal.mlp import (
    N_DIGITS,
    PARAM_NAMES,
    Params,
    check_params,
    digit_logits,
    flatten_params,
    forward,
    init_params,
)
from readingroom.subliminal.mnist import DIFF_SEED_OFFSET

__all__ = [
    "LOSSES",
    "imitation_loss",
    "teacher_direction",
    "student_step",
    "single_step_cosines",
    "SingleStep",
    "single_step",
    "FirstOrderCheck",
    "first_order_check",
]

#: The imitation losses the theorem covers.
LOSSES: tuple[str, ...] = ("ce", "mse")
_INITS = ("same", "different")
_INPUTS = ("noise", "digits")
_LOGITS = ("aux", "all")
_UPDATES = ("train", "random")


def _imitated(logits: torch.Tensor, which: str) -> torch.Tensor:
    return logits[..., N_DIGITS:] if which == "aux" else logits  # [M, N, m] or [M, N, 10 + m]


def imitation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor,
                   loss: str = "ce") -> torch.Tensor:
    """Per-model imitation loss on logits ``[M, N, k]`` -> ``[M]`` (mean over the ``N`` inputs).

    ``"mse"``: ``1/2 ||z_S - z_T||^2``; ``"ce"``: ``-sum_j softmax(z_T)_j log softmax(z_S)_j``.
    """
    check_choice(loss, "loss", LOSSES)
    if student_logits.shape != teacher_logits.shape:
        raise ValueError(f"student_logits {tuple(student_logits.shape)} and teacher_logits "
                         f"{tuple(teacher_logits.shape)} must have the same shape")
    if loss == "mse":
        return 0.5 * (student_logits - teacher_logits).pow(2).sum(-1).mean(-1)
    return -(F.softmax(teacher_logits, -1) * F.log_softmax(student_logits, -1)).sum(-1).mean(-1)


def _unit(params: Params) -> Params:
    """Scale each model's parameter vector to unit norm."""
    norm = flatten_params(params).norm(dim=1)  # [M]
    if bool((norm == 0).any()):
        raise ValueError("a teacher update is exactly zero; cannot normalise it")
    return {k: v / norm.reshape(-1, *([1] * (v.dim() - 1))) for k, v in params.items()}


def teacher_direction(
    params0: Params,
    *,
    kind: str = "train",
    steps: int = 1,
    lr: float = 0.1,
    x: torch.Tensor | None = None,
    y: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Params:
    """A unit teacher update ``u`` per model: ``theta_T = theta_0 + eps * u``.

    ``kind="train"``: ``steps`` steps of plain gradient descent (rate ``lr``) on the digit
    cross-entropy of ``(x, y)`` (the paper's teacher objective: digit logits only), from
    ``theta_0``; ``u`` is the total displacement, normalised. ``kind="random"``: a Gaussian
    direction from ``generator`` (the theorem holds for *any* update).
    """
    check_params(params0)
    check_choice(kind, "teacher_update", _UPDATES)
    steps = check_int(steps, "teacher_steps")
    if kind == "random":
        if not isinstance(generator, torch.Generator):
            raise TypeError("generator must be a torch.Generator for a random teacher update")
        return _unit({k: torch.randn(params0[k].shape, generator=generator,
                                     dtype=params0[k].dtype, device=params0[k].device)
                      for k in PARAM_NAMES})
    if x is None or y is None:
        raise ValueError("x and y (digit images and labels) are needed for teacher_update='train'")
    params = {k: v.detach().clone().requires_grad_(True) for k, v in params0.items()}
    m = params["w1"].shape[0]
    for _ in range(steps):
        logits = digit_logits(forward(params, x))  # [M, N, 10]
        loss = F.cross_entropy(logits.reshape(-1, N_DIGITS), y.repeat(m), reduction="sum")
        grads = torch.autograd.grad(loss / x.shape[0], list(params.values()))
        with torch.no_grad():
            for p, g in zip(params.values(), grads):
                p -= lr * g
    return _unit({k: params[k].detach() - params0[k] for k in PARAM_NAMES})


def student_step(student0: Params, teacher: Params, x: torch.Tensor, *, loss: str = "ce",
                 logits: str = "aux") -> Params:
    """``Delta theta_S = -grad L_S`` at ``student0`` for imitating ``teacher`` on ``x`` (per model).

    ``logits="aux"``: imitate the auxiliary logits only (the paper's subliminal setting);
    ``"all"``: all ``10 + m`` logits.
    """
    check_params(student0)
    check_params(teacher)
    check_choice(loss, "loss", LOSSES)
    check_choice(logits, "logits", _LOGITS)
    params = {k: v.detach().clone().requires_grad_(True) for k, v in student0.items()}
    with torch.no_grad():
        target = _imitated(forward(teacher, x), logits)  # [M, N, k]
    value = imitation_loss(_imitated(forward(params, x), logits), target, loss).sum()
    grads = torch.autograd.grad(value, list(params.values()))
    return {k: -g for k, g in zip(params, grads)}


def _cosine(a: Params, b: Params) -> torch.Tensor:
    return F.cosine_similarity(flatten_params(a), flatten_params(b), dim=1)  # [M]


def _digit_loss(params: Params, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-model mean cross-entropy of the digit logits on ``(x, y)``: ``[M]``."""
    logits = digit_logits(forward(params, x))  # [M, N, 10]
    m, n = logits.shape[:2]
    return F.cross_entropy(logits.reshape(-1, N_DIGITS), y.repeat(m),
                           reduction="none").reshape(m, n).mean(1)


@dataclass(frozen=True)
class SingleStep:
    """One imitation step per seed (:func:`single_step`); every tensor is ``[S]``, one per seed.

    Attributes:
        cosine: ``cos(Delta theta_S, u)``, the student's step against the teacher's update.
        digit_loss_before: the student's digit cross-entropy at its start, on the digits the
            teacher's update was trained on (the teacher's own loss, ``L_T``).
        digit_loss_after: the same after one plain gradient step ``theta + lr * Delta theta_S``.
        step_norm: ``||Delta theta_S||`` (of order ``eps`` for a same-init student).
        lr: the student's step size.
    """

    cosine: torch.Tensor
    digit_loss_before: torch.Tensor
    digit_loss_after: torch.Tensor
    step_norm: torch.Tensor
    lr: float

    @property
    def digit_loss_change(self) -> torch.Tensor:
        """``digit_loss_after - digit_loss_before``, ``[S]``: negative where the step lowered it."""
        return self.digit_loss_after - self.digit_loss_before


def single_step(
    seeds: Sequence[int],
    *,
    lr: float = 1.0,
    n_aux: int = 3,
    width: int = 256,
    eps: float = 1e-2,
    loss: str = "ce",
    init: str = "same",
    inputs: str = "noise",
    logits: str = "aux",
    teacher_update: str = "train",
    teacher_steps: int = 1,
    teacher_lr: float = 0.1,
    n_inputs: int = 256,
    data_seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> SingleStep:
    """One teacher/student pair per seed: the student's imitation step, its cosine with the
    teacher's update, and what one gradient step of size ``lr`` does to its digit loss.

    The teacher of seed ``s`` starts at ``theta_0 = init_params(s)`` and moves by ``eps * u`` with
    ``u`` from :func:`teacher_direction` (``teacher_update="train"``: ``teacher_steps`` digit
    gradient steps on the first ``n_inputs`` training digits; ``"random"``: a random direction).
    The student starts at ``theta_0`` (``init="same"``) or at ``init_params(s + 10_000)``
    (``"different"``) and takes one gradient step (:func:`student_step`) imitating the teacher's
    ``logits`` on ``n_inputs`` ``inputs`` (uniform noise or other digit images).

    Theorem 1 predicts a positive cosine for ``"same"`` (for small ``eps``) and about zero for
    ``"different"``. With ``teacher_update="train"`` and ``teacher_steps=1`` the teacher's update
    is a gradient step on its digit loss, so for ``"same"`` a small enough step (``lr``) also
    lowers the student's digit loss on the teacher's digits (see the module docstring); from a
    different initialisation the sign of that change is not constrained.

    The cosines are small in size (about 0.02 at width 256 with 256 noise images; about 0.08 at
    width 16): the student's step lies in the span of the Jacobian rows, at most ``N * m``
    directions out of ~270k, so it cannot line up with ``u``. The theorem is about the **sign**.
    To first order the cosine does not depend on ``eps``.

    Computed in ``dtype`` (float64 by default: the first-order regime needs small ``eps``).
    """
    seeds = check_seeds(seeds)
    lr = check_float(lr, "lr", low=0, low_open=True)
    n_aux = check_int(n_aux, "n_aux")
    width = check_int(width, "width")
    eps = check_float(eps, "eps", low=0, low_open=True)
    check_choice(loss, "loss", LOSSES)
    check_choice(init, "init", _INITS)
    check_choice(inputs, "inputs", _INPUTS)
    check_choice(logits, "logits", _LOGITS)
    check_choice(teacher_update, "teacher_update", _UPDATES)
    n_inputs = check_int(n_inputs, "n_inputs")
    data_seed = check_seed(data_seed, "data_seed")
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")

    m = len(seeds)
    theta0 = {k: v.to(dtype) for k, v in init_params(m, width, n_aux, seeds).items()}
    data = load_mnist(data_seed)
    if n_inputs > data.x_train.shape[0]:
        raise ValueError(f"n_inputs must be at most {data.x_train.shape[0]}, got {n_inputs}")
    x_digits, y_digits = data.x_train[:n_inputs].to(dtype), data.y_train[:n_inputs]
    u = teacher_direction(theta0, kind=teacher_update, steps=teacher_steps, lr=teacher_lr,
                          x=x_digits, y=y_digits, generator=make_generator(data_seed))
    teacher = {k: theta0[k] + eps * u[k] for k in PARAM_NAMES}  # theta_T = theta_0 + eps u

    if init == "same":
        student0 = theta0
    else:
        other = [(s + DIFF_SEED_OFFSET) % 2**32 for s in seeds]
        student0 = {k: v.to(dtype) for k, v in init_params(m, width, n_aux, other).items()}
    if inputs == "noise":
        x = noise_images(n_inputs, make_generator(data_seed + 1 if data_seed < 2**32 - 1 else 0))
        x = x.to(dtype)
    else:
        x = data.x_train[-n_inputs:].to(dtype)  # other digits than the teacher's
    step = student_step(student0, teacher, x, loss=loss, logits=logits)
    with torch.no_grad():
        moved = {k: student0[k] + lr * step[k] for k in PARAM_NAMES}
        before = _digit_loss(student0, x_digits, y_digits)
        after = _digit_loss(moved, x_digits, y_digits)
    return SingleStep(cosine=_cosine(step, u), digit_loss_before=before, digit_loss_after=after,
                      step_norm=flatten_params(step).norm(dim=1), lr=lr)


def single_step_cosines(
    seeds: Sequence[int],
    *,
    n_aux: int = 3,
    width: int = 256,
    eps: float = 1e-2,
    loss: str = "ce",
    init: str = "same",
    inputs: str = "noise",
    logits: str = "aux",
    teacher_update: str = "train",
    teacher_steps: int = 1,
    teacher_lr: float = 0.1,
    n_inputs: int = 256,
    data_seed: int = 0,
    dtype: torch.dtype = torch.float64,
) -> torch.Tensor:
    """``cos(Delta theta_S, Delta theta_T)`` for one teacher/student pair per seed: ``[S]``.

    The ``cosine`` of :func:`single_step` with the same settings (see there): Theorem 1 predicts
    a positive cosine for ``init="same"`` (for small ``eps``) and about zero for ``"different"``.
    """
    return single_step(seeds, n_aux=n_aux, width=width, eps=eps, loss=loss, init=init,
                       inputs=inputs, logits=logits, teacher_update=teacher_update,
                       teacher_steps=teacher_steps, teacher_lr=teacher_lr, n_inputs=n_inputs,
                       data_seed=data_seed, dtype=dtype).cosine


@dataclass(frozen=True)
class FirstOrderCheck:
    """Both sides of Theorem 1's first-order identity for one small model (flat ``[P]`` vectors).

    Attributes:
        step: the exact student step ``Delta theta_S = -grad L_S(theta_0)``.
        predicted: its first-order prediction ``(eps/N) sum_n J_n^T G_n J_n u`` with ``G_n = I``
            (MSE) or ``H_n`` (CE).
        inner: ``u . step``; ``predicted_inner``: ``(eps/N) sum_n (J_n u)^T G_n (J_n u)`` (>= 0).
        u: the unit teacher direction.
    """

    step: torch.Tensor
    predicted: torch.Tensor
    inner: float
    predicted_inner: float
    u: torch.Tensor

    @property
    def rel_error(self) -> float:
        """``||step - predicted|| / ||predicted||``: O(eps) when the identity holds."""
        return float((self.step - self.predicted).norm() / self.predicted.norm())

    @property
    def cosine(self) -> float:
        """``cos(step, u)``."""
        return float(F.cosine_similarity(self.step, self.u, dim=0))


def first_order_check(
    seed: int = 0,
    *,
    width: int = 8,
    n_aux: int = 3,
    eps: float = 1e-5,
    n_inputs: int = 16,
    loss: str = "mse",
    logits: str = "aux",
    teacher_update: str = "random",
    data_seed: int = 0,
) -> FirstOrderCheck:
    """Compute Theorem 1's first-order identity exactly on a tiny model (float64).

    The Jacobian ``J_n`` of the imitated logits with respect to all parameters is taken with
    :func:`torch.func.jacrev`; the exact step is the autograd gradient of the imitation loss at
    a teacher ``theta_0 + eps u`` on ``n_inputs`` noise images. Keep ``width`` small (the
    Jacobian is ``[N * k, P]``).
    """
    seed = check_seed(seed)
    eps = check_float(eps, "eps", low=0, low_open=True)
    width = check_int(width, "width")
    n_inputs = check_int(n_inputs, "n_inputs")
    check_choice(loss, "loss", LOSSES)
    check_choice(logits, "logits", _LOGITS)
    check_choice(teacher_update, "teacher_update", _UPDATES)
    if width > 64:
        raise ValueError(f"width must be at most 64 for the exact Jacobian, got {width}")

    theta0 = {k: v.double() for k, v in init_params(1, width, n_aux, [seed]).items()}
    if teacher_update == "random":
        u = teacher_direction(theta0, kind="random", generator=make_generator(seed))
    else:
        data = load_mnist(data_seed)
        u = teacher_direction(theta0, kind="train", x=data.x_train[:256].double(),
                              y=data.y_train[:256])
    teacher = {k: theta0[k] + eps * u[k] for k in PARAM_NAMES}
    x = noise_images(n_inputs, make_generator(data_seed)).double()  # [N, 784]
    step = flatten_params(student_step(theta0, teacher, x, loss=loss, logits=logits))[0]  # [P]

    shapes = [(k, theta0[k].shape) for k in PARAM_NAMES]
    sizes = [s.numel() for _, s in shapes]

    def f(flat: torch.Tensor) -> torch.Tensor:
        parts = torch.split(flat, sizes)
        params = {k: p.reshape(s) for (k, s), p in zip(shapes, parts)}
        return _imitated(forward(params, x), logits)[0]  # [N, k]

    flat0 = flatten_params(theta0)[0]  # [P]
    u_flat = flatten_params(u)[0]  # [P]
    jac = torch.func.jacrev(f)(flat0)  # [N, k, P]
    ju = jac @ u_flat  # [N, k]: first-order change of the teacher's logits per unit eps
    if loss == "mse":
        g_ju = ju  # G_n = I
    else:
        p = F.softmax(f(flat0), -1)  # [N, k] student (= reference) probabilities
        g_ju = p * ju - p * (p * ju).sum(-1, keepdim=True)  # H_n (J_n u), H = diag(p) - p p^T
    predicted = eps / n_inputs * torch.einsum("nkp,nk->p", jac, g_ju)  # [P]
    predicted_inner = eps / n_inputs * float((ju * g_ju).sum())
    return FirstOrderCheck(step=step.detach(), predicted=predicted.detach(),
                           inner=float(step @ u_flat), predicted_inner=predicted_inner,
                           u=u_flat.detach())
