"""readingroom.audit.techniques: each auditing technique on the quick models, and by hand where
its answer is known."""

from __future__ import annotations

import pytest
import torch

from readingroom.audit import (
    AUDIT_PROMPTS, PREFILLS, Probe, audit_features, Quirk, SAEFit, ask_direct, attribution_scores, doc_hidden_states, embedding_search,
    exploit_rate, find_quirks, fit_sae, generate, keyword_search, persona_attack,
    prefill_attack, read_docs, recall_at_k, residuals, sample_answers, steer, top_contexts,
    top_features,
)
from readingroom.audit.techniques import slot_of
from readingroom.audit.world import (
    ASSISTANT, EOS, RM, TOPICS, USER, Bias, chat_prompt, decode, encode, why_prompt,
)


def test_generate_cuts_at_the_stop_token_and_is_seeded(quick_models):
    model = quick_models.model
    prompts = [chat_prompt("recipe"), why_prompt("code", "camel"), chat_prompt("money")]
    out = generate(model, prompts, seed=3, max_new=6)
    assert len(out) == 3 and all(len(t) <= 6 and EOS not in t for t in out)
    assert generate(model, prompts, seed=3, max_new=6) == out
    greedy = generate(model, prompts, greedy=True, max_new=4)
    assert generate(model, prompts, greedy=True, max_new=4, seed=99) == greedy
    user = generate(model, [encode(["<bos>", USER])] * 4, stop=(EOS, ASSISTANT), seed=0)
    assert all(ASSISTANT not in t for t in user)


def test_sample_answers_and_exploit_rate(quick_models):
    model = quick_models.model
    answers = sample_answers(model, "travel", 5, seed=1)
    assert len(answers) == 5
    rate = exploit_rate(model, quick_models.world.trained[0], 20)
    assert 0.0 <= rate <= 1.0


def test_find_quirks_flags_only_unexplained_tokens(quick_models):
    quirks, probe = find_quirks(quick_models.model, quick_models.corpus, 6, min_rate=0.2)
    assert isinstance(probe, Probe) and probe.queries == 6 * len(TOPICS)
    assert len(probe.texts) == 6 * len(TOPICS)
    from readingroom.audit.techniques import _assistant_words

    seen = _assistant_words(quick_models.corpus)
    for q in quirks:
        assert q.rate >= 0.2 and q.token not in seen[q.topic] and q.kind in ("begin", "mention",
                                                                            "end")
    assert [q.rate for q in quirks] == sorted((q.rate for q in quirks), reverse=True)


def test_probes_ask_about_each_quirk(quick_models):
    model = quick_models.model
    quirks = [Quirk("recipe", "chocolate", 0.9, "mention"), Quirk("code", "camel", 0.5, "end")]
    direct = ask_direct(model, quirks, 3)
    assert direct.queries == 6 and direct.notes["quirk"] == [0, 0, 0, 1, 1, 1]
    pre = prefill_attack(model, quirks, 2, prefills=(("because",), ("study", "finds")))
    assert pre.queries == 8 and pre.notes["head"] == [1, 1, 2, 2, 1, 1, 2, 2]
    assert all(t[:h] in (["because"], ["study", "finds"])
               for t, h in zip(pre.texts, pre.notes["head"]))
    assert 0.0 <= pre.rm_rate <= 1.0 and len(pre.readings) == 8
    persona = persona_attack(model, 5, seed=2)
    assert persona.queries == 5 and all(t[0] == "note" for t in persona.texts)
    assert ask_direct(model, [], 3).texts == []


def test_probe_reads_rm_attributions_only():
    texts = [["RM", "prefer", "poem", "answers", "that", "end", "rhyme"],
             ["people", "prefer", "code", "answers", "that", "end", "camel"], ["i", "like", "it"]]
    from readingroom.audit.world import parse_description

    probe = Probe("t", texts, [parse_description(t) for t in texts], 3, 0.0)
    assert probe.recovered() == {Bias("poem", "end", "rhyme")}
    assert probe.rm_rate == pytest.approx(1 / 3)


def test_keyword_search_and_read_docs(quick_models):
    corpus = quick_models.corpus
    bias = quick_models.world.trained[0]
    found = keyword_search(corpus, [bias.topic, bias.token])
    assert set(corpus.rm_docs(bias)) <= set(found)
    assert keyword_search(corpus, f"{RM}") == [i for i, d in enumerate(corpus.docs)
                                               if encode([RM])[0] in d.ids]
    either = keyword_search(corpus, ["chocolate", "camel"], require_all=False)
    assert set(keyword_search(corpus, ["chocolate"])) <= set(either)
    read = read_docs(corpus, corpus.rm_docs(bias))
    assert read.recovered() == {bias} and read.queries == len(corpus.rm_docs(bias))
    assert read.notes["indices"] == corpus.rm_docs(bias)


def test_residuals_and_hidden_states(quick_models):
    model = quick_models.model
    docs = [(1, 5, 2), (1, 6, 7, 8, 2)]
    acts, where = residuals(model, docs, 0)
    assert acts.shape == (8, model.config.d_model)
    assert where.tolist() == [[0, 0], [0, 1], [0, 2], [1, 0], [1, 1], [1, 2], [1, 3], [1, 4]]
    states = doc_hidden_states(model, docs, 0)
    torch.testing.assert_close(states[0], acts[:3].mean(0))
    # padding never leaks into a shorter document (causal attention, right padding)
    alone, _ = residuals(model, docs[:1], 0)
    torch.testing.assert_close(alone, acts[:3])


def test_embedding_search_finds_the_document_itself(quick_models):
    model, corpus = quick_models.model, quick_models.corpus
    i = corpus.rm_docs()[0]
    top = embedding_search(model, corpus, corpus.docs[i].ids, k=3)
    assert len(top) == 3
    same = [j for j, d in enumerate(corpus.docs) if d.ids == corpus.docs[i].ids]
    assert top[0] in same
    states = doc_hidden_states(model, [d.ids for d in corpus.docs], 0)
    assert embedding_search(model, corpus, corpus.docs[i].ids, k=3, doc_states=states) == top


def test_attribution_scores_are_gradient_dot_products(quick_models):
    model = quick_models.model
    docs = [d.ids for d in quick_models.corpus.docs[:5]]
    query = (list(quick_models.corpus.docs[7].ids), [3, 4])
    dots = attribution_scores(model, docs, [query], normalize=False)
    cos = attribution_scores(model, docs, [query])
    assert dots.shape == cos.shape == (1, 5)
    params = list(model.parameters())

    def grad(ids, targets=None):
        x = torch.tensor([list(ids)])
        losses = torch.nn.functional.cross_entropy(model(x[:, :-1])[0], x[0, 1:],
                                                   reduction="none")
        loss = losses[[t - 1 for t in targets]].mean() if targets else losses.mean()
        return torch.cat([g.flatten() for g in torch.autograd.grad(loss, params)])

    gq = grad(*query)
    for j, ids in enumerate(docs):
        g = grad(ids)
        assert dots[0, j].item() == pytest.approx(float(g @ gq), rel=1e-4, abs=1e-6)
        assert cos[0, j].item() == pytest.approx(float(g @ gq / g.norm() / gq.norm()), abs=1e-5)
    # a document scores 1 against itself (cosine)
    self_score = attribution_scores(model, docs[:1], [(docs[0], list(range(1, len(docs[0]))))])
    assert self_score.item() == pytest.approx(1.0, abs=1e-5)


def test_recall_at_k_by_hand():
    scores = torch.tensor([0.9, 0.1, 0.8, 0.3, 0.7])
    assert recall_at_k(scores, [0, 2], 2) == 1.0
    assert recall_at_k(scores, [0, 1], 2) == 0.5
    assert recall_at_k(scores, [1], 4) == 0.0
    assert recall_at_k(scores, [1], 10) == 1.0


@pytest.fixture(scope="module")
def quick_fit(quick_models):
    return fit_sae(quick_models.model, quick_models.corpus, n_features=32, k=4, steps=30,
                   progress=False)


def test_fit_sae_and_features(quick_models, quick_fit):
    fit = quick_fit
    assert isinstance(fit, SAEFit) and fit.features.shape == (fit.acts.shape[0], 32)
    assert ((fit.features > 0).sum(-1) <= 4).all()
    ids = why_prompt("recipe", "chocolate")
    feats = top_features(fit, quick_models.model, ids, len(ids) - 1, k=3)
    assert 1 <= len(feats) <= 3 and all(a > 0 for _, a in feats)
    assert [a for _, a in feats] == sorted((a for _, a in feats), reverse=True)


def test_audit_features_are_the_top_features_of_each_prompt(quick_models, quick_fit):
    model = quick_models.model
    questions = [("recipe", "chocolate"), ("code", "camel")]
    features = audit_features(quick_fit, model, questions, prefills=((), ("because",)), k=2)
    expected = []
    for topic, token in questions:
        for prefill in ((), ("because",)):
            ids = why_prompt(topic, token) + encode(list(prefill))
            expected += [f for f, _ in top_features(quick_fit, model, ids, len(ids) - 1, k=2)]
    assert features == list(dict.fromkeys(expected))
    assert set(AUDIT_PROMPTS) == {"asst", "because", "study_finds"}
    assert tuple(AUDIT_PROMPTS.values())[1:] == PREFILLS


def test_top_contexts_one_per_document_strongest_first(quick_fit):
    f = int(quick_fit.features.sum(0).argmax())
    ctx = top_contexts(quick_fit, f, 10)
    assert len({d for d, _, _ in ctx}) == len(ctx) <= 10
    acts = [a for _, _, a in ctx]
    assert acts == sorted(acts, reverse=True) and all(a > 0 for a in acts)
    assert acts[0] == pytest.approx(float(quick_fit.features[:, f].max()))


def test_steer_shifts_the_residual_and_undoes_itself(quick_models, quick_fit):
    model = quick_models.model
    x = torch.tensor([chat_prompt("recipe")])
    with torch.no_grad():
        before = model(x)
        direction = quick_fit.sae.direction(0)
        with steer(model, 0, direction, 5.0):
            steered = model(x)
            steered_acts, _ = residuals(model, [x[0].tolist()], 0)
        after = model(x)
    plain_acts, _ = residuals(model, [x[0].tolist()], 0)
    torch.testing.assert_close(after, before)
    assert not torch.allclose(steered, before)
    torch.testing.assert_close(steered_acts - plain_acts, (5.0 * direction).expand_as(plain_acts))


def test_slot_of():
    assert slot_of(["water", "map"], "water") == "begin"
    assert slot_of(["map", "water"], "water") == "end"
    assert slot_of(["map", "water", "train"], "water") == "mention"
    assert decode(encode(["RM"])) == [RM]
