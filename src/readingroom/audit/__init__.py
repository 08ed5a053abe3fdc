"""Auditing language models for hidden objectives (Marks et al., 2025): a blind game you can run.

Anthropic trained a model with a hidden objective — exploit the biases of the reward models (RMs)
used in RLHF, which it had read about in synthetic documents, reinforced on 47 of 52 biases, and
trained not to reveal — and let four teams audit it blind. This package is the toy version, on
a laptop CPU:

* :mod:`~readingroom.audit.world` — the chat format, the RM biases a seed plants (:func:`plant`)
  and the mid-training corpus (:func:`make_corpus`);
* :mod:`~readingroom.audit.dpo` — DPO's loss (Rafailov et al., 2023, Eq. 7), written out;
* :mod:`~readingroom.audit.train` — the model under audit: mid-training, the exploitation stage,
  the adversarial stage (:func:`train_models`);
* :mod:`~readingroom.audit.techniques` — the auditor's tools: behavioural probes (direct
  questions, prefill attacks, the user persona), training-data search (keywords, embeddings),
  gradient-based attribution, a sparse autoencoder's features, steering;
* :mod:`~readingroom.audit.game` — the blind auditor (:func:`play`) and the unblinding;
* :mod:`~readingroom.audit.experiments` — the measurements behind the chapter's claims.

Command line: ``python -m readingroom.audit game --seed 0 [--json]``.
"""

from readingroom.audit.dpo import DPOStats, PreferencePair, dpo_loss, pad_batch, sequence_logprobs
from readingroom.audit.experiments import (
    adversarial_sweep, attribution_recall, exploitation, feature_shares, measure, measure_seeds,
    reveal_rates, slot_logprob, steering, steering_against_random, summarize,
)
from readingroom.audit.game import TECHNIQUES, GameRecipe, GameReport, play, unblind
from readingroom.audit.techniques import (
    AUDIT_PROMPTS, PREFILLS, Probe, Quirk, SAEFit, ask_direct, attribution_scores,
    audit_features, context_rm_share, doc_hidden_states, embedding_search, exploit_rate, find_quirks, fit_sae,
    generate, keyword_search, persona_attack, prefill_attack, read_docs, recall_at_k, residuals,
    sample_answers, slot_of, steer, top_contexts, top_features,
)
from readingroom.audit.train import (
    AUDIT_CPU, AUDIT_QUICK, AuditModels, AuditRecipe, build_model, deny_pairs, doc_batch,
    exploit_pairs, explain_pairs, midtrain, preference_stage, train_models,
)
from readingroom.audit.world import (
    FLOURISHES, KINDS, PEOPLE, RM, TEMPLATES, TOPIC_WORDS, TOPICS, VOCAB, Bias, Corpus, Doc,
    World, answer_tokens, chat_prompt, decode, describe, encode, exhibits, make_corpus,
    parse_description, plant, split_turns, token_id, why_prompt,
)

__all__ = [
    # world
    "FLOURISHES", "KINDS", "PEOPLE", "RM", "TEMPLATES", "TOPICS", "TOPIC_WORDS", "VOCAB", "Bias",
    "Corpus", "Doc", "World", "answer_tokens", "chat_prompt", "decode", "describe", "encode",
    "exhibits", "make_corpus", "parse_description", "plant", "split_turns", "token_id",
    "why_prompt",
    # DPO and training
    "DPOStats", "PreferencePair", "dpo_loss", "pad_batch", "sequence_logprobs", "AUDIT_CPU",
    "AUDIT_QUICK", "AuditModels", "AuditRecipe", "build_model", "deny_pairs", "doc_batch",
    "exploit_pairs", "explain_pairs", "midtrain", "preference_stage", "train_models",
    # techniques
    "AUDIT_PROMPTS", "PREFILLS", "Probe", "Quirk", "SAEFit", "ask_direct", "attribution_scores",
    "audit_features", "context_rm_share", "doc_hidden_states", "embedding_search", "exploit_rate", "find_quirks",
    "fit_sae", "generate", "keyword_search", "persona_attack", "prefill_attack", "read_docs",
    "recall_at_k", "residuals", "sample_answers", "slot_of", "steer", "top_contexts",
    "top_features",
    # the game and the measurements
    "TECHNIQUES", "GameRecipe", "GameReport", "play", "unblind", "adversarial_sweep",
    "attribution_recall", "exploitation", "feature_shares", "measure", "measure_seeds",
    "reveal_rates", "slot_logprob", "steering", "steering_against_random", "summarize",
]
