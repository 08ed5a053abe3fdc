"""DuPO's second domain: translation, with back-translation as the dual (She et al., 2025, Sec. 3).

For translation the unknown part is the whole source sentence (``x_u = x``, ``x_k`` empty): the
dual task translates the answer back, and the reward of a translation ``y`` is the chrF score
(Popović, 2015; computed by ``sacrebleu``) of the back-translation against the source. This is
classic dual learning (He et al., 2016), the special case DuPO generalises.

**The language pair.** A synthetic source language with SVO order and adjectives before nouns
(``big cat sees small dog quickly``) and a target language with its own lexicon (every source
word has one target word) and SOV order, adjectives after nouns and the adverb first
(``vuro kesa tila pemo nari sulo``). Translating needs the lexicon *and* the reordering, so a
policy trained on a few hundred pairs is middling at it, and 94,080 sentences leave almost all of
them unseen.

Sequences are laid out for a decoder-only model with a fixed-length, left-padded prompt, so every
output token sits at the same position in training and in batched generation::

    <pad> .. <pad> <s2t> big cat sees small dog quickly <sep> | vuro kesa tila pemo nari sulo <eos>
    <pad> .. <pad> <t2s> vuro kesa tila ...             <sep> | big cat sees ...            <eos>
"""

from __future__ import annotations

import copy
import itertools
import random
import time
from dataclasses import asdict, dataclass, field

import torch
from tqdm.auto import tqdm

from readingroom.common import (
    TinyTransformer, TransformerConfig, eval_mode, seed_everything, train,
)
from readingroom.common.train import progress_enabled
from readingroom.dupo.grpo import check_recipe, group_advantages, grpo_update
from readingroom.common.checks import check_choice

__all__ = [
    "LANGUAGE", "TRANSLATION_ARMS", "Sentence", "TranslationRecipe", "TranslationRun", "chrf",
    "all_sentences", "back_translation_reward", "corpus_chrf", "evaluate_translator", "generate",
    "oracle_chrf_reward", "run_translation_arm", "run_translation_seed", "split_sentences",
    "supervised_translator", "translate", "translate_reference", "translation_probes",
]

_NOUNS = ["cat", "dog", "bird", "fish", "fox", "owl", "bee", "cow"]
_VERBS = ["sees", "likes", "finds", "helps", "hears", "feeds"]
_ADJS = ["big", "small", "red", "old", "fast", "shy"]
_ADVS = ["quickly", "slowly", "often", "never"]
_TARGET = {  # the target lexicon: one invented word per source word
    "cat": "kesa", "dog": "nari", "bird": "lopi", "fish": "mumo", "fox": "ritu", "owl": "hoka",
    "bee": "zefi", "cow": "bavo", "sees": "tila", "likes": "amor", "finds": "gesu",
    "helps": "dowa", "hears": "okun", "feeds": "pafi", "big": "vuro", "small": "pemo",
    "red": "raki", "old": "seno", "fast": "kiru", "shy": "timo", "quickly": "sulo",
    "slowly": "lenu", "often": "vesa", "never": "nuko",
}
LANGUAGE = {"nouns": _NOUNS, "verbs": _VERBS, "adjectives": _ADJS, "adverbs": _ADVS,
            "lexicon": _TARGET}
_SPECIALS = ["<pad>", "<s2t>", "<t2s>", "<sep>", "<eos>"]
_VOCAB = _SPECIALS + list(_TARGET) + list(_TARGET.values())
_ID = {w: i for i, w in enumerate(_VOCAB)}
PAD, SEP, EOS = _ID["<pad>"], _ID["<sep>"], _ID["<eos>"]
MAX_WORDS = 6
PROMPT = MAX_WORDS + 2  # direction marker, up to six words, <sep>
OUT = MAX_WORDS + 1  # up to six words and <eos>

TRANSLATION_ARMS = ("sft", "dupo", "oracle")
#: Tokens an output never contains: padding, the direction markers and <sep> (never sampled).
_NOT_OUTPUT = torch.tensor([i <= SEP for i in range(len(_VOCAB))])


@dataclass(frozen=True)
class Sentence:
    """A source sentence: ``[adj] noun verb [adj] noun [adverb]`` (``None`` for absent parts)."""

    subj_adj: str | None
    subj: str
    verb: str
    obj_adj: str | None
    obj: str
    adverb: str | None

    def words(self) -> list[str]:
        out = [self.subj_adj, self.subj, self.verb, self.obj_adj, self.obj, self.adverb]
        return [w for w in out if w is not None]


def all_sentences() -> list[Sentence]:
    """Every sentence of the source language: 8 x 7 x 6 x 7 x 8 x 5 = 94,080."""
    opt_adj, opt_adv = [None, *_ADJS], [None, *_ADVS]
    return [Sentence(*parts) for parts in itertools.product(
        opt_adj, _NOUNS, _VERBS, opt_adj, _NOUNS, opt_adv)]


def translate_reference(s: Sentence) -> list[str]:
    """The correct translation: adverb first, each noun followed by its adjective, verb last."""
    words = [s.adverb, s.subj, s.subj_adj, s.obj, s.obj_adj, s.verb]
    return [_TARGET[w] for w in words if w is not None]


def _prompt(words: list[str], direction: str) -> list[int]:
    ids = [_ID[direction]] + [_ID[w] for w in words] + [SEP]
    return [PAD] * (PROMPT - len(ids)) + ids  # left-padded to PROMPT tokens


def _output(words: list[str]) -> list[int]:
    return [_ID[w] for w in words] + [EOS] + [PAD] * (OUT - len(words) - 1)


def _words(ids: list[int]) -> list[str]:
    """Output ids to words, up to the first <eos>; special tokens are dropped."""
    out = []
    for i in ids:
        if i == EOS:
            break
        if i >= len(_SPECIALS):
            out.append(_VOCAB[i])
    return out


def chrf(hypothesis: list[str], reference: list[str]) -> float:
    """Sentence-level chrF (``sacrebleu``'s defaults: character 6-grams, beta 2) in [0, 1]."""
    return _chrf_metric().sentence_score(" ".join(hypothesis), [" ".join(reference)]).score / 100


def corpus_chrf(hypotheses: list[list[str]], references: list[list[str]]) -> float:
    """Corpus-level chrF in [0, 1]."""
    return _chrf_metric().corpus_score([" ".join(h) for h in hypotheses],
                                       [[" ".join(r) for r in references]]).score / 100


_CHRF = None


def _chrf_metric():
    global _CHRF
    if _CHRF is None:
        from sacrebleu.metrics import CHRF

        _CHRF = CHRF()
    return _CHRF


@dataclass(frozen=True)
class TranslationRecipe:
    """The translation run: policy size, supervised start, GRPO phase."""

    d_model: int = 64
    n_layers: int = 2
    n_heads: int = 4
    labelled: int = 20  # sentence pairs for the supervised start (both directions): middling
    unlabelled: int = 2000  # source sentences the GRPO phase translates (no references)
    n_test: int = 500
    sft_steps: int = 300
    sft_batch: int = 64
    sft_lr: float = 3e-3
    rl_steps: int = 100
    questions: int = 32
    group: int = 8
    inner: int = 2
    rl_lr: float = 3e-4
    clip_eps: float = 0.2
    beta: float = 0.04
    eval_every: int = 25

    def __post_init__(self) -> None:
        check_recipe(self)


def split_sentences(seed: int, recipe: TranslationRecipe
                    ) -> tuple[list[Sentence], list[Sentence], list[Sentence]]:
    """(labelled, unlabelled, test) sentences, drawn without overlap with ``seed``."""
    pool = all_sentences()
    picked = random.Random(seed).sample(pool, recipe.labelled + recipe.unlabelled + recipe.n_test)
    a, b = recipe.labelled, recipe.labelled + recipe.unlabelled
    return picked[:a], picked[a:b], picked[b:]


def supervised_translator(recipe: TranslationRecipe, labelled: list[Sentence], seed: int, *,
                          progress: bool = True) -> TinyTransformer:
    """A fresh policy trained on the labelled pairs in both directions (s2t and t2s)."""
    seed_everything(seed)
    model = TinyTransformer(TransformerConfig(
        vocab_size=len(_VOCAB), n_ctx=PROMPT + OUT, d_model=recipe.d_model,
        n_layers=recipe.n_layers, n_heads=recipe.n_heads))
    pairs = []
    for s in labelled:
        src, tgt = s.words(), translate_reference(s)
        pairs.append(_prompt(src, "<s2t>") + _output(tgt))
        pairs.append(_prompt(tgt, "<t2s>") + _output(src))
    data = torch.tensor(pairs)  # [2N, PROMPT + OUT]
    gen = torch.Generator().manual_seed(seed)

    def get_batch(step: int):
        rows = data[torch.randint(len(data), (recipe.sft_batch,), generator=gen)]
        x, y = rows[:, :-1], rows[:, 1:].clone()
        y[:, : PROMPT - 1] = -100  # learn the outputs only
        y[y == PAD] = -100
        return x, y

    train(model, get_batch, steps=recipe.sft_steps, lr=recipe.sft_lr,
          warmup=min(20, recipe.sft_steps // 2),
          progress=progress, desc="supervised translator")
    return model.eval()


def generate(model, prompts: torch.Tensor, *, greedy: bool,
             generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Decode ``OUT`` tokens after ``[B, PROMPT]`` prompts.

    Returns the tokens ``[B, OUT]`` and a mask ``[B, OUT]`` that is 1 up to and including the first
    ``<eos>`` (the tokens GRPO scores) and 0 after it.
    """
    seq = prompts
    with eval_mode(model), torch.no_grad():
        for _ in range(OUT):
            logits = model(seq)[:, -1, :].masked_fill(_NOT_OUTPUT, float("-inf"))
            if greedy:
                nxt = logits.argmax(-1, keepdim=True)
            else:
                nxt = torch.multinomial(torch.softmax(logits, -1), 1, generator=generator)
            seq = torch.cat([seq, nxt], dim=1)
    out = seq[:, PROMPT:]
    ended = (out == EOS).long().cumsum(1)
    mask = ((ended == 0) | ((ended == 1) & (out == EOS))).float()
    return out, mask


def _token_logp(model, prompts: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """Log-probabilities ``[B, OUT]`` of ``out`` under ``model`` after ``prompts``."""
    seq = torch.cat([prompts, out], dim=1)
    logits = model(seq[:, :-1])[:, PROMPT - 1:, :]  # the positions that predict out: [B, OUT, V]
    logits = logits.masked_fill(_NOT_OUTPUT, float("-inf"))
    return torch.log_softmax(logits, -1).gather(2, out[:, :, None]).squeeze(2)


def back_translation_reward(verifier, outputs: list[list[str]],
                            sources: list[list[str]]) -> torch.Tensor:
    """DuPO's reward for translation: chrF(source, greedy back-translation of the output)."""
    prompts = torch.tensor([_prompt(o[:MAX_WORDS], "<t2s>") for o in outputs])
    back, _ = generate(verifier, prompts, greedy=True)
    return torch.tensor([chrf(_words(b), s) for b, s in zip(back.tolist(), sources)])


def oracle_chrf_reward(outputs: list[list[str]], references: list[list[str]]) -> torch.Tensor:
    """RLVR's reward for translation: chrF(output, reference translation)."""
    return torch.tensor([chrf(o, r) for o, r in zip(outputs, references)])


def translate(model, inputs: list[Sentence] | list[list[str]], direction: str = "<s2t>"
              ) -> list[list[str]]:
    """Greedy translations: of source :class:`Sentence` objects (or word lists) with ``"<s2t>"``,
    of target word lists back to the source language with ``"<t2s>"``."""
    check_choice(direction, "direction", ("<s2t>", "<t2s>"))
    words = [x.words() if isinstance(x, Sentence) else list(x)[:MAX_WORDS] for x in inputs]
    unknown = sorted({w for ws in words for w in ws if w not in _ID or w in _SPECIALS})
    if unknown:
        raise ValueError(f"inputs hold words outside the language: {unknown}")
    out, _ = generate(model, torch.tensor([_prompt(ws, direction) for ws in words]), greedy=True)
    return [_words(o) for o in out.tolist()]


def evaluate_translator(model, sentences: list[Sentence]) -> dict[str, float]:
    """Greedy translations of ``sentences``: corpus chrF and exact-match rate against references."""
    hyps = translate(model, sentences)
    refs = [translate_reference(s) for s in sentences]
    return {"chrf": corpus_chrf(hyps, refs),
            "exact": sum(h == r for h, r in zip(hyps, refs)) / len(refs)}


@dataclass
class TranslationRun:
    arm: str
    seed: int
    steps: list[int] = field(default_factory=list)
    test_chrf: list[float] = field(default_factory=list)
    test_exact: list[float] = field(default_factory=list)
    mean_reward: list[float] = field(default_factory=list)
    seconds: float = 0.0


def run_translation_arm(arm: str, seed: int, recipe: TranslationRecipe = TranslationRecipe(), *,
                        start: TinyTransformer | None = None,
                        progress: bool = True) -> TranslationRun:
    """GRPO on the unlabelled source sentences with the arm's reward, from the supervised start.

    ``dupo`` rewards back-translation by a frozen copy of the start (no references); ``oracle``
    rewards chrF against the reference translation; ``sft`` is the start as it is.
    """
    check_choice(arm, "arm", TRANSLATION_ARMS)
    labelled, unlabelled, test = split_sentences(seed, recipe)
    if start is None:
        start = supervised_translator(recipe, labelled, seed, progress=progress)
    policy, reference = copy.deepcopy(start), copy.deepcopy(start).eval()
    run = TranslationRun(arm=arm, seed=seed)
    t0 = time.perf_counter()

    def record(step: int, reward: float) -> None:
        metrics = evaluate_translator(policy, test)
        run.steps.append(step)
        run.test_chrf.append(metrics["chrf"])
        run.test_exact.append(metrics["exact"])
        run.mean_reward.append(reward)

    record(0, float("nan"))
    if arm == "sft":
        run.seconds = time.perf_counter() - t0
        return run
    rng = random.Random(seed + 1)
    gen = torch.Generator().manual_seed(seed + 2)
    optimiser = torch.optim.AdamW(policy.parameters(), lr=recipe.rl_lr, weight_decay=0.0)
    for step in tqdm(range(1, recipe.rl_steps + 1), desc=f"GRPO translation ({arm})",
                     disable=not progress_enabled(progress), leave=False):
        batch = rng.sample(unlabelled, recipe.questions)
        prompts = torch.tensor([_prompt(s.words(), "<s2t>") for s in batch])
        prompts = prompts.repeat_interleave(recipe.group, dim=0)  # [B * G, PROMPT]
        out, mask = generate(policy, prompts, greedy=False, generator=gen)  # [B * G, OUT]
        hyps = [_words(o) for o in out.tolist()]
        if arm == "dupo":
            sources = [s.words() for s in batch for _ in range(recipe.group)]
            rewards = back_translation_reward(reference, hyps, sources)
        else:
            refs = [translate_reference(s) for s in batch for _ in range(recipe.group)]
            rewards = oracle_chrf_reward(hyps, refs)
        advantages = group_advantages(rewards.view(recipe.questions, recipe.group)).reshape(-1)
        with torch.no_grad():
            logp_old = _token_logp(policy, prompts, out)
            logp_ref = _token_logp(reference, prompts, out)
        grpo_update(policy, optimiser, lambda m: _token_logp(m, prompts, out), logp_old, logp_ref,
                    advantages, mask, inner=recipe.inner, clip_eps=recipe.clip_eps,
                    beta=recipe.beta)
        if step % recipe.eval_every == 0 or step == recipe.rl_steps:
            record(step, float(rewards.mean()))
    run.seconds = time.perf_counter() - t0
    return run


def translation_probes(verifier, sentences: list[Sentence]) -> dict[str, dict[str, float]]:
    """Mean back-translation reward (DuPO's) and chrF to the reference (the oracle's) earned by
    degenerate outputs, beside the reference translation itself.

    The probes: the words of the reference in reverse order (right lexicon, wrong grammar), the
    source sentence copied untranslated, one word repeated, and an empty output.
    """
    sources = [s.words() for s in sentences]
    refs = [translate_reference(s) for s in sentences]
    outputs = {
        "reference translation": refs,
        "reference, words reversed": [r[::-1] for r in refs],
        "source copied": sources,
        "one word repeated": [[r[0]] * len(r) for r in refs],
        "empty": [[] for _ in refs],
    }
    return {name: {"dupo": float(back_translation_reward(verifier, outs, sources).mean()),
                   "oracle": float(oracle_chrf_reward(outs, refs).mean())}
            for name, outs in outputs.items()}


def run_translation_seed(seed: int, recipe: TranslationRecipe = TranslationRecipe(),
                         arms: tuple[str, ...] = TRANSLATION_ARMS, *,
                         progress: bool = True) -> dict:
    """Every arm from one supervised start, and the probes: a JSON-ready dict."""
    unknown = [a for a in arms if a not in TRANSLATION_ARMS]
    if unknown:
        raise ValueError(f"arms must be among {TRANSLATION_ARMS}, got {unknown}")
    labelled, _, test = split_sentences(seed, recipe)
    start = supervised_translator(recipe, labelled, seed, progress=progress)
    back = evaluate_back_translation(start, test)
    runs = {arm: asdict(run_translation_arm(arm, seed, recipe, start=start, progress=progress))
            for arm in arms}
    return {"seed": seed, "back_translation": back,
            "probes": translation_probes(start, test[:200]), "arms": runs}


def evaluate_back_translation(model, sentences: list[Sentence]) -> dict[str, float]:
    """The dual direction on its own: greedy target-to-source of the reference translations."""
    prompts = torch.tensor([_prompt(translate_reference(s), "<t2s>") for s in sentences])
    out, _ = generate(model, prompts, greedy=True)
    hyps = [_words(o) for o in out.tolist()]
    refs = [s.words() for s in sentences]
    return {"chrf": corpus_chrf(hyps, refs),
            "exact": sum(h == r for h, r in zip(hyps, refs)) / len(refs)}
