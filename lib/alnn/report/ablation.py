r"""Controls and ablations (SPEC 3d, 6): results, findings with their checks, table, figures.

Inputs: the ablation stage's frames (draft's protocol and budget protocol,
every covered problem), and the trial and budget stages' frames, whose runs of
the same trials are the defaults every variant is compared with: each
variant's network of (trial, fold) starts from the same weights, sees the
same mini-batches and (pool-based) the same initial labelled set as the
default's, so every comparison is paired by (trial, fold).

Every comparison is a corrected resampled t-test (Holm within the problem's
family of that table) beside the Bayesian correlated t-test with the region of
practical equivalence of SPEC 6 (`alnn.stats.default_rope`: one accuracy
point, 5% of the baseline's MSE or AUBC of MSE), whose verdict
(`alnn.stats.equivalence`) is what the sentences say: practically equivalent,
different (better or worse), or inconclusive.

Finding kinds (each with a check that recomputes it from the frames by its
own path, the posterior from the paired differences directly):

``control``
    one problem x protocol: the committee against its one-network baseline
    (passive in the draft's protocol, random in the budget protocol) and
    against the same baseline with three voting networks;
``control-summary``
    over all of them: where the committee was significantly better than the
    one-network baseline, and where that survives the three-member control;
``sasla``
    one problem: how many SASLA settings use fewer multiply-adds than passive
    learning and stay practically equivalent to it, and the cheapest of them;
``probability``
    one problem x protocol x strategy: the normalised class distribution
    against the softmax (entropy, committee);
``probability-summary``
    over all of them, for entropy: on how many cells the verdict is
    "different";
``budget-ablation``
    one factor (start, round_epochs, schedule): the verdicts of its AUBC
    against the default setting, counted over problems x strategies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from alnn import analysis as an
from alnn import stats as st
from alnn.datasets import NAMES as PROBLEMS
from alnn.config import BUDGET_ABLATION_SUFFIXES
from alnn.datasets import TASKS
from alnn.report.claims import Finding, FindingError
from alnn.report.constants import ALPHA, PROBLEM_LABELS, STRATEGY_LABELS, STRATEGY_PROSE
from alnn.report.format import Values, finite as _finite, capital, count, gnum, join, num, pct
from alnn.report.tables import VERDICT_MARKS

__all__ = ["AblationResults", "ablation_results", "findings", "check_findings", "ablation_values",
           "ablation_table", "sasla_table", "ablation_figures", "not_run_values", "placeholder_figures",
           "FACTOR_PROSE"]

#: The one-network baseline the committee is compared with in each protocol, and its three-member control.
CONTROLS = {"trials": ("passive", "passive-members"), "budget": ("random", "random-members")}
PROTOCOL_PROSE = {"trials": "the draft's protocol", "budget": "the budget protocol"}
#: The budget protocol's ablation factors and the label suffixes of their variants.
BUDGET_FACTORS = BUDGET_ABLATION_SUFFIXES
_SUFFIXES = tuple(x for v in BUDGET_FACTORS.values() for x in v)
#: Variants under which the verdicts against random sampling are recomputed (both arms changed alike).
_VERDICT_SUFFIXES = ("epochs", "converge", "tuned")
SUFFIX_PROSE = {"epochs": "rounds of a fixed number of epochs (the earlier rule)",
                "converge": "rounds trained until the training criterion stops improving",
                "tuned": "the learning rate and weight decay chosen at every round by cross-validation on the "
                         "labelled set"}
FACTOR_PROSE = {"start": "the other start", "round_epochs": "shorter rounds", "schedule": "a coarser schedule",
                "converge": SUFFIX_PROSE["converge"], "epochs": SUFFIX_PROSE["epochs"],
                "hyper": "the learning rate and weight decay chosen at every round by cross-validation on the "
                         "labelled set",
                "probability": "the normalised class distribution", "members": "three voting networks"}


@dataclass
class AblationResults:
    """Everything the ablation section states, computed once."""

    problems: list[str]
    tests: pd.DataFrame  # every comparison: dataset, protocol, family, strategy, baseline, ... equivalence
    sasla: pd.DataFrame  # one row per problem x SASLA setting: ratios of cost and the test against passive
    runs: dict[tuple[str, str], pd.DataFrame]  # (problem, protocol) -> per-run values of every label
    rope: dict[str, dict] = field(default_factory=dict)  # problem -> rope_accuracy, rope_relative, level
    trials: dict[str, int] = field(default_factory=dict)

    def test(self, p: str, protocol: str, strategy: str, baseline: str):
        t = self.tests
        row = t[(t["dataset"] == p) & (t["protocol"] == protocol) & (t["strategy"] == strategy)
                & (t["baseline"] == baseline)]
        return None if row.empty else row.iloc[0]


# =========================================================================== results
def _setting_label(beta, tau, norm) -> str:
    return f"sasla[{float(beta):g},{int(tau)},{norm}]"


def _per_run_trials(abl: pd.DataFrame, main: pd.DataFrame, p: str, trials: set) -> pd.DataFrame:
    """Final primary criterion, multiply-adds and presentations of every run of the draft's protocol,
    one label per strategy or variant (the SASLA grid: one label per setting)."""
    metric = an.PRIMARY_METRIC[TASKS[p]]
    parts = []
    m = main[(main["dataset"] == p) & main["trial"].isin(trials)]
    parts.append(an.finals(m).assign(label=lambda d: d["strategy"]))
    a = abl[abl["dataset"] == p]
    if len(a):
        label = a["variant"].str.replace("trials-", "", n=1, regex=False)
        grid = a["variant"] == "trials-sasla-grid"
        if grid.any():  # one label per setting of the SASLA grid
            label = label.where(~grid, [_setting_label(b, t, n) if g else "" for g, b, t, n in
                                        zip(grid, a["beta"], a["tau"], a["norm"])])
        fa = an.finals(a.assign(strategy=label).drop(columns=["variant"]))
        parts.append(fa.assign(label=fa["strategy"]))
    out = pd.concat(parts, ignore_index=True)
    keep = ["dataset", "label", "trial", "fold", "diverged", metric, "macs", "presentations", "wall_s"]
    out = out[[c for c in keep if c in out.columns]].rename(columns={metric: "value"})
    return out.assign(metric=metric)


def _per_run_budget(abl: pd.DataFrame, main: pd.DataFrame, p: str, trials: set) -> pd.DataFrame:
    """AUBC of the primary criterion of every run of the budget protocol, one label per strategy or variant
    (each variant's AUBC over its own schedule)."""
    parts = []
    m = main[(main["dataset"] == p) & main["trial"].isin(trials) & (main["strategy"] != "passive")]
    for s, sub in m.groupby("strategy", sort=False):
        parts.append(an.aubc(sub).assign(label=s))
    a = abl[abl["dataset"] == p]
    for v, sub in a.groupby("variant", sort=False):
        if (sub["strategy"] == "passive").all():
            continue  # a ceiling has no budget curve
        parts.append(an.aubc(sub.drop(columns=["variant"])).assign(label=v.replace("budget-", "", 1)))
    if not parts:
        return pd.DataFrame(columns=["dataset", "label", "trial", "fold", "diverged", "value", "metric"])
    out = pd.concat(parts, ignore_index=True).rename(columns={"aubc": "value"})
    return out[["dataset", "label", "trial", "fold", "diverged", "value", "metric"]]


def _compare(runs: pd.DataFrame, pairs: list[tuple[str, str]], rope, level: float) -> pd.DataFrame:
    """`alnn.stats.compare_within_problem` of (label, baseline label) pairs over the runs (one family)."""
    present = set(runs["label"])
    pairs = [(s, b) for s, b in pairs if s in present and b in present]
    if not pairs:
        return pd.DataFrame()
    metric = runs["metric"].iloc[0]
    fin = pd.DataFrame({"dataset": runs["dataset"], "strategy": runs["label"], "trial": runs["trial"],
                        "fold": runs["fold"], "epoch": 0, "diverged": runs["diverged"].astype(bool),
                        metric: runs["value"].astype(float)})
    baselines: dict[str, list[str]] = {}
    for s, b in pairs:
        baselines.setdefault(b, []).append(s)
    return st.compare_within_problem(fin, metric, baselines=baselines, alpha=ALPHA, rope=rope, level=level)


def ablation_results(ablation: Mapping[str, pd.DataFrame], *, trials: pd.DataFrame,
                     budget: pd.DataFrame | None = None, profile: Mapping | None = None) -> AblationResults:
    """The comparisons of SPEC 3d / 6 from the ablation frames (``{"trials": ..., "budget": ...}``)."""
    abl_t = ablation.get("trials", pd.DataFrame())
    abl_b = ablation.get("budget", pd.DataFrame())
    present = set(abl_t.get("dataset", pd.Series(dtype=str))) | set(abl_b.get("dataset", pd.Series(dtype=str)))
    problems = [p for p in PROBLEMS if p in present]
    settings = (profile or {}).get("problems") or {}
    tests, sasla, runs, ropes, ntrials = [], [], {}, {}, {}
    for p in problems:
        s = settings.get(p, {})
        acc, rel = float(s.get("rope_accuracy", st.ROPE_ACCURACY)), float(s.get("rope_relative", st.ROPE_RELATIVE))
        level = float(s.get("equivalence_level", st.EQUIVALENCE_LEVEL))
        ropes[p] = {"accuracy": acc, "relative": rel, "level": level}

        def rope(metric, base_mean, acc=acc, rel=rel):
            return st.default_rope(metric, base_mean, accuracy=acc, relative=rel)

        a = abl_t[abl_t["dataset"] == p] if len(abl_t) else abl_t
        ab = abl_b[abl_b["dataset"] == p] if len(abl_b) else abl_b
        trial_set = set(a["trial"]) if len(a) else set()
        trial_set |= set(ab["trial"]) if len(ab) else set()
        ntrials[p] = len(trial_set)
        cls = TASKS[p] == "classification"
        # --- draft's protocol
        if len(a):
            rt = _per_run_trials(a, trials, p, trial_set)
            runs[(p, "trials")] = rt
            pairs = [("ensemble", "passive"), ("ensemble", "passive-members"), ("random-members", "random"),
                     ("passive-members", "passive")]
            if cls:
                pairs += [("entropy-normalised", "entropy"), ("ensemble-normalised", "ensemble")]
            res = _compare(rt, pairs, rope, level)
            if len(res):
                tests.append(res.assign(protocol="trials", family="controls"))
            labels = sorted(l for l in set(rt["label"]) if l.startswith("sasla["))
            res = _compare(rt, [(l, "passive") for l in labels], rope, level)
            if len(res):
                tests.append(res.assign(protocol="trials", family="sasla"))
                sasla.append(_sasla_rows(rt, res, p))
        # --- budget protocol
        if len(ab) and budget is not None and len(budget):
            rb = _per_run_budget(ab, budget, p, trial_set)
            runs[(p, "budget")] = rb
            pairs = [("ensemble", "random"), ("ensemble", "random-members"), ("random-members", "random")]
            if cls:
                pairs += [("entropy-normalised", "entropy"), ("ensemble-normalised", "ensemble")]
            labels = set(rb["label"])
            for label in sorted(labels):
                head, _, tail = label.rpartition("-")
                if tail in _SUFFIXES and head in an.STRATEGY_ORDER:
                    pairs.append((label, head))
                    if head != "random" and f"random-{tail}" in labels and tail in _VERDICT_SUFFIXES:
                        pairs.append((label, f"random-{tail}"))  # the verdict against random under the variant
                        pairs.append((head, "random"))  # and under the default, on the same trials
            res = _compare(rb, pairs, rope, level)
            if len(res):
                tests.append(res.assign(protocol="budget", family="controls"))
    cols = ["dataset", "protocol", "family", "strategy", "baseline"]
    t = pd.concat(tests, ignore_index=True) if tests else pd.DataFrame(columns=cols)
    t = t[cols + [c for c in t.columns if c not in cols]]
    sa = pd.concat(sasla, ignore_index=True) if sasla else pd.DataFrame()
    return AblationResults(problems=problems, tests=t, sasla=sa, runs=runs, rope=ropes, trials=ntrials)


def _sasla_rows(rt: pd.DataFrame, res: pd.DataFrame, p: str) -> pd.DataFrame:
    """Per SASLA setting: mean multiply-adds and presentations as a share of passive's (paired runs)."""
    wide = rt.set_index(["trial", "fold", "label"])[["macs", "presentations"]].unstack("label")
    rows = []
    for r in res.itertuples(index=False):
        beta, tau, norm = r.strategy[len("sasla["):-1].split(",")
        rows.append({"dataset": p, "beta": float(beta), "tau": int(tau), "norm": norm,
                     "macs_share": float(wide["macs"][r.strategy].mean() / wide["macs"]["passive"].mean()),
                     "presentations_share": float(wide["presentations"][r.strategy].mean()
                                                  / wide["presentations"]["passive"].mean()),
                     "mean_diff": r.mean_diff, "ci_low": r.ci_low, "ci_high": r.ci_high, "p_holm": r.p_holm,
                     "significant": r.significant, "p_better": r.p_better, "p_rope": r.p_rope,
                     "p_worse": r.p_worse, "rope": r.rope, "equivalence": r.equivalence, "label": r.strategy})
    return pd.DataFrame(rows)


# =========================================================================== findings
def _verdict_of(t) -> str:
    return "n/a" if t is None else str(t["equivalence"])


def _sig(t) -> str:
    """better / worse / none from the Holm-corrected corrected t-test."""
    if t is None or not _finite(t["p"]) or not bool(t["significant"]):
        return "none"
    return t["direction"] if t["direction"] in ("better", "worse") else "none"


def _raw(res: AblationResults, p: str, protocol: str, s: str, b: str):
    """The numbers of one comparison: mean difference, verdict, significance, rope."""
    t = res.test(p, protocol, s, b)
    if t is None:
        return None
    return {"diff": float(t["mean_diff"]), "verdict": _verdict_of(t), "sig": _sig(t), "rope": float(t["rope"]),
            "metric": str(t["metric"]), "p_holm": float(t["p_holm"])}


def _findings_raw(res: AblationResults) -> list[Finding]:
    out = []
    for p in res.problems:
        for protocol, (one, three) in CONTROLS.items():
            a, b = _raw(res, p, protocol, "ensemble", one), _raw(res, p, protocol, "ensemble", three)
            if a is not None and b is not None:
                out.append(Finding("control", (p, protocol), {"single": a, "members": b}, ""))
    cells = [f for f in out if f.kind == "control"]
    if cells:
        adv = [f.subjects for f in cells if f.numbers["single"]["sig"] == "better"]
        kept = [f.subjects for f in cells if f.numbers["single"]["sig"] == "better"
                and f.numbers["members"]["sig"] == "better"]
        beats_control = [f.subjects for f in cells if f.numbers["members"]["sig"] == "better"]
        out.append(Finding("control-summary", (), {"cells": [f.subjects for f in cells], "advantage": adv,
                                                   "kept": kept, "beats_control": beats_control}, ""))
    for p in res.problems:
        sub = res.sasla[res.sasla["dataset"] == p] if len(res.sasla) else pd.DataFrame()
        if sub.empty:
            continue
        ok = sub[(sub["macs_share"] < 1) & (sub["equivalence"] == "equivalent")]
        cheapest = ok.sort_values(["macs_share", "beta", "tau"]).iloc[0] if len(ok) else None
        worse = int((sub["equivalence"] == "worse").sum())
        out.append(Finding("sasla", (p,), {
            "settings": int(len(sub)), "cheaper": int((sub["macs_share"] < 1).sum()), "saving": int(len(ok)),
            "worse": worse, "equivalent": int((sub["equivalence"] == "equivalent").sum()),
            "cheapest": None if cheapest is None else {
                "beta": float(cheapest["beta"]), "tau": int(cheapest["tau"]), "norm": str(cheapest["norm"]),
                "macs_share": float(cheapest["macs_share"]),
                "presentations_share": float(cheapest["presentations_share"])}}, ""))
    for p in res.problems:
        for protocol in ("trials", "budget"):
            for s in ("entropy", "ensemble"):
                r = _raw(res, p, protocol, f"{s}-normalised", s)
                if r is not None:
                    out.append(Finding("probability", (p, protocol, s), r, ""))
    prob = [f for f in out if f.kind == "probability" and f.subjects[2] == "entropy"]
    if prob:
        out.append(Finding("probability-summary", ("entropy",), {
            "cells": [f.subjects[:2] for f in prob],
            "different": [f.subjects[:2] for f in prob if f.numbers["verdict"] in ("better", "worse")],
            "equivalent": [f.subjects[:2] for f in prob if f.numbers["verdict"] == "equivalent"]}, ""))
    t = res.tests
    for subjects, suffix in _ablation_groups():
        rows = t[(t["protocol"] == "budget") & t["strategy"].map(lambda x: x.rpartition("-")[2] in suffix)
                 & (t["baseline"] == t["strategy"].map(lambda x: x.rpartition("-")[0]))]
        if rows.empty:
            continue
        counts = {v: int((rows["equivalence"] == v).sum()) for v in ("equivalent", "better", "worse", "inconclusive")}
        out.append(Finding("budget-ablation", subjects, {"counts": counts, "cells": int(len(rows))}, ""))
    for suffix in _VERDICT_SUFFIXES:
        cells, changed = [], []
        for p in res.problems:
            for s in an.STRATEGY_ORDER:
                variant = res.test(p, "budget", f"{s}-{suffix}", f"random-{suffix}")
                default = res.test(p, "budget", s, "random")
                if variant is None or default is None or s == "random":
                    continue
                cells.append((p, s, str(default["equivalence"]), str(variant["equivalence"])))
                if str(default["equivalence"]) != str(variant["equivalence"]):
                    changed.append((p, s))
        if cells:
            out.append(Finding("verdict-change", (suffix,), {"cells": cells, "changed": changed}, ""))
    return out


def _ablation_groups():
    """(subjects, suffixes) of the budget-ablation findings: one per factor, the rules of a round one each."""
    for factor, suffixes in BUDGET_FACTORS.items():
        if factor == "round_training":
            for sx in suffixes:
                yield (factor, sx), (sx,)
        else:
            yield (factor,), suffixes


def _fmt_diff(metric: str, d: float, budget: bool = False) -> str:
    return f"{num(100 * d, 1)} points" if metric == "accuracy" else num(d, sig=2)


def _cell_names(cells) -> str:
    return join([f"{PROBLEM_LABELS[p]} ({'budget' if pr == 'budget' else 'draft'})" for p, pr in cells])


_VERDICT = st.VERDICT_WORDS


def _render(f: Finding) -> Finding:
    n = f.numbers
    if f.kind == "control":
        p, protocol = f.subjects
        one, three = CONTROLS[protocol]
        what = "final" if protocol == "trials" else "AUBC of the"
        crit = "accuracy" if TASKS[p] == "classification" else "MSE"
        s1, s3 = n["single"], n["members"]
        text = (f"On {PROBLEM_LABELS[p]} ({PROTOCOL_PROSE[protocol]}, {what} {crit}), the committee against "
                f"{STRATEGY_PROSE[one]} is {_VERDICT[s1['verdict']]} at a difference of "
                f"{_fmt_diff(s1['metric'], s1['diff'], False)}"
                f"{' (significant)' if s1['sig'] != 'none' else ''}; against three voting networks of "
                f"{STRATEGY_PROSE[one]} it is {_VERDICT[s3['verdict']]} at a difference of "
                f"{_fmt_diff(s3['metric'], s3['diff'], False)}{' (significant)' if s3['sig'] != 'none' else ''}.")
    elif f.kind == "control-summary":
        total = len(n["cells"])
        if not n["advantage"]:
            text = (f"In none of the {count(total)} comparisons (problems $\\times$ protocols) is the committee "
                    f"significantly better than its one-network baseline, so the three-member controls have no "
                    f"advantage to explain away")
            text += (f"; it is significantly better than the three-member control on {_cell_names(n['beats_control'])}."
                     if n["beats_control"] else ".")
        else:
            text = (f"The committee is significantly better than its one-network baseline on "
                    f"{_cell_names(n['advantage'])}; ")
            if n["kept"] == n["advantage"]:
                text += "the advantage survives the three-member control on every one of them."
            elif n["kept"]:
                text += f"against the three-member control it survives on {_cell_names(n['kept'])} only."
            else:
                text += ("against the three-member control it survives on none of them: the gain comes from "
                         "voting, not from querying.")
    elif f.kind == "sasla":
        (p,) = f.subjects
        text = (f"On {PROBLEM_LABELS[p]}, {count(n['cheaper'])} of the {count(n['settings'])} SASLA settings use "
                f"fewer multiply-adds than passive learning and {count(n['equivalent'])} "
                f"{'is' if n['equivalent'] == 1 else 'are'} practically equivalent to it; ")
        if n["saving"]:
            c = n["cheapest"]
            text += (f"{count(n['saving'])} {'does' if n['saving'] == 1 else 'do'} both, the cheapest "
                     f"($\\beta={gnum(c['beta'])}$, $\\tau={c['tau']}$, {c['norm']} norm) at "
                     f"{pct(c['macs_share'], 0)} of passive learning's multiply-adds and "
                     f"{pct(c['presentations_share'], 0)} of its presentations")
        else:
            text += "no setting does both"
        text += f"; {count(n['worse'])} {'is' if n['worse'] == 1 else 'are'} practically worse."
    elif f.kind == "probability":
        p, protocol, s = f.subjects
        what = "final" if protocol == "trials" else "AUBC of the"
        text = (f"{capital(STRATEGY_PROSE[s])} on {PROBLEM_LABELS[p]} ({PROTOCOL_PROSE[protocol]}): the normalised "
                f"class distribution against the softmax is {_VERDICT[n['verdict']]} ({what} "
                f"{'accuracy' if n['metric'] == 'accuracy' else 'MSE'}, difference "
                f"{_fmt_diff(n['metric'], n['diff'], False)}).")
    elif f.kind == "probability-summary":
        total = len(n["cells"])
        if n["different"]:
            text = (f"Entropy sampling's results depend on the class distribution on "
                    f"{_cell_names(n['different'])}, of {count(total)} problems $\\times$ protocols")
        else:
            text = (f"On none of {count(total)} problems $\\times$ protocols does the class distribution make entropy "
                    f"sampling's results practically different")
        text += (f"; they are practically equivalent on {_cell_names(n['equivalent'])}." if n["equivalent"]
                 else "; on none are they shown practically equivalent.")
    elif f.kind == "verdict-change":
        (suffix,) = f.subjects
        what = capital(SUFFIX_PROSE[suffix])
        if n["changed"]:
            by: dict[str, list[str]] = {}
            for p, s in n["changed"]:
                by.setdefault(s, []).append(PROBLEM_LABELS[p])
            text = (f"{what} change the verdict against random sampling on AUBC in {count(len(n['changed']))} "
                    f"of {count(len(n['cells']))} strategy $\\times$ problem cells ("
                    + join([f"{STRATEGY_PROSE[s]} on {join(ps)}" for s, ps in by.items()]) + ").")
        else:
            text = (f"{what} change no verdict against random sampling on AUBC "
                    f"({count(len(n['cells']))} strategy $\\times$ problem cells).")
    elif f.kind == "budget-ablation":
        factor = f.subjects[-1] if f.subjects[0] == "round_training" else f.subjects[0]
        c = n["counts"]
        text = (f"With {FACTOR_PROSE[factor]}, the AUBC of the {count(n['cells'])} strategy $\\times$ problem "
                f"cells is practically equivalent to the default in {count(c['equivalent'])}, better in "
                f"{count(c['better'])}, worse in {count(c['worse'])} and inconclusive in {count(c['inconclusive'])}.")
    else:  # pragma: no cover
        raise ValueError(f"unknown finding kind {f.kind!r}")
    return Finding(f.kind, f.subjects, n, text)


def findings(res: AblationResults) -> list[Finding]:
    """Every finding of the ablation section, rendered and checked."""
    out = [_render(f) for f in _findings_raw(res)]
    check_findings(out, res)
    return out


def _posterior(res: AblationResults, p: str, protocol: str, s: str, b: str) -> str:
    """The verdict recomputed from the paired per-run values (not through compare_within_problem)."""
    r = res.runs[(p, protocol)]
    ok = r[~r["diverged"].astype(bool)]
    wide = ok.pivot_table(index=["trial", "fold"], columns="label", values="value")[[s, b]].dropna()
    d = (wide[s] - wide[b]).to_numpy(float)
    metric = r["metric"].iloc[0]
    hib = an.higher_is_better(metric)
    k = int(r["fold"].nunique())
    rope = res.rope[p]["accuracy"] if hib else res.rope[p]["relative"] * abs(float(wide[b].mean()))
    return st.paired_verdict(d, higher_is_better=hib, rope=rope, rho=1 / k, level=res.rope[p]["level"])


def check_findings(found: list[Finding], res: AblationResults) -> None:
    """Recompute every finding; :class:`FindingError` names the first one its tables contradict."""
    for f in found:
        n = f.numbers
        if f.kind == "control":
            p, protocol = f.subjects
            one, three = CONTROLS[protocol]
            ok = (_posterior(res, p, protocol, "ensemble", one) == n["single"]["verdict"]
                  and _posterior(res, p, protocol, "ensemble", three) == n["members"]["verdict"])
        elif f.kind == "control-summary":
            ok = True
            for p, protocol in n["cells"]:
                one, three = CONTROLS[protocol]
                s1 = _sig(res.test(p, protocol, "ensemble", one))
                s3 = _sig(res.test(p, protocol, "ensemble", three))
                ok = ok and (((p, protocol) in [tuple(x) for x in n["advantage"]]) == (s1 == "better"))
                ok = ok and (((p, protocol) in [tuple(x) for x in n["kept"]]) == (s1 == "better" and s3 == "better"))
            ok = ok and ("survives on none" in f.text) == (bool(n["advantage"]) and not n["kept"])
        elif f.kind == "sasla":
            (p,) = f.subjects
            r = res.runs[(p, "trials")]
            labels = sorted(l for l in set(r["label"]) if l.startswith("sasla["))
            macs = r.groupby("label")["macs"].mean()
            cheaper = [l for l in labels if macs[l] < macs["passive"]]
            eq = [l for l in labels if _posterior(res, p, "trials", l, "passive") == "equivalent"]
            both = sorted(set(cheaper) & set(eq), key=lambda l: macs[l])
            ok = n["settings"] == len(labels) and n["cheaper"] == len(cheaper) and n["equivalent"] == len(eq) \
                and n["saving"] == len(both)
            if both:
                c = n["cheapest"]
                ok = ok and abs(c["macs_share"] - macs[both[0]] / macs["passive"]) < 1e-9
        elif f.kind == "probability":
            p, protocol, s = f.subjects
            ok = _posterior(res, p, protocol, f"{s}-normalised", s) == n["verdict"]
        elif f.kind == "probability-summary":
            ok = True
            for p, protocol in n["cells"]:
                v = _posterior(res, p, protocol, "entropy-normalised", "entropy")
                ok = ok and ((p, protocol) in [tuple(x) for x in n["different"]]) == (v in ("better", "worse"))
                ok = ok and ((p, protocol) in [tuple(x) for x in n["equivalent"]]) == (v == "equivalent")
        elif f.kind == "verdict-change":
            (suffix,) = f.subjects
            ok = True
            for p, s, before, after in n["cells"]:
                ok = ok and _posterior(res, p, "budget", s, "random") == before
                ok = ok and _posterior(res, p, "budget", f"{s}-{suffix}", f"random-{suffix}") == after
                ok = ok and ((p, s) in [tuple(x) for x in n["changed"]]) == (before != after)
        elif f.kind == "budget-ablation":
            suffix = (f.subjects[1],) if f.subjects[0] == "round_training" else BUDGET_FACTORS[f.subjects[0]]
            verdicts = []
            for (p, protocol), r in res.runs.items():
                if protocol != "budget":
                    continue
                for label in sorted(set(r["label"])):
                    head, _, tail = label.rpartition("-")
                    if tail in suffix and head in set(r["label"]):
                        verdicts.append(_posterior(res, p, "budget", label, head))
            ok = n["cells"] == len(verdicts) and all(n["counts"][v] == verdicts.count(v) for v in n["counts"])
        else:
            ok = False
        if not ok:
            raise FindingError(f"finding {f.kind} {f.subjects} is not what the tables say: {f.text}")


# =========================================================================== values, tables, figures
def ablation_values(res: AblationResults, found: list[Finding]) -> Values:
    v = Values()
    kinds = lambda k: [f for f in found if f.kind == k]  # noqa: E731
    v["ablation/problems"] = join([PROBLEM_LABELS[p] for p in res.problems]) or "no problem"
    v["ablation/trials"] = join(sorted({count(n) for n in res.trials.values()})) or "0"
    v["ablation/settings"] = count(max([f.numbers["settings"] for f in kinds("sasla")] or [0]))
    v["text/ablation-control"] = " ".join(f.text for f in kinds("control-summary")) or "The controls were not run."
    v["text/ablation-control-detail"] = " ".join(f.text for f in kinds("control"))
    v["text/ablation-sasla"] = " ".join(f.text for f in kinds("sasla")) or "The SASLA grid was not run."
    v["text/ablation-probability"] = " ".join(f.text for f in kinds("probability-summary")) or \
        "The class distributions were not compared."
    v["text/ablation-probability-detail"] = " ".join(f.text for f in kinds("probability"))
    v["text/ablation-budget"] = " ".join(f.text for f in kinds("budget-ablation")) or \
        "The budget protocol's ablations were not run."
    v["text/ablation-verdicts"] = " ".join(f.text for f in kinds("verdict-change")) or \
        "No ablation of the budget protocol recomputed the verdicts against random sampling."
    saving = [f for f in kinds("sasla") if f.numbers["saving"]]
    total = kinds("sasla")
    if total:
        v["text/ablation-sasla-summary"] = (
            f"SASLA saves multiply-adds without leaving the equivalence region at "
            + (join([f"{count(f.numbers['saving'])} of {count(f.numbers['settings'])} settings on "
                     f"{PROBLEM_LABELS[f.subjects[0]]}" for f in saving]) if saving else "no setting on any problem")
            + (f" (none on {join([PROBLEM_LABELS[f.subjects[0]] for f in total if not f.numbers['saving']])})"
               if saving and len(saving) < len(total) else "") + ".")
    else:
        v["text/ablation-sasla-summary"] = "The SASLA grid was not run."
    return v


def not_run_values() -> Values:
    v = Values()
    v["ablation/problems"] = "no problem"
    v["ablation/trials"] = "0"
    v["ablation/settings"] = "0"
    for k in ("control", "control-detail", "sasla", "sasla-summary", "probability", "probability-detail", "budget",
              "verdicts"):
        v[f"text/ablation-{k}"] = "The ablation stage was not run."
    return v


def _cell(res: AblationResults, p: str, protocol: str, s: str, b: str) -> str:
    t = res.test(p, protocol, s, b)
    if t is None or not _finite(t["mean_diff"]):
        return "--"
    d = float(t["mean_diff"])
    text = num(100 * d, 1) if t["metric"] == "accuracy" else num(d, sig=2)
    mark = VERDICT_MARKS[str(t["equivalence"])]
    return f"{text}\\,{mark}" + ("$^{*}$" if _sig(t) != "none" else "")


def ablation_table(res: AblationResults) -> str:
    """One row per problem: the committee against its baselines and their three-member controls (both
    protocols), entropy's normalised class distribution against the softmax, and the SASLA settings that
    save multiply-adds inside the equivalence region."""
    lines = ["% Generated by alnn.report.build: do not edit.", "\\footnotesize\\setlength{\\tabcolsep}{2.5pt}",
             "\\begin{tabular}{lcccccc}", "\\toprule",
             " & \\multicolumn{2}{c}{Committee, draft's} & \\multicolumn{2}{c}{Committee, budget} & "
             "Entropy norm. & SASLA \\\\",
             "\\cmidrule(lr){2-3}\\cmidrule(lr){4-5}",
             "Problem & $-$passive & $-$passive$\\times$3 & $-$random & $-$random$\\times$3 & $-$softmax & "
             "saving / all \\\\", "\\midrule"]
    for p in res.problems:
        sub = res.sasla[res.sasla["dataset"] == p] if len(res.sasla) else pd.DataFrame()
        if len(sub):
            ok = sub[(sub["macs_share"] < 1) & (sub["equivalence"] == "equivalent")]
            sasla = f"{len(ok)}/{len(sub)}" + (f" ({pct(ok['macs_share'].min(), 0)})" if len(ok) else "")
        else:
            sasla = "--"
        ent = _cell(res, p, "budget", "entropy-normalised", "entropy") if TASKS[p] == "classification" else "--"
        lines.append(f"{PROBLEM_LABELS[p]} & {_cell(res, p, 'trials', 'ensemble', 'passive')} & "
                     f"{_cell(res, p, 'trials', 'ensemble', 'passive-members')} & "
                     f"{_cell(res, p, 'budget', 'ensemble', 'random')} & "
                     f"{_cell(res, p, 'budget', 'ensemble', 'random-members')} & {ent} & {sasla} \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def sasla_table(res: AblationResults) -> str:
    """The supplement's SASLA grid: per setting and problem, multiply-adds as a share of passive's and the
    difference of the primary criterion with its verdict."""
    if res.sasla.empty:
        return "% Generated by alnn.report.build: the SASLA grid was not run.\n"
    probs = [p for p in res.problems if p in set(res.sasla["dataset"])]
    lines = ["% Generated by alnn.report.build: do not edit.", "\\scriptsize\\setlength{\\tabcolsep}{2pt}",
             f"\\begin{{tabular}}{{ccl{'rr' * len(probs)}}}", "\\toprule",
             "$\\beta$ & $\\tau$ & norm & " + " & ".join(f"\\multicolumn{{2}}{{c}}{{{PROBLEM_LABELS[p]}}}"
                                                       for p in probs) + " \\\\",
             " & & & " + " & ".join("MACs & $\\Delta$" for _ in probs) + " \\\\", "\\midrule"]
    keys = res.sasla[["beta", "tau", "norm"]].drop_duplicates().sort_values(["beta", "tau", "norm"])
    for beta, tau, norm in keys.itertuples(index=False):
        cells = []
        for p in probs:
            row = res.sasla[(res.sasla["dataset"] == p) & (res.sasla["beta"] == beta) & (res.sasla["tau"] == tau)
                            & (res.sasla["norm"] == norm)]
            if row.empty:
                cells += ["--", "--"]
                continue
            r = row.iloc[0]
            d = num(100 * r["mean_diff"], 1) if TASKS[p] == "classification" else num(r["mean_diff"], sig=2)
            cells += [pct(r["macs_share"], 0), f"{d}\\,{VERDICT_MARKS[str(r['equivalence'])]}"]
        lines.append(f"{gnum(beta)} & {tau} & {norm} & " + " & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]
    return "\n".join(lines) + "\n"


def placeholder_figures(figures_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from alnn import figures as fg
    from alnn.figures import placeholder as _placeholder

    out = []
    for name in ("sasla-tradeoff", "budget-ablations"):
        out += fg.save(_placeholder("The ablation stage was not run."), Path(figures_dir) / name)
    return out


def ablation_figures(res: AblationResults, figures_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from alnn import figures as fg

    figures_dir = Path(figures_dir)
    out = []
    if len(res.sasla):
        out += fg.save(fg.sasla_tradeoff(res.sasla, res.rope), figures_dir / "sasla-tradeoff")
    else:
        out += placeholder_figures(figures_dir)[:2]
    t = res.tests
    abl = t[(t["protocol"] == "budget") & t["strategy"].map(
        lambda x: x.rpartition("-")[2] in _SUFFIXES + ("normalised", "members"))
            & (t["baseline"] == t["strategy"].map(lambda x: x.rpartition("-")[0]))]  # each variant vs its default
    out += fg.save(fg.ablation_differences(abl), figures_dir / "budget-ablations")
    return out
