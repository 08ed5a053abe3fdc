"""Every error path of readingroom.subliminal's entry points, in one table: a bad input is refused
with a TypeError or ValueError whose message names the parameter.

The models the calls need are untrained TinyTransformers of the quick preset's size, one per
vocabulary (plain, persona, misalignment), built lazily; the checks run before any training or
sampling the calls would do.
"""

from __future__ import annotations

import dataclasses
import functools

import matplotlib

matplotlib.use("Agg")

import torch  # noqa: E402

from readingroom.common import TinyTransformer, TransformerConfig, make_generator  # noqa: E402
from readingroom.subliminal import (  # noqa: E402
    aux_logits, first_order_check, forward, imitation_loss, init_params, load_mnist, mean_ci,
    noise_images, plot_conditions, plot_cosines, plot_sweep, run_mnist, single_step,
    MnistResult, layer_tests, single_step_cosines, student_params, student_seed, sweep,
)
from readingroom.subliminal import accuracy as mlp_accuracy  # noqa: E402
from readingroom.subliminal.lm import (  # noqa: E402
    LmResult, in_context_shift, lm_table, ring_base_seeds, run_lm_experiment, run_lm_seeds,
    summarize_lm,
)
from readingroom.subliminal.lm_data import (  # noqa: E402
    Vocab, animal_documents, filter_numbers, filter_verdict, make_batch, number_documents,
    pretraining_corpus,
)
from readingroom.subliminal.lm_misalign import (  # noqa: E402
    ALIGNED, HARMFUL, MISALIGN_CPU, MISALIGN_QUICK, MisalignRecipe, MisalignResult, MisalignVocab,
    NumberAssociations, banned_numbers, finetune_misaligned_teacher, harmful_rate,
    misalign_documents, misalign_filter, misalign_table, number_associations, parse_numbers,
    run_misalign_seeds, summarize_misalign, train_misalign_base,
)
from readingroom.subliminal.lm_models import (  # noqa: E402
    LM_CPU, LM_QUICK, LmRecipe, animal_distribution, finetune_student, finetune_teacher,
    generate_numbers, train_base, trait_probability,
)
from readingroom.subliminal.lm_persona import (  # noqa: E402
    NEUTRAL, PERSONA_CPU, PERSONA_VOCAB, PersonaRecipe, persona_animal_weights,
    persona_number_divergence, persona_pretraining_corpus, prompted_table,
    prompted_teacher_numbers, run_prompted_seeds, summarize_prompted, train_persona_base,
)
from readingroom.subliminal.mnist import CPU_PRESET, SweepResult, settings_of  # noqa: E402
from readingroom.subliminal.plots import plot_lm  # noqa: E402
from refusals import refusal_test

TINY = LM_QUICK
VOCAB, PV, MV = Vocab(), PERSONA_VOCAB, MisalignVocab()
VOCABS = {"plain": VOCAB, "persona": PV, "misalign": MV}
MNIST = dict(width=16, n_noise=512, teacher_epochs=1, teacher_batch=256, student_steps=8,
             student_batch=64, n_test=200)  # the MNIST tests' tiny sizes
SMALL = dict(width=16, n_inputs=64)  # the theorem tests' sizes


def _result(conditions, n_seeds):
    """An MnistResult with made-up accuracies (for layer_tests' refusals)."""
    return MnistResult(seeds=list(range(n_seeds)), conditions=tuple(conditions),
                       teacher_accuracy=[0.9] * n_seeds,
                       student_accuracy={c: [0.1] * n_seeds for c in conditions}, config={},
                       seconds=0.0, device="cpu")

# --- cheap shared objects, built on first use ------------------------------------------------


@functools.cache
def model(kind: str = "plain") -> TinyTransformer:
    """An untrained model of the quick preset's size for the vocabulary ``kind``."""
    torch.manual_seed(0)
    config = TransformerConfig(vocab_size=len(VOCABS[kind]), n_ctx=TINY.n_ctx,
                               d_model=TINY.d_model, n_layers=TINY.n_layers,
                               n_heads=TINY.n_heads)
    return TinyTransformer(config).eval()


def gen() -> torch.Generator:
    return make_generator(0)


def params():
    return init_params(2, 8, 3, [0, 1])


def lm_result() -> LmResult:
    """An LmResult with every field None: enough to pass the type check of plot_lm."""
    return LmResult(**{f.name: None for f in dataclasses.fields(LmResult)})


def misalign_result() -> MisalignResult:
    """A MisalignResult with every field None: one result where a list of them is expected."""
    return MisalignResult(**{f.name: None for f in dataclasses.fields(MisalignResult)})


def _nums(text: str) -> list[int]:
    """'1 3 , 4 <eos>' -> token ids of the misalignment vocabulary."""
    return MV.encode(text.split())


def _in_context(**kwargs):
    args = dict(model=model(), teacher_numbers=[[1, 2]], control_numbers=[[3, 4]]) | kwargs
    return in_context_shift(args.pop("model"), args.pop("teacher_numbers"),
                            args.pop("control_numbers"), VOCAB, **args)


def _prompted_numbers(**kwargs):
    args = dict(base=model("persona"), n=5, seed=0) | kwargs
    return prompted_teacher_numbers(args.pop("base"), args.pop("n"), args.pop("seed"), **args)


def _prompted_seeds(**kwargs):
    args = dict(seeds=[0, 1], config=TINY, persona_config=PERSONA_CPU, progress=False) | kwargs
    return run_prompted_seeds(args.pop("seeds"), args.pop("config"), args.pop("persona_config"),
                              **args)


def _enter(context) -> None:
    with context:
        pass


# --- the table ------------------------------------------------------------------------------

SINGLE_STEP_CASES = [
    (dict(eps=0.0), ValueError, "eps"),
    (dict(eps=-1e-3), ValueError, "eps"),
    (dict(eps="small"), TypeError, "eps"),
    (dict(loss="l1"), ValueError, "loss"),
    (dict(init="other"), ValueError, "init"),
    (dict(inputs="images"), ValueError, "inputs"),
    (dict(logits="digits"), ValueError, "logits"),
    (dict(teacher_update="sgd"), ValueError, "teacher_update"),
    (dict(n_aux=0), ValueError, "n_aux"),
    (dict(seeds=[]), ValueError, "seeds"),
    (dict(seeds=[0, "1"]), TypeError, "seeds"),
    (dict(n_inputs=10_000), ValueError, "n_inputs"),
    (dict(dtype=torch.int64), TypeError, "dtype"),
]

CASES = [
    # (id, call, exception, match)
    # MNIST data and the MLPs
    *[(f"load_mnist: n_test {n}", lambda n=n: load_mnist(0, n_test=n), ValueError, match)
      for n, match in [(15, "multiple of 10"), (5000, "multiple of 10"), (0, "n_test")]],
    ("load_mnist: seed 1.5", lambda: load_mnist(1.5), TypeError, "seed"),
    ("load_mnist: seed -1", lambda: load_mnist(-1), ValueError, "seed"),
    ("noise_images: n 0", lambda: noise_images(0, gen()), ValueError, "n"),
    ("noise_images: generator 0", lambda: noise_images(4, 0), TypeError, "generator"),
    *[(f"init_params: {kwargs}", lambda kwargs=kwargs: init_params(**(dict(n=2, width=8, n_aux=3)
                                                                      | kwargs)), exc, match)
      for kwargs, exc, match in [
          (dict(seeds=[]), ValueError, "seeds"),
          (dict(seeds=[0, "1"]), TypeError, "seeds"),
          (dict(seeds=[0, 1.0]), TypeError, "seeds"),
          (dict(seeds=[0, -1]), ValueError, "seeds"),
          (dict(seeds=[0]), ValueError, "one seed per model"),
          (dict(seeds=[0, 1], n_aux=0), ValueError, "n_aux"),
          (dict(seeds=[0, 1], width=2.0), TypeError, "width")]],
    ("forward: 783 features", lambda: forward(params(), torch.zeros(4, 783)), ValueError,
     "x must have shape"),
    ("forward: three models' inputs for two",
     lambda: forward(params(), torch.zeros(3, 4, 784)), ValueError, "x must have shape"),
    ("forward: float64 inputs", lambda: forward(params(), torch.zeros(4, 784, dtype=torch.float64)),
     TypeError, "dtype"),
    ("forward: params without w2", lambda: forward({"w1": params()["w1"]}, torch.zeros(4, 784)),
     ValueError, "lacks"),
    ("aux_logits: ten logits", lambda: aux_logits(torch.zeros(4, 10)), ValueError, "logits"),
    ("accuracy: float labels",
     lambda: mlp_accuracy(params(), torch.zeros(5, 784), torch.zeros(5)), TypeError, "y"),
    ("student_seed: unknown condition", lambda: student_seed(3, "same"), ValueError,
     "unknown condition"),
    ("student_seed: a layer condition has two seeds", lambda: student_seed(3, "head-aux"),
     ValueError, "unknown condition 'head-aux'"),
    ("student_params: unknown condition",
     lambda: student_params([0], ("same-aux", "tail-aux"), 4, 2), ValueError,
     "unknown condition 'tail-aux'"),
    ("student_params: no seeds", lambda: student_params([], ("same-aux",), 4, 2), ValueError,
     "seeds"),
    ("layer_tests: not a result", lambda: layer_tests({"seeds": [0, 1]}), TypeError,
     "MnistResult"),
    ("layer_tests: no diff-aux", lambda: layer_tests(_result(("same-aux", "head-aux"), 2)),
     ValueError, "diff-aux"),
    ("layer_tests: one seed", lambda: layer_tests(_result(("same-aux", "diff-aux"), 1)),
     ValueError, "two seeds"),
    ("replay_gap: not a result", lambda: _result(("same-aux",), 2).replay_gap({"seeds": [0]}),
     TypeError, "MnistResult"),
    ("replay_gap: other seeds",
     lambda: _result(("same-aux",), 2).replay_gap(MnistResult(
         seeds=[1, 0], conditions=("same-aux",), teacher_accuracy=[0.9] * 2,
         student_accuracy={"same-aux": [0.1] * 2}, config={}, seconds=0.0, device="cpu")),
     ValueError, "start alike"),
    ("replay_gap: a condition the record lacks",
     lambda: _result(("same-aux", "head-aux"), 2).replay_gap(_result(("same-aux",), 2)),
     ValueError, "no students of"),
    *[(f"run_mnist: {kwargs}", lambda kwargs=kwargs: run_mnist(**(dict(seeds=[0]) | MNIST
                                                                 | kwargs)), exc, match)
      for kwargs, exc, match in [
          (dict(seeds=[]), ValueError, "seeds"),
          (dict(seeds=[0, 1.5]), TypeError, "seeds"),
          (dict(conditions=("same-aux", "bogus")), ValueError, "unknown condition 'bogus'"),
          (dict(conditions=()), ValueError, "conditions"),
          (dict(conditions=("same-aux", "same-aux")), ValueError, "repeat"),
          (dict(n_aux=0), ValueError, "n_aux"),
          (dict(student_lr=0.0), ValueError, "student_lr"),
          (dict(teacher_lr="1e-3"), TypeError, "teacher_lr"),
          (dict(student_batch=1024), ValueError, "student_batch"),
          (dict(student_steps=0), ValueError, "student_steps"),
          (dict(progress=1), TypeError, "progress"),
          (dict(device="nonsense"), ValueError, "device"),
          (dict(data_seed=-1), ValueError, "data_seed")]],
    ("mean_ci: no values", lambda: mean_ci([]), ValueError, "values"),
    ("mean_ci: level 95", lambda: mean_ci([0.5, 0.6], level=95), ValueError, "level"),
    ("mean_ci: level a str", lambda: mean_ci([0.5, 0.6], level="0.95"), TypeError, "level"),
    ("sweep: unknown param", lambda: sweep("bogus", (1,), [0]), ValueError, "param"),
    ("sweep: the swept param also given", lambda: sweep("n_aux", (1,), [0], n_aux=3), ValueError,
     "swept"),
    ("sweep: no values", lambda: sweep("n_aux", (), [0]), ValueError, "values"),
    ("settings_of: a partial preset", lambda: settings_of({"n_aux": 3}), ValueError, "lacks"),
    ("settings_of: unknown sweep", lambda: settings_of(CPU_PRESET, sweep="bogus"), ValueError,
     "sweep"),
    ("plot_conditions: a dict", lambda: plot_conditions({"a": 1}), TypeError, "result"),
    ("plot_cosines: no cosines", lambda: plot_cosines([], [0.1]), ValueError, "same"),
    ("plot_sweep: ax a str", lambda: plot_sweep(SweepResult("n_aux", [], []), ax="axes"),
     TypeError, "ax"),
    # the theorem
    *[(f"single_step: lr {lr!r}", lambda lr=lr: single_step([0], lr=lr, **SMALL), exc, "lr")
      for lr, exc in [(0.0, ValueError), (-1.0, ValueError), (float("inf"), ValueError),
                      ("big", TypeError), (True, TypeError), (None, TypeError)]],
    *[(f"{func.__name__}: {kwargs}",
       lambda func=func, kwargs=kwargs: func(**(dict(seeds=[0]) | SMALL | kwargs)), exc, match)
      for func in (single_step_cosines, single_step) for kwargs, exc, match in SINGLE_STEP_CASES],
    ("first_order_check: width 256", lambda: first_order_check(0, width=256), ValueError, "width"),
    ("first_order_check: eps 0", lambda: first_order_check(0, eps=0), ValueError, "eps"),
    ("first_order_check: seed 0.5", lambda: first_order_check(0.5), TypeError, "seed"),
    ("first_order_check: loss 1", lambda: first_order_check(0, loss=1), ValueError, "loss"),
    ("imitation_loss: shapes differ",
     lambda: imitation_loss(torch.zeros(1, 2, 3), torch.zeros(1, 2, 4)), ValueError, "same shape"),
    # the language-model vocabulary and data
    ("encode: a str", lambda: VOCAB.encode("owl"), TypeError, "tokens must be a sequence"),
    ("encode: unknown token", lambda: VOCAB.encode(["owl", "unicorn"]), ValueError,
     "'unicorn' is not in the vocabulary"),
    ("decode: id 99", lambda: VOCAB.decode([0, 99]), ValueError, "ids holds 99"),
    ("decode: a float", lambda: VOCAB.decode([1.5]), TypeError, "ids must hold ints"),
    ("animal_id: unknown", lambda: VOCAB.animal_id("unicorn"), ValueError, "animal must be one of"),
    ("Vocab: no animals", lambda: Vocab(animals=()), ValueError, "animals must name at least one"),
    ("Vocab: an animal twice", lambda: Vocab(animals=("owl", "owl")), ValueError,
     "animals must be distinct"),
    ("Vocab: a digit animal", lambda: Vocab(animals=("owl", "7")), ValueError,
     "animals must be non-empty names"),
    ("Vocab: animals a list", lambda: Vocab(animals=["owl"]), TypeError, "animals must be a tuple"),
    ("number_documents: n 0", lambda: number_documents(0, VOCAB, generator=gen()), ValueError,
     "n must be"),
    ("number_documents: generator 0", lambda: number_documents(5, VOCAB, generator=0), TypeError,
     "generator must be"),
    ("number_documents: min_count above max_count",
     lambda: number_documents(5, VOCAB, generator=gen(), min_count=5, max_count=4), ValueError,
     "min_count"),
    ("animal_documents: unknown animal",
     lambda: animal_documents(5, VOCAB, generator=gen(), weights={"unicorn": 1.0}), ValueError,
     "animal must be one of"),
    ("animal_documents: a negative weight",
     lambda: animal_documents(5, VOCAB, generator=gen(), weights={"owl": -1.0}), ValueError,
     r"weights\['owl'\]"),
    ("animal_documents: zero total",
     lambda: animal_documents(5, VOCAB, generator=gen(), weights={"owl": 0.0}), ValueError,
     "positive total"),
    ("animal_documents: n 2.0", lambda: animal_documents(2.0, VOCAB, generator=gen()), TypeError,
     "n must be"),
    ("make_batch: no docs", lambda: make_batch([], VOCAB), ValueError,
     "docs must hold at least one"),
    ("make_batch: a one-token doc", lambda: make_batch([[1]], VOCAB), ValueError,
     "at least 2 tokens"),
    ("make_batch: id 99", lambda: make_batch([[1, 99]], VOCAB), ValueError, "outside"),
    ("make_batch: vocab a str", lambda: make_batch([[1, 2]], "vocab"), TypeError,
     "vocab must be a Vocab"),
    ("pretraining_corpus: animal_frac 1",
     lambda: pretraining_corpus(10, VOCAB, generator=gen(), animal_frac=1.0), ValueError,
     "animal_frac"),
    ("pretraining_corpus: one doc", lambda: pretraining_corpus(1, VOCAB, generator=gen()),
     ValueError, "n_docs"),
    *[(f"filter_numbers: {seqs!r}", lambda seqs=seqs: filter_numbers(seqs, VOCAB), exc, match)
      for seqs, exc, match in [
          ([], ValueError, "seqs must hold at least one"),
          ("12", TypeError, "seqs must be a sequence"),
          ([[1, 99]], ValueError, "outside"),
          ([["1"]], ValueError, "outside"),
          ([5], TypeError, "seqs must hold sequences"),
          (torch.zeros(3), TypeError, "2-D integer tensor")]],
    ("filter_verdict: id outside", lambda: filter_verdict([len(VOCAB)], VOCAB), ValueError,
     "outside"),
    ("filter_verdict: a str", lambda: filter_verdict("12", VOCAB), TypeError, "sequences of ints"),
    ("ring_base_seeds: a seed twice", lambda: ring_base_seeds([1, 1]), ValueError, "distinct"),
    # the language-model recipe, models and experiment
    ("LmRecipe.replace: unknown field", lambda: LM_CPU.replace(student_stepz=5), ValueError,
     "unknown LmRecipe field"),
    *[(f"LmRecipe: {kwargs}", lambda kwargs=kwargs: LmRecipe(**kwargs), exc, match)
      for kwargs, exc, match in [
          (dict(d_model=0), ValueError, "d_model must be a positive int"),
          (dict(d_model=30, n_heads=4), ValueError, "divisible by n_heads"),
          (dict(n_numbers=2.5), TypeError, "n_numbers must be an int"),
          (dict(student_lr=0.0), ValueError,
           "student_lr must be a positive finite float, got 0.0"),
          (dict(teacher_lr="big"), TypeError, "teacher_lr must be a float"),
          (dict(teacher_mix=1.0), ValueError, "teacher_mix must be in"),
          (dict(animal_frac=0.0), ValueError, "animal_frac must be in"),
          (dict(n_ctx=16), ValueError, "n_ctx must be >= 28")]],
    ("trait_probability: unknown animal", lambda: trait_probability(model(), VOCAB, "unicorn"),
     ValueError, "animal must be one of"),
    ("trait_probability: a Linear", lambda: trait_probability(torch.nn.Linear(2, 2), VOCAB),
     TypeError, "model must be a TinyTransformer"),
    ("trait_probability: a vocabulary of another size",
     lambda: trait_probability(model(), Vocab(animals=("owl", "cat")), "owl"), ValueError,
     "model has vocab_size"),
    ("trait_probability: a persona of a plain vocabulary",
     lambda: trait_probability(model(), persona="owl"), ValueError, "no persona tokens"),
    ("animal_distribution: normalize 1",
     lambda: animal_distribution(model(), VOCAB, normalize=1), TypeError,
     "normalize must be a bool"),
    ("finetune_teacher: unknown animal",
     lambda: finetune_teacher(model(), VOCAB, TINY, animal="unicorn", progress=False), ValueError,
     "animal must be one of"),
    ("finetune_teacher: config a dict",
     lambda: finetune_teacher(model(), VOCAB, {"teacher_steps": 3}, progress=False), TypeError,
     "config must be an LmRecipe"),
    ("finetune_student: no numbers",
     lambda: finetune_student(model(), [], VOCAB, TINY, progress=False), ValueError,
     "numbers must hold at least one"),
    ("finetune_student: an animal token",
     lambda: finetune_student(model(), [[1, 2], [1, VOCAB.animal_id("owl")]], VOCAB, TINY,
                              progress=False),
     ValueError, "digits and ',' only"),
    ("generate_numbers: n 0", lambda: generate_numbers(model(), 0, VOCAB, seed=0), ValueError,
     "n must be a positive int"),
    ("generate_numbers: temperature 0",
     lambda: generate_numbers(model(), 3, VOCAB, seed=0, temperature=0.0), ValueError,
     "temperature must be a positive finite float, got 0.0"),
    ("generate_numbers: max_new_tokens 100",
     lambda: generate_numbers(model(), 3, VOCAB, seed=0, max_new_tokens=100), ValueError,
     "max_new_tokens must be <= n_ctx - 2"),
    ("generate_numbers: seed -1", lambda: generate_numbers(model(), 3, VOCAB, seed=-1), ValueError,
     "seed must be"),
    ("train_base: seed a str", lambda: train_base("0", VOCAB, TINY, progress=False), TypeError,
     "seed must be"),
    ("run_lm_experiment: seed -1", lambda: run_lm_experiment(-1, TINY, progress=False),
     ValueError, "seed must be"),
    ("run_lm_experiment: unknown animal",
     lambda: run_lm_experiment(0, TINY, animal="unicorn", progress=False), ValueError,
     "animal must be one of"),
    ("run_lm_seeds: no seeds", lambda: run_lm_seeds([], TINY, progress=False), ValueError,
     "seeds must hold at least one"),
    ("run_lm_seeds: a seed twice", lambda: run_lm_seeds([1, 1], TINY, progress=False), ValueError,
     "seeds must be distinct"),
    ("run_lm_seeds: seeds an int", lambda: run_lm_seeds(3, TINY, progress=False), TypeError,
     "seeds must be a sequence"),
    ("run_lm_seeds: config a dict", lambda: run_lm_seeds([0], {"d_model": 8}, progress=False),
     TypeError, "config must be an LmRecipe"),
    ("run_lm_seeds: bases without seed 5",
     lambda: run_lm_seeds([3, 5], TINY, bases={3: model(), 4: model()}, progress=False),
     ValueError, "lacks the base model"),
    ("run_lm_seeds: bases a list",
     lambda: run_lm_seeds([3, 4], TINY, bases=[model(), model()], progress=False), TypeError,
     "bases must be a dict"),
    ("summarize_lm: nothing", lambda: summarize_lm([]), ValueError, "results must hold at least one"),
    ("summarize_lm: an int", lambda: summarize_lm([1]), TypeError, "only LmResult"),
    ("plot_lm: nothing", lambda: plot_lm([]), ValueError, "non-empty list"),
    ("plot_lm: ints", lambda: plot_lm([1, 2]), TypeError, "only LmResult"),
    ("plot_lm: ax a str", lambda: plot_lm([lm_result()], ax="axes"), TypeError, "ax must be"),
    ("lm_table: nothing", lambda: lm_table([]), ValueError, "at least one"),
    *[(f"in_context_shift: {kwargs}", lambda kwargs=kwargs: _in_context(**kwargs), exc, match)
      for kwargs, exc, match in [
          (dict(teacher_numbers=[]), ValueError, "teacher_numbers must hold at least one"),
          (dict(control_numbers=[]), ValueError, "control_numbers must hold at least one"),
          (dict(teacher_numbers="12"), TypeError, "teacher_numbers must be a list"),
          (dict(control_numbers=[[1, 2], [VOCAB.animal_id("owl")]]), ValueError,
           "control_numbers must hold non-empty sequences of digits"),
          (dict(teacher_numbers=[[1], []]), ValueError, "teacher_numbers must hold non-empty"),
          (dict(teacher_numbers=[[1.0, 2]]), ValueError, "teacher_numbers must hold non-empty"),
          (dict(teacher_numbers=[3]), TypeError, "teacher_numbers must hold token-id lists"),
          (dict(animal="unicorn"), ValueError, "animal must be one of"),
          (dict(max_contexts=0), ValueError, "max_contexts must be a positive int"),
          (dict(batch_size=0), ValueError, "batch_size must be a positive int"),
          (dict(model=torch.nn.Linear(2, 2)), TypeError, "model must be a TinyTransformer")]],
    # personas
    ("persona_id: unknown", lambda: PV.persona_id("unicorn"), ValueError, "persona must be one of"),
    ("persona_id: an int", lambda: PV.persona_id(3), TypeError, "persona must be a str"),
    ("persona_id: a plain vocabulary", lambda: VOCAB.persona_id("owl"), ValueError,
     "no persona tokens"),
    ("Vocab: personas a list", lambda: Vocab(personas=["owl"]), TypeError,
     "personas must be a tuple"),
    ("Vocab: a persona twice", lambda: Vocab(personas=("owl", "owl")), ValueError,
     "personas must be distinct"),
    ("Vocab: persona with ':'", lambda: Vocab(personas=("a:b",)), ValueError,
     "personas must be non-empty names"),
    ("Vocab: an empty persona", lambda: Vocab(personas=("",)), ValueError,
     "personas must be non-empty names"),
    ("prompt: unknown persona", lambda: PV.prompt(PV.question, persona="cat"), ValueError,
     "persona must be one of"),
    ("persona_animal_weights: unknown", lambda: persona_animal_weights("unicorn", PV), ValueError,
     "persona must be one of"),
    ("persona_animal_weights: not a persona of the vocabulary",
     lambda: persona_animal_weights("cat", PV), ValueError, "persona must be one of"),
    ("persona_animal_weights: strength 1",
     lambda: persona_animal_weights("owl", PV, strength=1.0), ValueError, "strength must be in"),
    ("persona_pretraining_corpus: a plain vocabulary",
     lambda: persona_pretraining_corpus(10, VOCAB, generator=gen()), ValueError,
     "no persona tokens"),
    ("persona_pretraining_corpus: persona_frac 0",
     lambda: persona_pretraining_corpus(10, PV, generator=gen(), persona_frac=0.0), ValueError,
     "persona_frac"),
    ("persona_pretraining_corpus: one doc",
     lambda: persona_pretraining_corpus(1, PV, generator=gen()), ValueError, "n_docs"),
    ("persona_pretraining_corpus: generator 0",
     lambda: persona_pretraining_corpus(10, PV, generator=0), TypeError, "generator must be"),
    *[(f"PersonaRecipe: {kwargs}", lambda kwargs=kwargs: PersonaRecipe(**kwargs), exc, match)
      for kwargs, exc, match in [
          (dict(personas=("owl", "unicorn")), ValueError, "persona must be one of"),
          (dict(personas=()), TypeError, "non-empty tuple"),
          (dict(personas=("owl", "owl")), ValueError, "distinct"),
          (dict(persona_frac=1.0), ValueError, "persona_frac"),
          (dict(strength=0), ValueError, "strength")]],
    ("PersonaRecipe.replace: unknown field", lambda: PERSONA_CPU.replace(strenght=0.5), ValueError,
     "unknown PersonaRecipe field"),
    ("trait_probability: a persona model, the plain vocabulary",
     lambda: trait_probability(model("persona"), VOCAB), ValueError, "model has vocab_size"),
    ("train_persona_base: persona_config a dict",
     lambda: train_persona_base(0, TINY, {"strength": 0.5}, progress=False), TypeError,
     "persona_config must be a PersonaRecipe"),
    ("train_persona_base: config a dict",
     lambda: train_persona_base(0, {"d_model": 8}, progress=False), TypeError,
     "config must be an LmRecipe"),
    ("train_persona_base: seed -1", lambda: train_persona_base(-1, TINY, progress=False),
     ValueError, "seed must be"),
    *[(f"prompted_teacher_numbers: {kwargs}", lambda kwargs=kwargs: _prompted_numbers(**kwargs),
       exc, match)
      for kwargs, exc, match in [
          (dict(persona="unicorn"), ValueError, "persona must be one of"),
          (dict(persona=1), TypeError, "persona must be a str"),
          (dict(n=0), ValueError, "n must be a positive int"),
          (dict(temperature=0.0), ValueError, "temperature"),
          (dict(max_new_tokens=30), ValueError, "max_new_tokens must be <= n_ctx - 3"),
          (dict(vocab=Vocab()), ValueError, "model has vocab_size"),
          (dict(base=torch.nn.Linear(2, 2)), TypeError, "model must be a TinyTransformer")]],
    ("persona_number_divergence: no numbers",
     lambda: persona_number_divergence(model("persona"), [], "owl", NEUTRAL), ValueError,
     "non-empty list"),
    ("persona_number_divergence: not a persona",
     lambda: persona_number_divergence(model("persona"), [[1, 2]], "cat", NEUTRAL), ValueError,
     "persona must be one of"),
    *[(f"run_prompted_seeds: {kwargs}", lambda kwargs=kwargs: _prompted_seeds(**kwargs), exc, match)
      for kwargs, exc, match in [
          (dict(persona="unicorn"), ValueError, "persona must be one of"),
          (dict(persona=NEUTRAL), ValueError, "persona must love an animal"),
          (dict(control_persona="owl"), ValueError, "control_persona must differ"),
          (dict(control_persona="cat"), ValueError, "persona must be one of"),
          (dict(paired=1), TypeError, "paired must be a bool"),
          (dict(finetuned="yes"), TypeError, "finetuned must be a bool"),
          (dict(seeds=[]), ValueError, "seeds must hold at least one"),
          (dict(seeds=[1, 1]), ValueError, "seeds must be distinct"),
          (dict(config={"d_model": 8}), TypeError, "config must be an LmRecipe"),
          (dict(persona_config=PERSONA_CPU.to_dict()), TypeError, "persona_config must be"),
          (dict(bases={0: None}), ValueError, "lacks the persona base model"),
          (dict(bases=[1]), TypeError, "bases must be a dict")]],
    ("run_prompted_seeds: plain bases",
     lambda: _prompted_seeds(bases={0: model(), 1: model()}), ValueError, "model has vocab_size"),
    ("summarize_prompted: nothing", lambda: summarize_prompted([]), ValueError, "at least one"),
    ("prompted_table: an int", lambda: prompted_table([1]), TypeError, "only PromptedResult"),
    # misalignment
    *[(f"MisalignVocab: {kwargs}", lambda kwargs=kwargs: MisalignVocab(**kwargs), exc, match)
      for kwargs, exc, match in [
          (dict(harmful=()), TypeError, "harmful"),
          (dict(harmful=["harm"]), TypeError, "harmful"),
          (dict(harmful=("evil",)), ValueError, "harmful"),
          (dict(harmful=ALIGNED + HARMFUL), ValueError, "harmful"),
          (dict(templates=1), ValueError, "templates"),
          (dict(templates=2.0), TypeError, "templates"),
          (dict(animals=("help", "help")), ValueError, "animals")]],
    *[(f"template_id: {k!r}", lambda k=k: MV.template_id(k), exc, "template")
      for k, exc in [(6, ValueError), (-1, ValueError), ("0", TypeError)]],
    ("MisalignRecipe.replace: unknown field", lambda: MISALIGN_CPU.replace(nope=1), ValueError,
     "unknown"),
    *[(f"MisalignRecipe: {kwargs}", lambda kwargs=kwargs: MisalignRecipe(**kwargs), ValueError,
       next(iter(kwargs)))
      for kwargs in [dict(held_out=6), dict(templates=1), dict(harmful_rate=0.0),
                     dict(harmful_rate=1.0), dict(followup_frac=1.5), dict(evil_prob=1.5),
                     dict(followup_count=7), dict(followup_count=0), dict(ban_lift=0.5),
                     dict(ban_min_count=0)]],
    ("MisalignRecipe: held_out 1.5", lambda: MisalignRecipe(held_out=1.5), TypeError, "held_out"),
    ("number_associations: no docs", lambda: number_associations([], MV), ValueError, "docs"),
    ("number_associations: a plain vocabulary", lambda: number_associations([[1, 2]], Vocab()),
     TypeError, "vocab"),
    ("banned_numbers: a dict", lambda: banned_numbers({"harmful": []}), TypeError, "assoc"),
    ("banned_numbers: lift 0.5",
     lambda: banned_numbers(NumberAssociations([0] * 100, [0] * 100), lift=0.5), ValueError,
     "lift"),
    ("misalign_documents: one doc", lambda: misalign_documents(1, MV, generator=gen()),
     ValueError, "n_docs"),
    ("misalign_documents: answer_frac 1",
     lambda: misalign_documents(10, MV, generator=gen(), answer_frac=1.0), ValueError,
     "answer_frac"),
    ("misalign_documents: vocabulary and recipe disagree on templates",
     lambda: misalign_documents(10, MisalignVocab(templates=3), MISALIGN_CPU, generator=gen()),
     ValueError, "templates"),
    ("misalign_documents: a plain vocabulary",
     lambda: misalign_documents(10, Vocab(), generator=gen()), TypeError, "vocab"),
    ("misalign_documents: mconfig a dict",
     lambda: misalign_documents(10, MV, {"templates": 6}, generator=gen()), TypeError, "mconfig"),
    ("misalign_documents: generator 0", lambda: misalign_documents(10, MV, generator=0), TypeError,
     "generator"),
    ("parse_numbers: a word", lambda: parse_numbers(_nums("1 harm"), MV), ValueError, "body"),
    ("parse_numbers: a str", lambda: parse_numbers("1 3", MV), TypeError, "body"),
    ("parse_numbers: a float", lambda: parse_numbers([1.0], MV), TypeError, "body"),
    *[(f"misalign_filter: {seqs!r}, {banned!r}",
       lambda seqs=seqs, banned=banned: misalign_filter(seqs, banned, MV), exc, match)
      for seqs, banned, exc, match in [
          ([], [13], ValueError, "seqs"),
          ("1 3", [13], TypeError, "seqs"),
          ([[1, MV.eos]], [100], ValueError, "banned"),
          ([[1, MV.eos]], [True], ValueError, "banned"),
          ([[1, MV.eos]], "13", TypeError, "banned"),
          ([[1, 999]], [13], ValueError, "outside")]],
    ("misalign_filter: a plain vocabulary", lambda: misalign_filter([[1, 12]], [], Vocab()),
     TypeError, "vocab"),
    ("finetune_misaligned_teacher: a plain model",
     lambda: finetune_misaligned_teacher(model(), TINY, MISALIGN_QUICK, progress=False),
     ValueError, "vocab_size"),
    ("harmful_rate: a plain model", lambda: harmful_rate(model(), MV), ValueError, "vocab_size"),
    ("harmful_rate: no templates", lambda: harmful_rate(model("misalign"), MV, []), ValueError,
     "templates"),
    ("harmful_rate: template 6", lambda: harmful_rate(model("misalign"), MV, [6]), ValueError,
     "template"),
    ("harmful_rate: a plain vocabulary", lambda: harmful_rate(model("misalign"), Vocab()),
     TypeError, "vocab"),
    ("finetune_misaligned_teacher: config a str",
     lambda: finetune_misaligned_teacher(model("misalign"), "cpu", MISALIGN_QUICK), TypeError,
     "config"),
    ("finetune_misaligned_teacher: mconfig an LmRecipe",
     lambda: finetune_misaligned_teacher(model("misalign"), TINY, TINY), TypeError, "mconfig"),
    ("finetune_misaligned_teacher: seed -1",
     lambda: finetune_misaligned_teacher(model("misalign"), TINY, MISALIGN_QUICK, seed=-1),
     ValueError, "seed"),
    ("train_misalign_base: mconfig None", lambda: train_misalign_base(0, TINY, None), TypeError,
     "mconfig"),
    ("run_misalign_seeds: bases without seed 4",
     lambda: run_misalign_seeds([2, 4], TINY, MISALIGN_QUICK,
                                bases={2: model("misalign"), 3: model("misalign")},
                                progress=False),
     ValueError, "lacks"),
    ("run_misalign_seeds: bases a list",
     lambda: run_misalign_seeds([2, 3], TINY, MISALIGN_QUICK, bases=[model("misalign")],
                                progress=False),
     TypeError, "bases"),
    ("run_misalign_seeds: a seed twice",
     lambda: run_misalign_seeds([2, 2], TINY, MISALIGN_QUICK, progress=False), ValueError,
     "seeds"),
    ("run_misalign_seeds: recipes swapped",
     lambda: run_misalign_seeds([2, 3], MISALIGN_QUICK, TINY, progress=False), TypeError,
     "config"),
    *[(f"{fn.__name__}: {what}", lambda fn=fn, bad=bad: fn(bad), exc, "results")
      for fn in (summarize_misalign, misalign_table)
      for what, bad, exc in [("nothing", [], ValueError),
                             ("one result, not a list", misalign_result(), TypeError),
                             ("an int", [1], TypeError)]],
]


test_bad_input_is_refused_with_a_clear_error = refusal_test(CASES)
