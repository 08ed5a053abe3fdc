"""The policy, its supervised start, and GRPO with each arm's reward.

One run (:func:`run_arm`) is: build the tiny transformer, train it by supervision on the labelled
problems (primal and dual formats, both with answers) to middling accuracy, then train it with GRPO
on the *questions* of the unlabelled problems, with the arm's reward:

=================  ==============================================================================
``sft``            no RL: the supervised start, evaluated as it is
``dupo``           the dual reconstruction reward, unknowns chosen with the filters (no labels)
``dupo_nofilter``  the same, with the unknown operand chosen at random (the filters' ablation)
``majority``       1 for the group's most frequent answer (self-consistency; no labels)
``oracle``         1 for the true answer (RLVR; reads the labels)
=================  ==============================================================================

Every arm starts from the same supervised weights (same seed) and gets the same questions, group
size and number of updates; accuracy is measured greedily on held-out test problems and on the
unlabelled questions themselves (which an arm sees, but never with their answers).

The dual task is solved by a frozen copy of the supervised start. The paper uses the policy being
trained as its own dual solver; a frozen verifier keeps the reward from drifting with the policy,
and makes each answer's reward a constant that is computed once (:func:`reward_table`).
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from readingroom.common import (
    TinyTransformer, TransformerConfig, eval_mode, seed_everything, train,
)
from readingroom.common.train import progress_enabled
from readingroom.dupo.grpo import check_recipe, group_advantages, grpo_update
from readingroom.dupo.rewards import (
    answer_distribution, majority_reward, reward_table,
)
from readingroom.dupo.world import (
    MODULUS, VOCAB, Problem, choose_unknown, dual_prompt, is_unique, primal_prompt,
    split_problems,
)
from readingroom.common.checks import check_choice

__all__ = ["ARMS", "DupoRecipe", "RunResult", "accuracy", "build_policy", "dual_accuracy", "run_arm",
           "sample_answers", "supervised_start"]

ARMS = ("sft", "dupo", "dupo_nofilter", "majority", "oracle")


@dataclass(frozen=True)
class DupoRecipe:
    """One training run: the policy's size, the supervised start and the GRPO phase."""

    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    sft_steps: int = 400
    sft_batch: int = 128
    sft_lr: float = 3e-3
    rl_steps: int = 300
    questions: int = 128  # B: questions per GRPO step
    group: int = 8  # G: answers sampled per question
    inner: int = 2  # updates per sampled batch (so the ratio pi/pi_old is not always 1)
    rl_lr: float = 3e-4
    clip_eps: float = 0.2
    beta: float = 0.04  # DeepSeekMath's KL weight
    eval_every: int = 50
    #: how many unknowns score an answer: "one" (drawn per question, as in the paper) or "all"
    #: qualifying ones, averaged (several checks of the same answer)
    unknowns: str = "all"
    n_test: int = 1000  # test problems evaluated (a fixed subset of the test split)

    def __post_init__(self) -> None:
        check_choice(self.unknowns, "unknowns", ("one", "all"))
        check_recipe(self, skip=("unknowns",))


def build_policy(recipe: DupoRecipe) -> TinyTransformer:
    """The tiny decoder (``readingroom.common``) over the world's tokens."""
    return TinyTransformer(TransformerConfig(vocab_size=len(VOCAB), n_ctx=8,
                                             d_model=recipe.d_model, n_layers=recipe.n_layers,
                                             n_heads=recipe.n_heads))


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def accuracy(model: torch.nn.Module, problems: list[Problem]) -> float:
    """Share of ``problems`` whose greedy (argmax) answer is right."""
    with eval_mode(model), torch.no_grad():
        prompts = torch.tensor([primal_prompt(p) for p in problems], device=_device(model))
        guess = answer_distribution(model, prompts).argmax(-1)
    truth = torch.tensor([p.answer for p in problems], device=guess.device)
    return float((guess == truth).float().mean())


def dual_accuracy(model: torch.nn.Module, problems: list[Problem], seed: int = 0) -> float:
    """Share of dual problems (true answer given, a filtered unknown hidden) solved greedily."""
    rng = random.Random(seed)
    pairs = [(p, choose_unknown(p, rng)) for p in problems]
    pairs = [(p, h) for p, h in pairs if h is not None]
    with eval_mode(model), torch.no_grad():
        prompts = torch.tensor([dual_prompt(p, h, p.answer) for p, h in pairs],
                               device=_device(model))
        guess = answer_distribution(model, prompts).argmax(-1).tolist()
    return sum(g == p.operands[h] for g, (p, h) in zip(guess, pairs)) / len(pairs)


def supervised_start(recipe: DupoRecipe, labelled: list[Problem], seed: int, *,
                     progress: bool = True) -> TinyTransformer:
    """Train a fresh policy on the labelled problems, primal and dual formats mixed 1:1.

    Dual examples hide each unique position (the others have no single right answer).
    """
    seed_everything(seed)
    model = build_policy(recipe)
    primal = [(primal_prompt(p), p.answer) for p in labelled]
    dual = [(dual_prompt(p, h, p.answer), p.operands[h]) for p in labelled for h in range(3)
            if is_unique(p, h)]
    rng = random.Random(seed)

    def get_batch(step: int):
        half = recipe.sft_batch // 2
        xs = [rng.choice(primal) for _ in range(half)] + [rng.choice(dual) for _ in range(half)]
        x = torch.tensor([p for p, _ in xs])  # both formats are 8 tokens: [batch, 8]
        y = torch.tensor([t for _, t in xs])
        return x, y

    def loss_fn(model, x, y):
        return torch.nn.functional.cross_entropy(model(x)[:, -1, :MODULUS], y)

    train(model, get_batch, steps=recipe.sft_steps, lr=recipe.sft_lr,
          warmup=min(20, recipe.sft_steps // 2),
          loss_fn=loss_fn, progress=progress, desc="supervised start")
    return model.eval()


def sample_answers(model: torch.nn.Module, problems: list[Problem], n: int,
                   generator: torch.Generator) -> torch.Tensor:
    """``[B, n]`` answers sampled at temperature 1 from the policy's digit distribution."""
    with eval_mode(model), torch.no_grad():
        prompts = torch.tensor([primal_prompt(p) for p in problems], device=_device(model))
        probs = answer_distribution(model, prompts).exp()
    return torch.multinomial(probs.cpu(), n, replacement=True, generator=generator).to(
        probs.device)


@dataclass
class RunResult:
    """One arm's run: accuracy on the test problems after every ``eval_every`` GRPO steps."""

    arm: str
    seed: int
    steps: list[int] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    pool_accuracy: list[float] = field(default_factory=list)
    mean_reward: list[float] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def final(self) -> float:
        return self.test_accuracy[-1]


def _reward_fn(arm: str, recipe: DupoRecipe, verifier, pool: list[Problem], seed: int):
    """``rewards(indices, answers) -> [B, G]`` for the arm; indices point into ``pool``."""
    truth = torch.tensor([p.answer for p in pool])
    if arm == "oracle":
        return lambda idx, answers: (answers == truth[idx][:, None]).float()
    if arm == "majority":
        return lambda idx, answers: majority_reward(answers)
    # DuPO: the verifier is frozen, so every answer's dual reward is fixed: one table per run.
    table = reward_table(verifier, pool, filtered=(arm == "dupo"), unknowns=recipe.unknowns,
                         seed=seed)  # [N, 6]
    return lambda idx, answers: table[idx].gather(1, answers)


def run_arm(arm: str, seed: int, recipe: DupoRecipe = DupoRecipe(), *,
            start: TinyTransformer | None = None, progress: bool = True) -> RunResult:
    """Train one arm from the supervised start (built here unless ``start`` is given).

    ``start`` lets several arms share one supervised model; it is copied, never changed.
    """
    check_choice(arm, "arm", ARMS)
    labelled, unlabelled, test = split_problems(seed)
    test = test[: recipe.n_test]
    if start is None:
        start = supervised_start(recipe, labelled, seed, progress=progress)
    policy = copy.deepcopy(start).train()
    reference = copy.deepcopy(start).eval()
    result = RunResult(arm=arm, seed=seed)
    t0 = time.perf_counter()
    result.steps.append(0)
    result.test_accuracy.append(accuracy(policy, test))
    result.pool_accuracy.append(accuracy(policy, unlabelled))
    result.mean_reward.append(float("nan"))
    if arm == "sft" or recipe.rl_steps == 0:
        result.seconds = time.perf_counter() - t0
        return result

    rng = random.Random(seed + 1)
    if arm == "dupo":  # the filters drop the questions no operand can be hidden in
        pool = [p for p in unlabelled if choose_unknown(p, random.Random(0)) is not None]
    else:
        pool = list(unlabelled)
    rewards_of = _reward_fn(arm, recipe, reference, pool, seed)
    gen = torch.Generator().manual_seed(seed + 2)
    optimiser = torch.optim.AdamW(policy.parameters(), lr=recipe.rl_lr, weight_decay=0.0)
    device = _device(policy)
    bar = tqdm(range(1, recipe.rl_steps + 1), desc=f"GRPO ({arm})",
               disable=not progress_enabled(progress), leave=False)
    for step in bar:
        idx = rng.sample(range(len(pool)), recipe.questions)
        problems = [pool[i] for i in idx]
        prompts = torch.tensor([primal_prompt(p) for p in problems], device=device)
        answers = sample_answers(policy, problems, recipe.group, gen)  # [B, G]
        rewards = rewards_of(torch.tensor(idx), answers)  # [B, G]
        advantages = group_advantages(rewards).reshape(-1)  # [B * G]
        with torch.no_grad():
            logp_old = answer_distribution(policy, prompts).gather(1, answers)  # [B, G]
            logp_ref = answer_distribution(reference, prompts).gather(1, answers)
        grpo_update(policy, optimiser,
                    lambda m: answer_distribution(m, prompts).gather(1, answers).reshape(-1, 1),
                    logp_old.reshape(-1, 1), logp_ref.reshape(-1, 1), advantages,
                    inner=recipe.inner, clip_eps=recipe.clip_eps, beta=recipe.beta)
        if step % recipe.eval_every == 0 or step == recipe.rl_steps:
            result.steps.append(step)
            result.test_accuracy.append(accuracy(policy, test))
            result.pool_accuracy.append(accuracy(policy, unlabelled))
            result.mean_reward.append(float(rewards.mean()))
            bar.set_postfix(acc=f"{result.test_accuracy[-1]:.3f}")
    result.seconds = time.perf_counter() - t0
    return result
