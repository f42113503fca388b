"""The index page of one profile's reports: ``reports/<profile>/index.html``.

:func:`write_index` opens on the headline -- the profile (name, description),
the date, the main comparison tables (rendered from the CSV files the
analysis notebook writes to ``paper/generated/<profile>/``) and the main
figures (``figures/<profile>/*.png``) -- then shows the figures of the
per-problem and per-strategy notebooks and lists every executed notebook
(HTML and .ipynb).  Every table and figure links to the executed notebook
that made it; which notebook made which file is read from the parameters
papermill records in each executed notebook (names are the fallback).

Everything the page links to lies below the page's folder, so the links keep
working when ``reports/`` is browsed (or copied) alone: files from elsewhere
(the analysis figures and CSV files) are copied into ``<folder>/site/``; the
notebooks' own figures (``reports/<profile>/figures/``) are linked in place.
Every file is written atomically, the page last.
"""

from __future__ import annotations

import csv
import html
import json
import math
import os
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

#: The folder (beside the page) that holds copies of the files the page shows from elsewhere.
SITE_DIR = "site"
IMAGE_SUFFIXES = (".png", ".svg", ".jpg", ".jpeg")

#: Figures of the analysis notebook, in the order the page shows them, with their captions.
MAIN_FIGURES = {
    "budget-curves": "Budget curves: the primary criterion against the number of labels (log scale), "
                     "mean and 95% band over trials and folds; the grey band is passive learning on the whole pool.",
    "learning-curves-epochs": "Validation accuracy (classification) and MSE (function approximation) against "
                              "epochs: mean over runs with a band, one line per strategy.",
    "penalty-matrix": "Pairwise penalty matrix: the share of (problem, budget) cells in which the row strategy "
                      "is significantly better than the column strategy.",
    "cd-classification": "Critical-difference diagram (Nemenyi) for classification: strategies joined by a bar "
                         "are not significantly different.",
    "cd-regression": "Critical-difference diagram (Nemenyi) for function approximation.",
    "budget-labels": "Labels needed to reach 95% of passive learning's full-pool value in the budget protocol.",
    "learning-curves-presentations": "The learning curves against the cumulative number of pattern "
                                     "presentations (log scale).",
    "subset-size": "Training-subset size against epochs (mean with a band of one standard deviation).",
    "labels-to-target": "Labels used when the convergence target was reached (one dot per converged run).",
    "grid-heatmaps": "Grid search: mean validation MSE of the best configuration per hidden size and "
                     "learning rate; the winner is outlined.",
    "sasla-at-work": "SASLA at work: the patterns it selects.",
}
#: Captions of the per-problem and per-strategy notebooks' figures, by the figure name's prefix.
NOTEBOOK_FIGURES = {"grid": "Grid search", "budget": "Budget curves", "curves": "Learning curves",
                    "subset": "Training-subset size"}
#: Groups of the notebook list, by the notebook name's prefix.
KINDS = (("analysis", "Analysis"), ("problem-", "Per problem"), ("strategy-", "Per strategy"))

SIGNIFICANCE = {"better": ("\u25b2", "significantly better"), "worse": ("\u25bc", "significantly worse")}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:78rem;padding:1rem 1.5rem;
color:#1b1b1b;line-height:1.45}
header{border-bottom:2px solid #ddd;margin-bottom:1rem}h1{margin:.2rem 0}.desc{font-size:1.1rem;margin:.3rem 0}
.meta{color:#555}nav a{margin-right:1rem}h2{margin-top:2rem;border-bottom:1px solid #eee}
table{border-collapse:collapse;margin:.5rem 0;font-variant-numeric:tabular-nums}
th,td{padding:.25rem .6rem;border-bottom:1px solid #e4e4e4;text-align:right}
th:first-child,td:first-child,.crit{text-align:left}td small{font-weight:normal;color:#555}thead th{border-bottom:2px solid #999}
tr.task th{text-align:left;font-style:italic;background:#f6f6f6}td.best{font-weight:bold}
.up{color:#1a7f37}.down{color:#c62828}.src,.note{color:#555;font-size:.9rem}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(26rem,1fr));gap:1rem}
.figs.small{grid-template-columns:repeat(auto-fill,minmax(18rem,1fr))}
figure{margin:0;border:1px solid #e4e4e4;padding:.5rem;background:#fff}
figure img{width:100%;height:auto;display:block}figcaption{font-size:.88rem;color:#333;margin-top:.3rem}
"""


# --------------------------------------------------------------------------- notebooks
@dataclass
class Notebook:
    """One executed notebook: its HTML page, its .ipynb and what papermill recorded."""

    page: Path
    ipynb: Path
    name: str
    params: dict = field(default_factory=dict)
    end_time: str = ""
    duration: float | None = None

    @classmethod
    def of(cls, page: str | Path) -> Notebook:
        page = Path(page)
        ipynb = page.with_suffix(".ipynb")
        meta = {}
        try:
            meta = json.loads(ipynb.read_text(encoding="utf-8")).get("metadata", {}).get("papermill") or {}
        except (OSError, ValueError, AttributeError):
            pass
        duration = meta.get("duration")
        return cls(page=page, ipynb=ipynb, name=page.stem, params=dict(meta.get("parameters") or {}),
                   end_time=str(meta.get("end_time") or ""),
                   duration=float(duration) if isinstance(duration, (int, float)) else None)

    @property
    def kind(self) -> str:
        return next((label for prefix, label in KINDS if self.name.startswith(prefix)), "Other")

    @property
    def subject(self) -> str:
        """The problem or strategy of a per-problem or per-strategy notebook (else its name)."""
        return self.name.split("-", 1)[1] if self.name.startswith(("problem-", "strategy-")) else self.name

    def images(self, root: Path) -> list[Path]:
        """The figures this notebook wrote: its image parameters, else ``figures/*-<subject>.png`` beside it."""
        found = [_at(root, v) for v in self.params.values()
                 if isinstance(v, str) and v.lower().endswith(IMAGE_SUFFIXES)]
        if not self.params and self.name.startswith(("problem-", "strategy-")):
            found = sorted(self.ipynb.parent.joinpath("figures").glob(f"*-{self.subject}.png"))
        return [p for p in found if p.is_file()]


def _at(root: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else root / p


# --------------------------------------------------------------------------- formatting
def _e(text) -> str:
    return html.escape(str(text), quote=True)


def _float(text) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _read_csv(path: Path | None) -> list[dict]:
    if path is None or not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _label(name: str, labels: dict) -> str:
    return labels.get(name, name)


def _labels():
    try:
        from alnn.report.constants import PROBLEM_LABELS, STRATEGY_LABELS
        from alnn.analysis import HIGHER_IS_BETTER, STRATEGY_ORDER
    except Exception:  # the page must not fail because the analysis code does
        return {}, {}, {"accuracy": True, "mse": False}, ()
    return PROBLEM_LABELS, STRATEGY_LABELS, HIGHER_IS_BETTER, STRATEGY_ORDER


def _value(metric: str, x: float) -> str:
    """Accuracy-like shares in percent (one decimal), other metrics to 3 significant digits."""
    if not math.isfinite(x):
        return "n/a"
    if metric in ("accuracy", "f1", "precision", "recall"):
        return f"{100 * x:.1f}"
    return f"{x:.3g}"


def _unit(metric: str) -> str:
    return {"accuracy": "accuracy (%)", "mse": "MSE", "f1": "macro F1 (%)"}.get(metric, metric)


def _mark(test: dict | None) -> str:
    if not test or str(test.get("significant", "")).strip().lower() != "true":
        return ""
    sym, what = SIGNIFICANCE.get(str(test.get("direction")), ("", ""))
    if not sym:
        return ""
    cls = "up" if test.get("direction") == "better" else "down"
    return f' <span class="{cls}" title="{_e(what)} than {_e(test.get("baseline", ""))}">{sym}</span>'


# --------------------------------------------------------------------------- page
class _Page:
    def __init__(self, out: Path, root: Path):
        self.out, self.root = out, root
        self.dir = out.parent
        self.site = self.dir / SITE_DIR
        self.copied: set[Path] = set()

    def href(self, path: Path) -> str:
        return Path(os.path.relpath(path, self.dir)).as_posix()

    def asset(self, path: Path, sub: str) -> str:
        """A relative link to ``path``: in place below the page's folder, else a copy in ``site/<sub>/``."""
        path = Path(path)
        if path.resolve().is_relative_to(self.dir.resolve()):
            self.copied.add(path.resolve())  # (never deleted as a stale copy)
            return _e(self.href(path.resolve()))
        dest = self.site / sub / path.name
        _copy_atomic(path, dest)
        self.copied.add(dest.resolve())
        return _e(self.href(dest))

    def nb_links(self, nb: Notebook | None) -> str:
        if nb is None:
            return "a notebook not among these reports"
        return (f'the <a href="{_e(self.href(nb.page))}">{_e(nb.name)}</a> notebook '
                f'(<a href="{_e(self.href(nb.ipynb))}">.ipynb</a>)')

    def figure(self, img: Path, caption: str, nb: Notebook | None, sub: str) -> str:
        src = self.asset(img, sub)
        target = _e(self.href(nb.page)) if nb is not None else src
        return (f'<figure id="fig-{_e(img.stem)}"><a href="{target}"><img src="{src}" alt="{_e(img.stem)}"></a>'
                f'<figcaption><b>{_e(img.stem)}</b>: {_e(caption)} Made by {self.nb_links(nb)}; '
                f'<a href="{src}">full size</a>.</figcaption></figure>')


def _copy_atomic(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if dest.is_file() and dest.stat().st_size == src.stat().st_size and dest.read_bytes() == src.read_bytes():
        return
    tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
    shutil.copyfile(src, tmp)
    os.replace(tmp, dest)


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _order(names, order) -> list[str]:
    names = list(dict.fromkeys(names))
    return sorted(names, key=lambda s: (order.index(s) if s in order else len(order), names.index(s)))


def _comparison(summary: list[dict], within: list[dict], labels) -> str:
    """Rows: problems (grouped by task); columns: strategies; cells: mean +- sd of the primary metric."""
    plabels, slabels, higher, order = labels
    by = {(r["dataset"], r["strategy"], r["metric"]): r for r in summary}
    tests = {(r["dataset"], r["strategy"], r["metric"]): r for r in within if r.get("baseline") == "passive"}
    datasets = list(dict.fromkeys(r["dataset"] for r in summary))
    tasks = {"classification": [], "regression": []}
    for d in datasets:
        if (d, "accuracy") in {(k[0], k[2]) for k in by if math.isfinite(_float(by[k].get("mean")))}:
            tasks["classification"].append((d, "accuracy"))
        elif any(k[0] == d and k[2] == "mse" for k in by):
            tasks["regression"].append((d, "mse"))
    strategies = _order([k[1] for k in by if any(k[0] == d and k[2] == m for rows in tasks.values()
                                                  for d, m in rows)], order)
    if not strategies:
        return ""
    head = "".join(f"<th>{_e(_label(s, slabels))}</th>" for s in strategies)
    rows = [f"<table class='comparison'><thead><tr><th>Problem</th><th class='crit'>Criterion</th>{head}<th>n</th></tr></thead>"
            "<tbody>"]
    prose = {"classification": "Classification", "regression": "Function approximation"}
    for task, items in tasks.items():
        if not items:
            continue
        rows.append(f"<tr class='task'><th colspan='{len(strategies) + 3}'>{prose[task]}</th></tr>")
        for d, m in items:
            means = {s: _float(by[(d, s, m)]["mean"]) for s in strategies if (d, s, m) in by}
            finite = [v for v in means.values() if math.isfinite(v)]
            best = (max if higher.get(m, True) else min)(finite) if finite else None
            cells, n = [], ""
            for s in strategies:
                r = by.get((d, s, m))
                if r is None:
                    cells.append("<td>&ndash;</td>")
                    continue
                mean, sd = _float(r["mean"]), _float(r.get("std"))
                n = r.get("n", n)
                txt = _value(m, mean) + (f" &plusmn; {_value(m, sd)}" if math.isfinite(sd) else "")
                cls = " class='best'" if best is not None and mean == best else ""
                cells.append(f"<td{cls}>{txt}{_mark(tests.get((d, s, m)))}</td>")
            rows.append(f"<tr><td>{_e(_label(d, plabels))}</td><td class='crit'>{_e(_unit(m))}</td>{''.join(cells)}"
                        f"<td>{_e(n)}</td></tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _budget(aubc: list[dict], tests: list[dict], labels) -> str:
    """Area under the budget curve per problem x strategy, marked against random sampling."""
    plabels, slabels, higher, order = labels
    by = {(r["dataset"], r["strategy"]): r for r in aubc}
    aubc_tests = {(r["dataset"], r["strategy"]): r for r in tests
                  if r.get("quantity") == "aubc" and r.get("baseline") == "random"}
    fixed: dict[tuple[str, str], list[int]] = {}
    for r in tests:
        if r.get("quantity") == "budget" and r.get("baseline") == "random":
            c = fixed.setdefault((r["dataset"], r["strategy"]), [0, 0, 0])
            c[2] += 1
            if str(r.get("significant")).lower() == "true" and r.get("direction") in ("better", "worse"):
                c[0 if r["direction"] == "better" else 1] += 1
    strategies = _order([s for _, s in by], order)
    if not strategies:
        return ""
    head = "".join(f"<th>{_e(_label(s, slabels))}</th>" for s in strategies)
    rows = [f"<table class='budget'><thead><tr><th>Problem</th><th class='crit'>Criterion</th>{head}</tr></thead><tbody>"]
    for d in dict.fromkeys(d for d, _ in by):
        metric = next((by[(d, s)]["metric"] for s in strategies if (d, s) in by), "")
        means = {s: _float(by[(d, s)]["mean"]) for s in strategies if (d, s) in by}
        finite = [v for v in means.values() if math.isfinite(v)]
        best = (max if higher.get(metric, True) else min)(finite) if finite else None
        cells = []
        for s in strategies:
            r = by.get((d, s))
            if r is None:
                cells.append("<td>&ndash;</td>")
                continue
            mean, sd = _float(r["mean"]), _float(r.get("std"))
            txt = _value(metric, mean) + (f" &plusmn; {_value(metric, sd)}" if math.isfinite(sd) else "")
            c = fixed.get((d, s))
            if c and c[2]:
                txt += (f"<br><small title='fixed budgets at which it is significantly better / worse than random'>"
                        f"budgets {c[0]}\u25b2 {c[1]}\u25bc of {c[2]}</small>")
            cls = " class='best'" if best is not None and mean == best else ""
            cells.append(f"<td{cls}>{txt}{_mark(aubc_tests.get((d, s)))}</td>")
        rows.append(f"<tr><td>{_e(_label(d, plabels))}</td><td class='crit'>AUBC, {_e(_unit(metric))}</td>{''.join(cells)}</tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _across(across: list[dict], labels) -> str:
    """Average ranks across problems per task (Friedman test, critical difference)."""
    plabels, slabels, higher, order = labels
    if not across:
        return ""
    strategies = _order([r["strategy"] for r in across], order)
    head = "".join(f"<th>{_e(_label(s, slabels))}</th>" for s in strategies)
    rows = [f"<table class='across'><thead><tr><th>Task</th>{head}<th>Friedman p</th><th>CD</th></tr></thead><tbody>"]
    for task in dict.fromkeys(r["task"] for r in across):
        sub = {r["strategy"]: r for r in across if r["task"] == task}
        cells = "".join(f"<td>{_value('rank', _float(sub[s]['avg_rank']))}</td>" if s in sub
                        else "<td>&ndash;</td>" for s in strategies)
        first = next(iter(sub.values()))
        rows.append(f"<tr><td>{_e(task)}</td>{cells}<td>{_value('p', _float(first.get('p_f')))}</td>"
                    f"<td>{_value('cd', _float(first.get('cd')))}</td></tr>")
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _date(when: datetime) -> str:
    when = when.astimezone(timezone.utc)
    return f'<time datetime="{when.isoformat(timespec="seconds")}">{when:%Y-%m-%d %H:%M} UTC</time>'


def _executed(nb: Notebook) -> str:
    try:
        return _date(datetime.fromisoformat(nb.end_time))
    except ValueError:
        return ""


def build_date() -> datetime:
    """``SOURCE_DATE_EPOCH`` when set (reproducible builds), else now."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), timezone.utc)
    return datetime.now(timezone.utc)


def write_index(profile: str, out: str | Path, pages: list[str | Path], *, generated: str | Path | None = None,
                figures: str | Path | None = None, description: str | None = None,
                date: datetime | None = None, root: str | Path | None = None) -> Path:
    """Write the index page ``out`` of one profile's executed notebooks (``pages``: their HTML files).

    ``generated`` and ``figures``: the folders of the analysis notebook's CSV
    files and figures (default: the ``generated``/``figures`` parameters of
    the notebook that papermill ran with them); ``description``: the
    profile's (default: ``alnn.config.load_profile(profile).description``);
    ``date``: the page's date (default :func:`build_date`); ``root``: the
    folder the notebooks' parameter paths are relative to (default: the
    working directory, as for make's papermill ``--cwd``).
    """
    out = Path(out)
    root = Path(root) if root is not None else Path.cwd()
    date = date or build_date()
    if description is None:
        try:
            from alnn import config as C
            description = C.load_profile(profile).description
        except Exception:
            description = ""
    notebooks = [Notebook.of(p) for p in pages]
    labels = _labels()
    page = _Page(out, root)

    def maker(key: str, given) -> tuple[Path | None, Notebook | None]:
        """The folder of the analysis notebook's ``key`` output and the notebook that wrote it."""
        by_param = next((nb for nb in notebooks if isinstance(nb.params.get(key), str)), None)
        by_name = next((nb for nb in notebooks if nb.name == "analysis"), None)
        folder = Path(given) if given is not None else (_at(root, by_param.params[key]) if by_param else None)
        if folder is not None and by_param is not None and _at(root, by_param.params[key]).resolve() != \
                folder.resolve():
            by_param = None
        return folder, by_param or by_name

    gen_dir, gen_nb = maker("generated", generated)
    fig_dir, fig_nb = maker("figures", figures)
    analysis = gen_nb or fig_nb

    # ---- head
    parts = [f"<!doctype html>\n<html lang='en'><head><meta charset='utf-8'>"
             f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
             f"<title>alnn reports: profile {_e(profile)}</title><style>{CSS}</style></head>\n<body>",
             f"<header><h1>alnn: profile <code>{_e(profile)}</code></h1>"]
    if description:
        parts.append(f"<p class='desc'>{_e(description)}</p>")
    meta = [f"Page built {_date(date)}"]
    if analysis is not None and _executed(analysis):
        meta.append(f"analysis executed {_executed(analysis)}")
    meta.append(f"<a href=\"#notebooks\">{len(notebooks)} executed notebook(s)</a>")
    parts.append(f"<p class='meta'>{' &middot; '.join(meta)}. Made by <code>make reports "
                 f"PROFILE={_e(profile)}</code>.</p>")
    sections = []

    # ---- tables
    csvs = {name: (gen_dir / name if gen_dir is not None else None)
            for name in ("summary.csv", "within.csv", "budget-aubc.csv", "budget-tests.csv", "across.csv")}
    rows = {name: _read_csv(path) for name, path in csvs.items()}

    def source(*names: str) -> str:
        files = ", ".join(f'<a href="{page.asset(csvs[n], "tables")}">{_e(n)}</a>'
                          for n in names if csvs[n] is not None and csvs[n].is_file())
        return f"<p class='src'>Data: {files}. Made by {page.nb_links(analysis)}.</p>"

    body = []
    table = _comparison(rows["summary.csv"], rows["within.csv"], labels)
    if table:
        body.append(f"<section id='comparison'><h2>Main comparison</h2>\n<p class='note'>Final validation "
                    f"criterion of every strategy, mean &plusmn; standard deviation over runs (best in bold); "
                    f"{SIGNIFICANCE['better'][0]}/{SIGNIFICANCE['worse'][0]}: significantly better/worse than "
                    f"passive learning (corrected resampled t-test, Holm).</p>\n{table}\n"
                    f"{source('summary.csv', 'within.csv')}</section>")
        sections.append(("comparison", "Main comparison"))
    table = _budget(rows["budget-aubc.csv"], rows["budget-tests.csv"], labels)
    if table:
        body.append(f"<section id='budget'><h2>Budget protocol</h2>\n<p class='note'>Area under the budget curve "
                    f"(AUBC) of the primary criterion, mean &plusmn; standard deviation (best in bold); "
                    f"{SIGNIFICANCE['better'][0]}/{SIGNIFICANCE['worse'][0]}: significantly better/worse than "
                    f"random sampling; below: at how many fixed budgets it is.</p>\n{table}\n"
                    f"{source('budget-aubc.csv', 'budget-tests.csv')}</section>")
        sections.append(("budget", "Budget protocol"))
    table = _across(rows["across.csv"], labels)
    if table:
        body.append(f"<section id='ranks'><h2>Ranks across problems</h2>\n<p class='note'>Average rank of every "
                    f"strategy over the problems of a task (1 is best), the Friedman test's p-value and the "
                    f"critical difference.</p>\n{table}\n{source('across.csv')}</section>")
        sections.append(("ranks", "Ranks"))
    if not any(rows.values()):
        where = _e(page.href(gen_dir.resolve())) if gen_dir is not None else "no folder"
        body.append(f"<section id='comparison'><h2>Main comparison</h2><p class='note'>No tables: the analysis "
                    f"notebook's CSV files were not found ({where}).</p></section>")

    # ---- main figures
    if fig_dir is not None and fig_dir.is_dir():
        images = {p.stem: p for p in sorted(fig_dir.iterdir()) if p.suffix.lower() in IMAGE_SUFFIXES}
        names = [n for n in MAIN_FIGURES if n in images] + [n for n in images if n not in MAIN_FIGURES]
        if names:
            figs = "\n".join(page.figure(images[n], MAIN_FIGURES.get(n, ""), fig_nb, "figures") for n in names)
            body.append(f"<section id='figures'><h2>Figures</h2>\n<div class='figs'>\n{figs}\n</div></section>")
            sections.append(("figures", "Figures"))

    # ---- figures of the per-problem and per-strategy notebooks
    for prefix, label in KINDS[1:]:
        group = [nb for nb in notebooks if nb.name.startswith(prefix) and nb.images(root)]
        if not group:
            continue
        anchor = prefix.rstrip("-")
        blocks = []
        for nb in group:
            subject = _label(nb.subject, labels[0] if prefix == "problem-" else labels[1])
            figs = []
            for img in nb.images(root):
                what = NOTEBOOK_FIGURES.get(img.stem.split("-", 1)[0], img.stem)
                figs.append(page.figure(img, f"{what}, {subject}.", nb, "notebook-figures"))
            blocks.append(f"<h3 id='nb-{_e(nb.name)}'>{_e(subject)}: <a href=\"{_e(page.href(nb.page))}\">"
                          f"{_e(nb.name)}</a></h3>\n<div class='figs small'>\n" + "\n".join(figs) + "\n</div>")
        body.append(f"<section id='{anchor}'><h2>{_e(label)}</h2>\n" + "\n".join(blocks) + "</section>")
        sections.append((anchor, label))

    # ---- every notebook
    items = []
    for _, label in list(KINDS) + [("", "Other")]:
        group = [nb for nb in notebooks if nb.kind == label]
        if not group:
            continue
        lis = []
        for nb in group:
            extra = [x for x in (_executed(nb) and f"executed {_executed(nb)}",
                                 nb.duration is not None and f"{nb.duration:.0f} s") if x]
            lis.append(f"<li><a href=\"{_e(page.href(nb.page))}\">{_e(nb.name)}</a> "
                       f"(<a href=\"{_e(page.href(nb.ipynb))}\">.ipynb</a>)"
                       + (f" <span class='note'>{', '.join(extra)}</span>" if extra else "") + "</li>")
        items.append(f"<h3>{_e(label)}</h3><ul>\n" + "\n".join(lis) + "\n</ul>")
    body.append("<section id='notebooks'><h2>Executed notebooks</h2>\n<p class='note'>Each page is an executed "
                "notebook rendered to HTML, beside the notebook itself.</p>\n" + "\n".join(items) + "</section>")
    sections.append(("notebooks", "Notebooks"))

    parts.append("<nav>" + "".join(f"<a href=\"#{a}\">{_e(t)}</a>" for a, t in sections) + "</nav></header>")
    parts += body
    parts.append("</body></html>\n")

    # copies no longer shown go; the page comes last
    if page.site.is_dir():
        for old in page.site.rglob("*"):
            if old.is_file() and old.resolve() not in page.copied:
                old.unlink()
    _write_atomic(out, "\n".join(parts))
    return out
