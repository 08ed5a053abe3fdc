"""DuPO (She et al., 2025): rewards from the dual task, without labels.

A primal arithmetic problem's input is split into a known part and an unknown operand; the dual
task reconstructs the unknown from the known part and the model's answer, and how well it does is
the answer's reward. GRPO (DeepSeekMath) trains the policy on it. The package holds the world
(:mod:`~readingroom.dupo.world`), GRPO (:mod:`~readingroom.dupo.grpo`), the rewards
(:mod:`~readingroom.dupo.rewards`), the runs (:mod:`~readingroom.dupo.train`), the chapter's
measurements (:mod:`~readingroom.dupo.experiments`) and the second domain, translation with
back-translation as the dual (:mod:`~readingroom.dupo.translation`).
"""

from readingroom.dupo.experiments import (
    auroc, degenerate_rewards, rerank_curve, reward_separation, run_seed,
)
from readingroom.dupo.grpo import GRPOStats, group_advantages, grpo_loss, grpo_update
from readingroom.dupo.rewards import (
    answer_distribution, dual_reward, majority_reward, oracle_reward, reward_table,
)
from readingroom.dupo.train import (
    ARMS, DupoRecipe, RunResult, accuracy, build_policy, dual_accuracy, run_arm, sample_answers,
    supervised_start,
)
from readingroom.dupo.translation import (
    TRANSLATION_ARMS, Sentence, TranslationRecipe, TranslationRun, all_sentences,
    back_translation_reward, chrf, corpus_chrf, evaluate_translator, oracle_chrf_reward,
    run_translation_arm, run_translation_seed, split_sentences, supervised_translator, translate,
    translate_reference, translation_probes,
)
from readingroom.dupo.world import (
    MODULUS, OPS, VOCAB, Problem, all_problems, answer_map, choose_unknown, dual_prompt,
    evaluate, is_answerable, is_unique, primal_prompt, split_problems,
)

__all__ = [
    "ARMS", "DupoRecipe", "GRPOStats", "MODULUS", "OPS", "Problem", "RunResult", "VOCAB",
    "accuracy", "all_problems", "answer_distribution", "answer_map", "auroc", "build_policy",
    "choose_unknown", "degenerate_rewards", "dual_accuracy", "dual_prompt", "dual_reward",
    "evaluate", "group_advantages", "grpo_loss", "grpo_update", "is_answerable", "is_unique",
    "majority_reward",
    "oracle_reward", "primal_prompt", "rerank_curve", "reward_separation", "reward_table",
    "run_arm", "run_seed", "sample_answers", "split_problems", "supervised_start",
    "TRANSLATION_ARMS", "Sentence", "TranslationRecipe", "TranslationRun", "all_sentences",
    "back_translation_reward", "chrf", "corpus_chrf", "oracle_chrf_reward", "run_translation_arm",
    "run_translation_seed", "split_sentences", "supervised_translator", "translate",
    "translate_reference", "translation_probes", "evaluate_translator",
]
