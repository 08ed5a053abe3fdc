"""Every bad input to readingroom.dupo is refused with a clear ValueError (or TypeError) naming
the parameter: one table of the package's error paths (issue 21).

The CLI's exit status stays with the CLI's tests in test_dupo_train.py.
"""

from __future__ import annotations

import functools

import torch

from readingroom.common import TinyTransformer, TransformerConfig
from readingroom.dupo import (
    DupoRecipe, Problem, TranslationRecipe, answer_map, auroc, build_policy, dual_prompt,
    dual_reward, group_advantages, grpo_loss, reward_table, run_arm, run_seed,
    run_translation_arm, run_translation_seed, split_problems, translate,
)
from readingroom.dupo.translation import _VOCAB, OUT, PROMPT, Sentence
from readingroom.dupo.world import encode
from refusals import refusal_test

TINY = DupoRecipe(d_model=32, sft_steps=30, rl_steps=4, questions=8, eval_every=2, n_test=100)
P = Problem((3, 4, 5), ("+", "*"))
Q = Problem((1, 2, 3), ("+", "+"))
S = Sentence("big", "cat", "sees", "small", "dog", "quickly")


@functools.cache
def _policy() -> TinyTransformer:
    """An untrained arithmetic policy (TINY's shape)."""
    return build_policy(TINY)


@functools.cache
def _translator() -> TinyTransformer:
    """An untrained translator of the default TranslationRecipe's shape."""
    r = TranslationRecipe()
    return TinyTransformer(TransformerConfig(vocab_size=len(_VOCAB), n_ctx=PROMPT + OUT,
                                             d_model=r.d_model, n_layers=r.n_layers,
                                             n_heads=r.n_heads))


def _loss(logp: torch.Tensor, advantages: torch.Tensor, **kw):
    return grpo_loss(logp, logp, logp, advantages, **kw)


CASES = [
    # (id, call, exception, match)
    # -- GRPO
    ("grpo_loss: three advantages for two outputs", lambda: _loss(torch.zeros(2, 1),
                                                                 torch.zeros(3)),
     ValueError, "advantages"),
    ("grpo_loss: logp 1-D", lambda: _loss(torch.zeros(2), torch.zeros(2)), ValueError, "shape"),
    ("grpo_loss: clip_eps 0", lambda: _loss(torch.zeros(2, 1), torch.zeros(2), clip_eps=0.0),
     ValueError, "clip_eps"),
    ("grpo_loss: beta negative", lambda: _loss(torch.zeros(2, 1), torch.zeros(2), beta=-0.1),
     ValueError, "beta"),
    ("group_advantages: a group of one", lambda: group_advantages(torch.zeros(3, 1)), ValueError,
     "G >= 2"),

    # -- rewards and their scores
    ("reward_table: unknowns 'two'", lambda: reward_table(_policy(), [P], unknowns="two"),
     ValueError, "unknowns"),
    ("auroc: no positive score", lambda: auroc(torch.tensor([]), torch.tensor([0.1])),
     ValueError, "at least one"),
    ("dual_reward: two problems, one hide", lambda: dual_reward(
        _policy(), [P, P], [0], torch.zeros(1, 4, dtype=torch.long)), ValueError, "B=1"),

    # -- arithmetic runs
    ("DupoRecipe: group 1", lambda: DupoRecipe(group=1), ValueError, "group"),
    ("DupoRecipe: rl_lr negative", lambda: DupoRecipe(rl_lr=-1.0), ValueError, "rl_lr"),
    ("DupoRecipe: rl_lr a str", lambda: DupoRecipe(rl_lr="3e-4"), TypeError, "rl_lr"),
    ("DupoRecipe: unknowns 'some'", lambda: DupoRecipe(unknowns="some"), ValueError, "unknowns"),
    ("run_arm: arm 'ppo'", lambda: run_arm("ppo", 0, TINY, progress=False), ValueError, "arm"),
    ("run_seed: an arm 'ppo'", lambda: run_seed(0, TINY, arms=("dupo", "ppo"), progress=False),
     ValueError, "arms"),

    # -- translation
    ("TranslationRecipe: group 1", lambda: TranslationRecipe(group=1), ValueError, "group"),
    ("TranslationRecipe: labelled -1", lambda: TranslationRecipe(labelled=-1), ValueError,
     "labelled"),
    ("run_translation_arm: arm 'majority'", lambda: run_translation_arm(
        "majority", 0, TranslationRecipe(), progress=False), ValueError, "arm"),
    ("run_translation_seed: an arm 'majority'", lambda: run_translation_seed(
        0, TranslationRecipe(), arms=("sft", "majority"), progress=False), ValueError, "arms"),
    ("translate: direction '<x>'", lambda: translate(_translator(), [S], direction="<x>"),
     ValueError, "direction"),
    ("translate: a word outside the language", lambda: translate(
        _translator(), [["kesa", "zebra"]], direction="<t2s>"),
     ValueError, "outside the language"),

    # -- the world
    ("Problem: operand 6", lambda: Problem((1, 2, 6), ("+", "+")), ValueError, "operands"),
    ("Problem: op '/'", lambda: Problem((1, 2, 3), ("+", "/")), ValueError, "ops"),
    ("encode: token 'x'", lambda: encode(["<primal>", "x"]), ValueError, "'x'"),
    ("dual_prompt: y 6", lambda: dual_prompt(Q, 0, 6), ValueError, "y must"),
    ("answer_map: hide 3", lambda: answer_map(Q, 3), ValueError, "hide"),
    ("split_problems: fractions summing to 1.5", lambda: split_problems(0, (0.5, 0.5, 0.5)),
     ValueError, "fractions"),
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
