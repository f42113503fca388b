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

Every sentence that compares or counts is the text of a finding whose kind is declared in this
module (:class:`~alnn.report.claims.Kind`), each with a check that recomputes it from the
per-run values by its own path (the posterior from the paired differences directly).
``sasla`` states a setting that never set a pattern aside as what it is: its runs are passive
learning's own, so its equivalence to it is no finding.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from alnn import analysis as an
from alnn import stats as st
from alnn.datasets import NAMES as PROBLEMS
from alnn.config import BUDGET_ABLATION_SUFFIXES
from alnn.datasets import TASKS
from alnn.report.claims import Finding, Kind, close, decide, make, need, said, verdict_counts
from alnn.report.claims import check_findings as check_all
from alnn.report.constants import ALPHA, PROBLEM_LABELS, STRATEGY_PROSE
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
FACTOR_PROSE = {"start": "a warm start (each round from the previous round's network)", "round_epochs": "shorter rounds",
                "schedule": "fewer budgets",
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
CONTROL = Kind("control", __name__, "both verdicts recomputed by the posterior from the paired per-run values")
CONTROL_SUMMARY = Kind("control-summary", __name__, "the significance of each cell from the comparison rows "
                       "(Holm)", consistency=True)
SASLA = Kind("sasla", __name__, "the settings, their multiply-adds against passive learning's and their "
             "verdicts recomputed from the per-run values; identical runs from the per-run presentations")
SASLA_SUMMARY = Kind("sasla-summary", __name__, "as sasla, over every problem")
PROBABILITY = Kind("probability", __name__, "the verdict recomputed by the posterior from the paired per-run values")
PROBABILITY_SUMMARY = Kind("probability-summary", __name__, "each cell's verdict recomputed by the posterior from "
                           "the paired per-run values")
BUDGET_ABLATION = Kind("budget-ablation", __name__, "every variant's verdict against its default recomputed by the "
                       "posterior from the paired per-run AUBC")
VERDICT_CHANGE = Kind("verdict-change", __name__, "both verdicts against random sampling (default and variant) "
                      "recomputed by the posterior from the paired per-run AUBC")


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


def _fmt_diff(metric: str, d: float) -> str:
    return f"{num(100 * d, 1)} points" if metric == "accuracy" else num(d, sig=2)


def _cell_names(cells) -> str:
    return join([f"{PROBLEM_LABELS[p]} ({'budget' if pr == 'budget' else 'draft'})" for p, pr in cells])


def _are(n: int, what: str) -> str:
    """``none is practically worse`` / ``one is ...`` / ``3 are ...``."""
    return f"none is {what}" if n == 0 else f"{count(n)} {'is' if n == 1 else 'are'} {what}"


_VERDICT = st.VERDICT_WORDS


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


@CONTROL.decider
def _controls(res: AblationResults) -> list[Finding]:
    out = []
    for p in res.problems:
        for protocol, (one, three) in CONTROLS.items():
            a, b = _raw(res, p, protocol, "ensemble", one), _raw(res, p, protocol, "ensemble", three)
            if a is not None and b is not None:
                out.append(make("control", (p, protocol), {"single": a, "members": b}))
    return out


@CONTROL.template
def _t_control(f: Finding) -> str:
    p, protocol = f.subjects
    n = f.numbers
    one, _ = CONTROLS[protocol]
    what = "final" if protocol == "trials" else "AUBC of the"
    crit = "accuracy" if TASKS[p] == "classification" else "MSE"
    s1, s3 = n["single"], n["members"]
    return (f"On {PROBLEM_LABELS[p]} ({PROTOCOL_PROSE[protocol]}, {what} {crit}), the committee against "
            f"{STRATEGY_PROSE[one]} is {_VERDICT[s1['verdict']]} at a difference of "
            f"{_fmt_diff(s1['metric'], s1['diff'])}{' (significant)' if s1['sig'] != 'none' else ''}; against "
            f"three voting networks of {STRATEGY_PROSE[one]} it is {_VERDICT[s3['verdict']]} at a difference of "
            f"{_fmt_diff(s3['metric'], s3['diff'])}{' (significant)' if s3['sig'] != 'none' else ''}.")


@CONTROL.check
def _check_control(f: Finding, res: AblationResults) -> None:
    p, protocol = f.subjects
    one, three = CONTROLS[protocol]
    need(f, _posterior(res, p, protocol, "ensemble", one) == f.numbers["single"]["verdict"], "against one network")
    need(f, _posterior(res, p, protocol, "ensemble", three) == f.numbers["members"]["verdict"],
         "against three networks")


@CONTROL_SUMMARY.decider
def _control_summary(res: AblationResults) -> list[Finding]:
    cells = _controls(res)
    if not cells:
        return []
    adv = [f.subjects for f in cells if f.numbers["single"]["sig"] == "better"]
    kept = [f.subjects for f in cells if f.numbers["single"]["sig"] == "better" and f.numbers["members"]["sig"] == "better"]
    beats = [f.subjects for f in cells if f.numbers["members"]["sig"] == "better"]
    return [make("control-summary", (), {"cells": [f.subjects for f in cells], "advantage": adv, "kept": kept,
                                         "beats_control": beats})]


@CONTROL_SUMMARY.template
def _t_control_summary(f: Finding) -> str:
    n = f.numbers
    if not n["advantage"]:
        text = (f"In none of the {count(len(n['cells']))} comparisons (one per problem and protocol) is the committee "
                f"significantly better than its one-network baseline, so the three-member controls have no "
                f"advantage to explain away")
        return text + (f"; it is significantly better than the three-member control on "
                       f"{_cell_names(n['beats_control'])}." if n["beats_control"] else ".")
    text = f"The committee is significantly better than its one-network baseline on {_cell_names(n['advantage'])}; "
    if n["kept"] == n["advantage"]:
        return text + "the advantage survives the three-member control on every one of them."
    if n["kept"]:
        return text + f"against the three-member control it survives on {_cell_names(n['kept'])} only."
    return text + "against the three-member control it survives on none of them: the gain comes from voting, not from querying."


@CONTROL_SUMMARY.check
def _check_control_summary(f: Finding, res: AblationResults) -> None:
    n = f.numbers
    for key, rule in (("advantage", lambda s1, s3: s1 == "better"), ("kept", lambda s1, s3: s1 == s3 == "better"),
                      ("beats_control", lambda s1, s3: s3 == "better")):
        truth = []
        for p, protocol in n["cells"]:
            one, three = CONTROLS[protocol]
            if rule(_sig(res.test(p, protocol, "ensemble", one)), _sig(res.test(p, protocol, "ensemble", three))):
                truth.append((p, protocol))
        need(f, [tuple(x) for x in n[key]] == truth, f"{key}: {truth}")


_NO_WORSE = ("equivalent", "identical")


def _sasla_numbers(res: AblationResults, p: str) -> dict | None:
    sub = res.sasla[res.sasla["dataset"] == p] if len(res.sasla) else pd.DataFrame()
    if sub.empty:
        return None
    untouched = sub["presentations_share"] >= 1 - 1e-12
    verdict = sub["equivalence"].astype(str)
    ok = sub[(sub["macs_share"] < 1) & verdict.isin(_NO_WORSE) & ~untouched]
    cheapest = ok.sort_values(["macs_share", "beta", "tau"]).iloc[0] if len(ok) else None
    return {"settings": int(len(sub)), "cheaper": int((sub["macs_share"] < 1).sum()), "saving": int(len(ok)),
            "untouched": int(untouched.sum()), "identical": int(((verdict == "identical") & ~untouched).sum()),
            "equivalent": int(((verdict == "equivalent") & ~untouched).sum()),
            "worse": int((verdict == "worse").sum()),
            "cheapest": None if cheapest is None else {
                "beta": float(cheapest["beta"]), "tau": int(cheapest["tau"]), "norm": str(cheapest["norm"]),
                "macs_share": float(cheapest["macs_share"]),
                "presentations_share": float(cheapest["presentations_share"])}}


def _sasla_truth(res: AblationResults, p: str) -> dict:
    """The settings' counts recomputed from the per-run values and the posterior."""
    r = res.runs[(p, "trials")]
    labels = sorted(l for l in set(r["label"]) if l.startswith("sasla["))
    macs = r.groupby("label")["macs"].mean()
    wide = r.pivot_table(index=["trial", "fold"], columns="label", values="presentations")
    untouched = [l for l in labels if bool((wide[l] >= wide["passive"]).all())]
    verdict = {l: _posterior(res, p, "trials", l, "passive") for l in labels}
    cheaper = [l for l in labels if macs[l] < macs["passive"]]
    both = sorted((l for l in cheaper if verdict[l] in _NO_WORSE and l not in untouched), key=lambda l: macs[l])
    return {"settings": len(labels), "cheaper": len(cheaper), "saving": len(both), "untouched": len(untouched),
            "identical": sum(v == "identical" and l not in untouched for l, v in verdict.items()),
            "equivalent": sum(v == "equivalent" and l not in untouched for l, v in verdict.items()),
            "worse": sum(v == "worse" for v in verdict.values()),
            "cheapest_share": float(macs[both[0]] / macs["passive"]) if both else None}


@SASLA.decider
def _sasla(res: AblationResults) -> list[Finding]:
    return [make("sasla", (p,), n) for p in res.problems if (n := _sasla_numbers(res, p)) is not None]


@SASLA.template
def _t_sasla(f: Finding) -> str:
    (p,) = f.subjects
    n = f.numbers
    text = (f"On {PROBLEM_LABELS[p]}, {count(n['cheaper'])} of the {count(n['settings'])} SASLA settings use "
            f"fewer multiply-adds than passive learning")
    if n["untouched"]:
        its = "its" if n["untouched"] == 1 else "their"
        text += f"; {count(n['untouched'])} never set a pattern aside, so {its} runs are passive learning's own"
    others = [f"{count(n['identical'])} give{'s' if n['identical'] == 1 else ''} passive learning's final value in "
              f"every run (no finding of equivalence)"] if n["identical"] else []
    others += [f"{count(n['equivalent'])} {'is' if n['equivalent'] == 1 else 'are'} practically equivalent to it"] \
        if n["equivalent"] else []
    others += [f"{count(n['worse'])} {'is' if n['worse'] == 1 else 'are'} practically worse"] if n["worse"] else []
    if others:
        text += f"; of the {'others' if n['untouched'] else 'settings'}, " + join(others)
    if n["saving"]:
        c = n["cheapest"]
        text += (f"; {count(n['saving'])} {'is' if n['saving'] == 1 else 'are'} cheaper and no worse, the cheapest "
                 f"($\\beta={gnum(c['beta'])}$, $\\tau={c['tau']}$, {c['norm']} norm) at "
                 f"{pct(c['macs_share'], 0)} of passive learning's multiply-adds and "
                 f"{pct(c['presentations_share'], 0)} of its presentations")
    else:
        text += "; no setting is both cheaper and no worse"
    return text + "."


@SASLA.check
def _check_sasla(f: Finding, res: AblationResults) -> None:
    (p,) = f.subjects
    n = f.numbers
    truth = _sasla_truth(res, p)
    for k in ("settings", "cheaper", "saving", "untouched", "identical", "worse", "equivalent"):
        need(f, n[k] == truth[k], f"{k}: {n[k]} where the runs give {truth[k]}")
    if truth["cheapest_share"] is not None:
        need(f, close(n["cheapest"]["macs_share"], truth["cheapest_share"], 1e-9), "the cheapest setting's share")


@SASLA_SUMMARY.decider
def _sasla_summary(res: AblationResults) -> list[Finding]:
    rows = [{"problem": f.subjects[0], "saving": f.numbers["saving"], "settings": f.numbers["settings"]}
            for f in _sasla(res)]
    return [make("sasla-summary", (), {"rows": rows})] if rows else []


@SASLA_SUMMARY.template
def _t_sasla_summary(f: Finding) -> str:
    rows = f.numbers["rows"]
    saving = [r for r in rows if r["saving"]]
    text = ("SASLA saves multiply-adds with a final criterion no worse than passive learning's (equivalent or "
            "identical) at ") + (
        join([f"{count(r['saving'])} of {count(r['settings'])} settings on {PROBLEM_LABELS[r['problem']]}"
              for r in saving]) if saving else "no setting on any problem")
    if saving and len(saving) < len(rows):
        text += f" (none on {join([PROBLEM_LABELS[r['problem']] for r in rows if not r['saving']])})"
    return text + "."


@SASLA_SUMMARY.check
def _check_sasla_summary(f: Finding, res: AblationResults) -> None:
    need(f, sorted(r["problem"] for r in f.numbers["rows"]) == sorted(p for p in res.problems if (p, "trials") in res.runs
                                                                       and _sasla_numbers(res, p)), "the problems")
    for r in f.numbers["rows"]:
        truth = _sasla_truth(res, r["problem"])
        need(f, r["saving"] == truth["saving"] and r["settings"] == truth["settings"], f"{r['problem']}: {truth}")


@PROBABILITY.decider
def _probability(res: AblationResults) -> list[Finding]:
    out = []
    for p in res.problems:
        for protocol in ("trials", "budget"):
            for s in ("entropy", "ensemble"):
                r = _raw(res, p, protocol, f"{s}-normalised", s)
                if r is not None:
                    out.append(make("probability", (p, protocol, s), r))
    return out


@PROBABILITY.template
def _t_probability(f: Finding) -> str:
    p, protocol, s = f.subjects
    n = f.numbers
    what = "final" if protocol == "trials" else "AUBC of the"
    return (f"{capital(STRATEGY_PROSE[s])} on {PROBLEM_LABELS[p]} ({PROTOCOL_PROSE[protocol]}): the normalised "
            f"class distribution against the softmax is {_VERDICT[n['verdict']]} ({what} "
            f"{'accuracy' if n['metric'] == 'accuracy' else 'MSE'}, difference {_fmt_diff(n['metric'], n['diff'])}).")


@PROBABILITY.check
def _check_probability(f: Finding, res: AblationResults) -> None:
    p, protocol, s = f.subjects
    need(f, _posterior(res, p, protocol, f"{s}-normalised", s) == f.numbers["verdict"], "the verdict")


@PROBABILITY_SUMMARY.decider
def _probability_summary(res: AblationResults) -> list[Finding]:
    prob = [f for f in _probability(res) if f.subjects[2] == "entropy"]
    if not prob:
        return []
    return [make("probability-summary", ("entropy",), {
        "cells": [f.subjects[:2] for f in prob],
        "different": [f.subjects[:2] for f in prob if f.numbers["verdict"] in ("better", "worse")],
        "equivalent": [f.subjects[:2] for f in prob if f.numbers["verdict"] == "equivalent"],
        "identical": [f.subjects[:2] for f in prob if f.numbers["verdict"] == "identical"]})]


@PROBABILITY_SUMMARY.template
def _t_probability_summary(f: Finding) -> str:
    n = f.numbers
    total = count(len(n["cells"]))
    if n["different"]:
        text = (f"Entropy sampling's results depend on the class distribution on {_cell_names(n['different'])} "
                f"(of {total} comparisons, one per problem and protocol)")
    else:
        text = (f"In none of the {total} comparisons (one per problem and protocol) does the class distribution "
                f"make entropy sampling's results practically different")
    text += (f"; they are practically equivalent on {_cell_names(n['equivalent'])}" if n["equivalent"]
             else "; in none are they shown practically equivalent")
    if n.get("identical"):
        text += f", and they are the same in every run on {_cell_names(n['identical'])}"
    return text + "."


@PROBABILITY_SUMMARY.check
def _check_probability_summary(f: Finding, res: AblationResults) -> None:
    n = f.numbers
    for p, protocol in n["cells"]:
        v = _posterior(res, p, protocol, "entropy-normalised", "entropy")
        need(f, ((p, protocol) in [tuple(x) for x in n["different"]]) == (v in ("better", "worse")), f"{p} {protocol}")
        need(f, ((p, protocol) in [tuple(x) for x in n["equivalent"]]) == (v == "equivalent"), f"{p} {protocol}")
        need(f, ((p, protocol) in [tuple(x) for x in n.get("identical", [])]) == (v == "identical"),
             f"{p} {protocol}: the same in every run")


def _ablation_groups():
    """(subjects, suffixes) of the budget-ablation findings: one per factor, the rules of a round one each."""
    for factor, suffixes in BUDGET_FACTORS.items():
        if factor == "round_training":
            for sx in suffixes:
                yield (factor, sx), (sx,)
        else:
            yield (factor,), suffixes


@BUDGET_ABLATION.decider
def _budget_ablation(res: AblationResults) -> list[Finding]:
    out = []
    t = res.tests
    for subjects, suffix in _ablation_groups():
        rows = t[(t["protocol"] == "budget") & t["strategy"].map(lambda x: x.rpartition("-")[2] in suffix)
                 & (t["baseline"] == t["strategy"].map(lambda x: x.rpartition("-")[0]))]
        if rows.empty:
            continue
        counts = {v: int((rows["equivalence"] == v).sum())
                  for v in ("equivalent", "identical", "better", "worse", "inconclusive")}
        out.append(make("budget-ablation", subjects, {"counts": counts, "cells": int(len(rows))}))
    return out


@BUDGET_ABLATION.template
def _t_budget_ablation(f: Finding) -> str:
    factor = f.subjects[-1] if f.subjects[0] == "round_training" else f.subjects[0]
    n = f.numbers
    c = n["counts"]
    return (f"With {FACTOR_PROSE[factor]}, the Bayesian test finds the AUBC of the {count(n['cells'])} strategy "
            f"$\\times$ problem cells against the default {verdict_counts({'identical': 0, **c})}.")


@BUDGET_ABLATION.check
def _check_budget_ablation(f: Finding, res: AblationResults) -> None:
    n = f.numbers
    suffix = (f.subjects[1],) if f.subjects[0] == "round_training" else BUDGET_FACTORS[f.subjects[0]]
    verdicts = []
    for (p, protocol), r in res.runs.items():
        if protocol != "budget":
            continue
        for label in sorted(set(r["label"])):
            head, _, tail = label.rpartition("-")
            if tail in suffix and head in set(r["label"]):
                verdicts.append(_posterior(res, p, "budget", label, head))
    need(f, n["cells"] == len(verdicts) and all(n["counts"][v] == verdicts.count(v) for v in n["counts"]),
         f"{n['counts']} where the posteriors give {verdicts}")


@VERDICT_CHANGE.decider
def _verdict_change(res: AblationResults) -> list[Finding]:
    out = []
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
            out.append(make("verdict-change", (suffix,), {"cells": cells, "changed": changed}))
    return out


@VERDICT_CHANGE.template
def _t_verdict_change(f: Finding) -> str:
    (suffix,) = f.subjects
    n = f.numbers
    what = capital(SUFFIX_PROSE[suffix])
    if not n["changed"]:
        return (f"{what} change no verdict against random sampling on AUBC "
                f"({count(len(n['cells']))} strategy $\\times$ problem cells).")
    by: dict[str, list[str]] = {}
    for p, s in n["changed"]:
        by.setdefault(s, []).append(PROBLEM_LABELS[p])
    return (f"{what} change the verdict against random sampling on AUBC in {count(len(n['changed']))} "
            f"of {count(len(n['cells']))} strategy $\\times$ problem cells ("
            + join([f"{STRATEGY_PROSE[s]} on {join(ps)}" for s, ps in by.items()]) + ").")


@VERDICT_CHANGE.check
def _check_verdict_change(f: Finding, res: AblationResults) -> None:
    (suffix,) = f.subjects
    for p, s, before, after in f.numbers["cells"]:
        need(f, _posterior(res, p, "budget", s, "random") == before, f"{p}/{s}: the default's verdict")
        need(f, _posterior(res, p, "budget", f"{s}-{suffix}", f"random-{suffix}") == after, f"{p}/{s}: the variant's")
        need(f, ((p, s) in [tuple(x) for x in f.numbers["changed"]]) == (before != after), f"{p}/{s}: changed or not")


def findings(res: AblationResults) -> list[Finding]:
    """Every finding of the ablation section, each kind's decider in declaration order, checked."""
    return decide(__name__, res)


def check_findings(found: list[Finding], res: AblationResults) -> None:
    """Recompute every finding; :class:`FindingError` names the first one its results contradict."""
    check_all(found, res)


# =========================================================================== values, tables, figures
def ablation_values(res: AblationResults, found: list[Finding]) -> Values:
    """The ablation section's macros; every sentence that compares or counts is a checked finding's text."""
    v = Values()
    text = lambda *kinds: said([f for f in found if f.kind in kinds], res)  # noqa: E731
    v["ablation/problems"] = join([PROBLEM_LABELS[p] for p in res.problems]) or "no problem"
    v["ablation/trials"] = join(sorted({count(n) for n in res.trials.values()})) or "0"
    v["ablation/settings"] = count(max([f.numbers["settings"] for f in found if f.kind == "sasla"] or [0]))
    v["text/ablation-control"] = text("control-summary") or "The controls were not run."
    v["text/ablation-control-detail"] = text("control")
    v["text/ablation-sasla"] = text("sasla") or "The SASLA grid was not run."
    v["text/ablation-probability"] = text("probability-summary") or "The class distributions were not compared."
    v["text/ablation-probability-detail"] = text("probability")
    v["text/ablation-budget"] = text("budget-ablation") or "The budget protocol's ablations were not run."
    v["text/ablation-verdicts"] = text("verdict-change") or \
        "No ablation of the budget protocol recomputed the verdicts against random sampling."
    v["text/ablation-sasla-summary"] = text("sasla-summary") or "The SASLA grid was not run."
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
        n = _sasla_numbers(res, p)
        if n is None:
            sasla = "--"
        else:
            sasla = f"{n['saving']} of {n['settings']}" + (f"; {pct(n['cheapest']['macs_share'], 0)} MACs"
                                                           if n["cheapest"] else "")
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
