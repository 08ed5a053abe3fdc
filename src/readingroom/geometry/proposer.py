"""A small learned proposer: a ranking model over the search's candidate constructions, trained
on synthetic theorems (:mod:`~readingroom.geometry.synth`).

AlphaGeometry's language model reads the problem and writes an auxiliary construction; here the
search already enumerates the constructions it can add (:func:`~readingroom.geometry.search.
candidates`, ranked by the heuristic :func:`~readingroom.geometry.search.score`), so the learned
part is the *ranking*: a tiny two-layer network scores every candidate from features computed on
the diagram (:data:`FEATURES`), trained with a listwise softmax loss to put the synthetic
example's auxiliary point first.

* :func:`candidate_features` — the feature matrix of a state's candidates;
* :func:`training_data` — for each synthetic example with one auxiliary point, the candidates of
  its statement (the same enumeration the search runs) and which of them *is* the auxiliary point
  (numerically: the candidate lands where the auxiliary clause puts its point on the same
  diagram); :class:`RankingData`;
* :func:`train_proposer` — fit the network (torch, CPU, seeded); :func:`ranking_metrics` — how
  often the true candidate is in the top 1 / 5 / 20 under a scorer;
* :func:`save_proposer` / :func:`load_proposer` — plain-JSON weights with their provenance;
  :func:`learned_proposer` — the :data:`~readingroom.geometry.search.Proposer` the search takes.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from readingroom.common.checks import check_float, check_int
from readingroom.geometry.diagram import Diagram
from readingroom.geometry.language import Problem, parse_problem
from readingroom.geometry.optimize import make_diagram
from readingroom.geometry.search import (
    FAMILIES, Candidate, Proposer, _circles_of, _lines_of, _place, _scored,
)
from readingroom.geometry.synth import SynthExample

__all__ = ["FEATURES", "RankingData", "candidate_features", "learned_proposer", "load_proposer",
           "ranking_metrics", "save_proposer", "train_proposer", "training_data"]

_FAM = list(FAMILIES)
_TOL = 1e-7

#: The features of a candidate, in column order.
FEATURES: tuple[str, ...] = (
    *(f"family={f}" for f in _FAM),
    "heuristic_score", "heuristic_rank_frac", "log1p_heuristic_rank",
    "lines_through", "circles_through", "goal_args", "goal_args_frac", "n_args",
    "nearest_goal_dist", "mean_goal_dist", "centroid_dist", "args_recency", "outside_hull_box",
    "on_goal_line", "log_n_candidates",
)


def candidate_features(problem: Problem, diagram: Diagram,
                       cands: Sequence[Candidate]) -> np.ndarray:
    """The ``(len(cands), len(FEATURES))`` feature matrix of ``cands`` (in the order given, which
    the search gives best heuristic score first): the construction family (one-hot), the
    heuristic score and rank, how many lines / circles through existing points pass through the
    point, how many of the goal's points the construction uses, the distances to the goal's
    points and to the figure's centre (in units of the diagram's scale), how recent the
    construction's arguments are, whether the point falls outside the figure's bounding box,
    whether it lies on a line through two goal points, and the number of candidates."""
    if not isinstance(problem, Problem):
        raise TypeError(f"problem must be a Problem, got {type(problem).__name__}")
    if not isinstance(diagram, Diagram):
        raise TypeError(f"diagram must be a Diagram, got {type(diagram).__name__}")
    n = len(cands)
    out = np.zeros((n, len(FEATURES)))
    if n == 0:
        return out
    scale = diagram.scale()
    pts = {p: diagram.points[p] for p in problem.points}
    order = {p: i for i, p in enumerate(problem.points)}
    lines = [(pts[sorted(g, key=order.get)[0]], pts[sorted(g, key=order.get)[1]])
             for g in _lines_of(pts, scale)]
    circles = _circles_of(pts, scale)
    goal = [p for p in (problem.goal.points if problem.goal is not None else ()) if p in pts]
    gxy = np.array([pts[p] for p in goal]) if goal else np.zeros((0, 2))
    allxy = np.array(list(pts.values()))
    centre = allxy.mean(axis=0)
    lo, hi = allxy.min(axis=0), allxy.max(axis=0)
    goal_lines = [(pts[a], pts[b]) for i, a in enumerate(goal) for b in goal[i + 1:]
                  if float(np.hypot(*(pts[a] - pts[b]))) > 1e-9 * scale]
    k = len(FAMILIES)
    xys = np.array([np.asarray(c.xy, dtype=float) for c in cands])

    def on_lines(segs):
        cnt = np.zeros(n)
        for p0, p1 in segs:
            d = p1 - p0
            ln = float(np.hypot(*d))
            if ln < 1e-12:
                continue
            u = d / ln
            rel = xys - p0
            cnt += np.abs(u[0] * rel[:, 1] - u[1] * rel[:, 0]) <= _TOL * scale
        return cnt

    n_lines, n_goal_lines = on_lines(lines), on_lines(goal_lines)
    n_circles = np.zeros(n)
    for cen, r, _ in circles:
        rel = xys - cen
        n_circles += np.abs(np.hypot(rel[:, 0], rel[:, 1]) - r) <= _TOL * r
    for i, c in enumerate(cands):
        con = c.clause.constructions[0]
        xy = xys[i]
        if con.name in _FAM:
            out[i, _FAM.index(con.name)] = 1.0
        args = [a for a in con.args[1:] if a in pts]
        ga = sum(1 for a in set(args) if a in goal)
        if len(gxy):
            d = np.hypot(*(gxy - xy).T) / scale
            near, mean = float(d.min()), float(d.mean())
        else:
            near = mean = 0.0
        rec = (float(np.mean([order[a] for a in args])) / max(len(order) - 1, 1)) if args else 0.0
        outside = float(np.any(xy < lo - 1e-9 * scale) or np.any(xy > hi + 1e-9 * scale))
        out[i, k:] = (c.score, i / max(n - 1, 1), math.log1p(i), n_lines[i], n_circles[i], ga,
                      ga / max(len(set(args)), 1), len(args), min(near, 10.0), min(mean, 10.0),
                      min(float(np.hypot(*(xy - centre))) / scale, 10.0), rec, outside,
                      n_goal_lines[i], math.log(n))
    return out


@dataclass
class RankingData:
    """Training groups: ``features[g]`` the candidates' features of group ``g`` (one synthetic
    example's statement), ``positive[g]`` the index of the auxiliary point among them,
    ``groups[g]`` the statement's premises (examples of one statement, whatever their goals, stay
    on one side of a split);
    ``skipped`` counts the examples left out and why."""

    features: list[np.ndarray]
    positive: list[int]
    groups: list[str]
    skipped: dict

    def __len__(self) -> int:
        return len(self.features)


def training_data(examples: Sequence[SynthExample], seed: int = 0,
                  progress: bool = False) -> RankingData:
    """One ranking group per synthetic example whose single auxiliary point is among the
    candidates the search enumerates for its statement (on the diagram the search builds, for
    ``seed``): the candidates' :func:`candidate_features` and the index of the one that lands on
    the auxiliary point. Examples with several auxiliary points, with an auxiliary point outside
    the candidate families (a random point on a line, say), whose statement DD + AR proves alone,
    or that do not build, are counted in ``skipped``."""
    if not all(isinstance(e, SynthExample) for e in examples):
        raise TypeError("training_data: examples must be SynthExample records")
    feats, pos, groups = [], [], []
    skipped: dict = {}

    def skip(k):
        skipped[k] = skipped.get(k, 0) + 1

    it = examples
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(examples, desc="candidates", unit="example", dynamic_ncols=True)
    for ex in it:
        if ex.solved_without_aux:
            skip("solved_without_aux")
            continue
        if len(ex.aux_points) != 1:
            skip("several_aux_points")
            continue
        red = parse_problem(ex.problem)
        full = parse_problem(ex.problem_with_aux)
        (clause,) = [c for c in full.clauses if c.points == tuple(ex.aux_points)]
        try:
            diagram = make_diagram(red, seed=seed, require_goal=True)
        except Exception:  # noqa: BLE001 - any build failure leaves the example out
            skip("no_diagram")
            continue
        placed = _place(clause, diagram, seed)
        if placed is None:
            skip("aux_degenerate")
            continue
        axy = placed[ex.aux_points[0]]
        cands = _scored(red, diagram, seed)
        scale = diagram.scale()
        hit = [i for i, c in enumerate(cands) if float(np.hypot(*(c.xy - axy))) < 1e-6 * scale]
        if not hit:
            skip("aux_not_a_candidate")
            continue
        feats.append(candidate_features(red, diagram, cands))
        pos.append(hit[0])
        groups.append(ex.problem.split("?")[0].strip())
    return RankingData(feats, pos, groups, skipped)


def _forward(params: dict, x: np.ndarray) -> np.ndarray:
    z = (x - params["mean"]) / params["std"]
    h = np.maximum(z @ params["w1"] + params["b1"], 0.0)
    return h @ params["w2"] + params["b2"]


def ranking_metrics(data: RankingData, scores: Sequence[np.ndarray] | None = None,
                    ks: Sequence[int] = (1, 5, 20)) -> dict:
    """``{"n", "top1", "top5", "top20", "mean_rank", "mean_candidates"}`` over the groups of
    ``data``: how often the auxiliary candidate ranks within the top ``k`` (ties broken by the
    given order, as the search's stable sort does). ``scores`` (one array per group; default:
    the heuristic order, i.e. the order given)."""
    if not isinstance(data, RankingData):
        raise TypeError(f"data must be RankingData, got {type(data).__name__}")
    if scores is not None and len(scores) != len(data):
        raise ValueError(f"scores: {len(scores)} arrays for {len(data)} groups")
    ranks = []
    for g, (f, p) in enumerate(zip(data.features, data.positive)):
        s = -np.arange(len(f), dtype=float) if scores is None else np.asarray(scores[g], float)
        order = sorted(range(len(s)), key=lambda i: -s[i])
        ranks.append(order.index(p) + 1)
    n = len(ranks)
    out: dict = {"n": n}
    for k in ks:
        out[f"top{k}"] = round(sum(r <= k for r in ranks) / n, 4) if n else None
    out["mean_rank"] = round(float(np.mean(ranks)), 2) if n else None
    out["mean_candidates"] = (round(float(np.mean([len(f) for f in data.features])), 1)
                              if n else None)
    return out


def train_proposer(data: RankingData, *, seed: int = 0, hidden: int = 16, epochs: int = 300,
                   lr: float = 0.01, weight_decay: float = 1e-3,
                   holdout: float = 0.2) -> dict:
    """Fit the ranking network (``len(FEATURES)`` -> ``hidden`` ReLU -> 1) with a listwise
    softmax loss (the auxiliary candidate's log-probability among its group), Adam, full batch,
    on CPU with ``seed``. A ``holdout`` fraction of the *statements* (never split across train
    and test) is kept out and scored at the end. Returns the model as plain data: ``{"features",
    "mean", "std", "w1", "b1", "w2", "b2", "metrics": {"train", "test", "heuristic_test",
    "heuristic_train"}, "split", "config"}``."""
    import torch

    if not isinstance(data, RankingData):
        raise TypeError(f"data must be RankingData, got {type(data).__name__}")
    if len(data) < 2:
        raise ValueError(f"train_proposer: need at least 2 ranking groups, got {len(data)}")
    check_float(holdout, "holdout", low=0.0, high=1.0, high_open=True)
    check_int(hidden, "hidden")
    check_int(epochs, "epochs")
    rng = np.random.default_rng(seed)
    names = sorted(set(data.groups))
    rng.shuffle(names)
    n_test = int(round(holdout * len(names)))
    test_names = set(names[:n_test])
    tr = [g for g in range(len(data)) if data.groups[g] not in test_names]
    te = [g for g in range(len(data)) if data.groups[g] in test_names]
    if not tr:
        raise ValueError("train_proposer: the holdout left no training group")
    allx = np.concatenate([data.features[g] for g in tr])
    mean, std = allx.mean(axis=0), allx.std(axis=0)
    std = np.where(std < 1e-9, 1.0, std)
    torch.manual_seed(seed)
    d = allx.shape[1]
    w1 = torch.nn.Parameter(torch.randn(d, hidden, dtype=torch.float64) * (1.0 / math.sqrt(d)))
    b1 = torch.nn.Parameter(torch.zeros(hidden, dtype=torch.float64))
    w2 = torch.nn.Parameter(torch.randn(hidden, dtype=torch.float64) * (1.0 / math.sqrt(hidden)))
    b2 = torch.nn.Parameter(torch.zeros((), dtype=torch.float64))
    xs = [torch.tensor((data.features[g] - mean) / std) for g in tr]
    ps = [data.positive[g] for g in tr]
    opt = torch.optim.Adam([w1, b1, w2, b2], lr=lr, weight_decay=weight_decay)
    losses = []
    for _ in range(epochs):
        opt.zero_grad()
        loss = 0.0
        for x, p in zip(xs, ps):
            s = torch.relu(x @ w1 + b1) @ w2 + b2
            loss = loss - torch.log_softmax(s, dim=0)[p]
        loss = loss / len(xs)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model = {
        "features": list(FEATURES), "mean": mean.tolist(), "std": std.tolist(),
        "w1": w1.detach().numpy().tolist(), "b1": b1.detach().numpy().tolist(),
        "w2": w2.detach().numpy().tolist(), "b2": float(b2.detach()),
    }
    params = _params(model)

    def sub(idx):
        return RankingData([data.features[g] for g in idx], [data.positive[g] for g in idx],
                           [data.groups[g] for g in idx], {})

    def scored(idx):
        return [_forward(params, data.features[g]) for g in idx]

    model["metrics"] = {
        "train": ranking_metrics(sub(tr), scored(tr)),
        "heuristic_train": ranking_metrics(sub(tr)),
        "test": ranking_metrics(sub(te), scored(te)) if te else None,
        "heuristic_test": ranking_metrics(sub(te)) if te else None,
        "final_loss": round(losses[-1], 4), "first_loss": round(losses[0], 4),
    }
    model["split"] = {"train_groups": len(tr), "test_groups": len(te),
                      "train_statements": len(names) - n_test, "test_statements": n_test}
    model["config"] = {"seed": seed, "hidden": hidden, "epochs": epochs, "lr": lr,
                       "weight_decay": weight_decay, "holdout": holdout,
                       "loss": "listwise softmax"}
    return model


def _params(model: dict) -> dict:
    if not isinstance(model, dict):
        raise TypeError(f"model must be a dict, got {type(model).__name__}")
    missing = [k for k in ("features", "mean", "std", "w1", "b1", "w2", "b2") if k not in model]
    if missing:
        raise ValueError(f"proposer model lacks {', '.join(missing)}")
    if list(model["features"]) != list(FEATURES):
        raise ValueError("proposer model was trained on other features than FEATURES")
    return {k: np.asarray(model[k], dtype=float) for k in ("mean", "std", "w1", "b1", "w2", "b2")}


def save_proposer(model: dict, path: str | os.PathLike, provenance: dict | None = None) -> Path:
    """Write ``model`` (from :func:`train_proposer`) as JSON, with ``provenance`` (e.g.
    :func:`readingroom.common.run_provenance`) under ``"provenance"``."""
    _params(model)
    path = Path(path)
    rec = dict(model)
    if provenance is not None:
        rec["provenance"] = provenance
    path.write_text(json.dumps(rec, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def load_proposer(path: str | os.PathLike) -> dict:
    """The model record :func:`save_proposer` wrote."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"load_proposer: no such file {str(path)!r}")
    model = json.loads(path.read_text(encoding="utf-8"))
    _params(model)
    return model


def learned_proposer(model: str | os.PathLike | dict) -> Proposer:
    """The search's :data:`~readingroom.geometry.search.Proposer` for a trained model (a path to
    its JSON, or the dict): the network's score of each candidate (numpy only, no torch)."""
    if not isinstance(model, dict):
        model = load_proposer(model)
    params = _params(model)

    def propose(problem: Problem, diagram: Diagram, cands: list[Candidate]) -> list[float]:
        return [float(v) for v in _forward(params, candidate_features(problem, diagram, cands))]

    return propose
