"""Figures of the paper. Every function takes frames and returns a
:class:`matplotlib.figure.Figure`; :func:`save` writes it.

Figures are built on ``matplotlib.figure.Figure`` directly (no pyplot, no
global state, any backend), sized for an IEEE two-column paper
(:data:`COLUMN_WIDTH` 3.5 in, :data:`TEXT_WIDTH` 7.16 in) with 8 pt text, and
saved as vector PDF with TrueType fonts (IEEE PDF eXpress rejects Type 3).
Each strategy has one fixed colour (seaborn's colour-blind palette), marker
and line style, used by every figure, so the figures also read in grey.
"""

from __future__ import annotations

import filecmp
import os
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
import seaborn as sns

from alnn.strategies.catalogue import catalogue as _catalogue
from matplotlib.colors import LogNorm, Normalize
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextPath

from alnn import analysis as _an
from alnn import stats as _stats

__all__ = [
    "STRATEGY_ORDER", "STRATEGY_COLORS", "STRATEGY_LABELS", "STRATEGY_MARKERS",
    "STRATEGY_LINESTYLES", "METRIC_LABELS", "COLUMN_WIDTH", "TEXT_WIDTH", "PAPER_RC",
    "paper_style", "save", "learning_curves", "subset_sizes", "labels_to_convergence",
    "grid_heatmap", "critical_difference_diagram", "sasla_at_work",
    "budget_curves", "penalty_matrix_figure", "labels_to_target_figure",
    "new_figure", "log_axis", "placeholder",
]

STRATEGY_ORDER = _an.STRATEGY_ORDER
_PALETTE = sns.color_palette("colorblind")
#: Colour, label, marker and line style of every strategy, as its module describes it
#: (`alnn.strategies.catalogue`; seaborn "colorblind" for the draft's strategies; strategies that
#: never share a task may share a colour and a marker).
STRATEGY_COLORS = {n: d.colour for n, d in _catalogue().items()}
STRATEGY_LABELS = {n: d.label for n, d in _catalogue().items()}
STRATEGY_MARKERS = {n: d.marker for n, d in _catalogue().items()}
STRATEGY_LINESTYLES = {n: d.style for n, d in _catalogue().items()}
METRIC_LABELS = {"accuracy": "Accuracy", "f1": "Macro F1", "precision": "Macro precision",
                 "recall": "Macro recall", "mcc": "MCC", "mse": "MSE", "rmse": "RMSE",
                 "mae": "MAE", "r2": "$R^2$", "val_loss": "Validation loss",
                 "train_loss": "Training loss"}
DATASET_LABELS = {"iris": "Iris", "wine": "Wine", "fashion-mnist": "Fashion-MNIST",
                  "sine": "Sine", "california-housing": "California Housing",
                  "energy-efficiency": "Energy Efficiency"}

#: IEEE single-column and double-column (text) widths in inches.
COLUMN_WIDTH = 3.5
TEXT_WIDTH = 7.16

#: rc settings applied while a figure is drawn and saved.
PAPER_RC = {
    "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "xtick.labelsize": 7,
    "ytick.labelsize": 7, "legend.fontsize": 7, "legend.frameon": False,
    "axes.linewidth": 0.6, "lines.linewidth": 1.0, "lines.markersize": 3,
    "xtick.major.width": 0.6, "ytick.major.width": 0.6, "xtick.major.size": 2.5,
    "ytick.major.size": 2.5, "axes.spines.top": False, "axes.spines.right": False,
    "pdf.fonttype": 42, "ps.fonttype": 42, "savefig.dpi": 300,
    "figure.constrained_layout.h_pad": 0.02, "figure.constrained_layout.w_pad": 0.02,
}


@contextmanager
def paper_style():
    """Context in which :data:`PAPER_RC` is in force."""
    with mpl.rc_context(PAPER_RC):
        yield


def _color(s):
    return STRATEGY_COLORS.get(s, "black")


def _label(s):
    return STRATEGY_LABELS.get(s, s)


def _order(strategies) -> list[str]:
    present = list(dict.fromkeys(strategies))
    out = [s for s in STRATEGY_ORDER if s in present]
    return out + sorted(set(present) - set(out))


def new_figure(width: float, height: float, nrows: int = 1, ncols: int = 1, **kw):
    """A ``width`` x ``height`` inch figure (constrained layout) and its ``nrows`` x ``ncols`` axes, always
    a 2-D array (``kw``: passed to ``Figure.subplots``, e.g. ``sharey=True``)."""
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, **kw)
    return fig, axes


def placeholder(text: str) -> Figure:
    """A one-line figure saying ``text``, in place of a figure whose inputs are missing (a stage not run, a
    task with fewer than two problems)."""
    fig = Figure(figsize=(3.5, 0.5))
    fig.text(0.5, 0.5, text, ha="center", va="center", fontsize=7)
    return fig


def _panels(n: int, ncols: int):
    ncols = max(1, min(ncols, n))
    return int(np.ceil(n / ncols)), ncols


def log_axis(ax, which: str = "x") -> None:
    """Log scale with labels that never crowd at 7 pt: over less than 1.3 decades, plain
    labels at 1, 2, 5 x 10^n (and 1.5, 3, 7 under 0.6 decades); under 2.5 decades 1 and
    3 x 10^n (on a horizontal axis only while plain numbers stay short); wider, the decades.
    Minor ticks are never labelled. Call after plotting (or setting limits)."""
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    ax.autoscale_view()
    lo, hi = ax.get_xlim() if which == "x" else ax.get_ylim()
    if lo <= 0 or hi <= 0:
        return
    decades = abs(np.log10(hi / lo))
    short = 1e-3 <= min(lo, hi) and max(lo, hi) < 1e5  # plain labels stay a few characters wide
    if decades < 1.3:
        subs = (1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if decades < 0.6 else (1.0, 2.0, 5.0)
    elif decades < 2.5 and (short or which == "y"):
        subs = (1.0, 3.0)
    else:
        subs = (1.0,)
    axis.set_major_locator(mpl.ticker.LogLocator(base=10, subs=subs))
    if short or subs != (1.0,):
        axis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(mpl.ticker.NullFormatter())


def _legend(fig, strategies, *, ncol=None, marker=False):
    handles = [Line2D([], [], color=_color(s), ls=STRATEGY_LINESTYLES.get(s, "-"),
                      marker=STRATEGY_MARKERS.get(s) if marker else None, label=_label(s))
               for s in strategies]
    fig.legend(handles=handles, loc="outside upper center", ncol=ncol or len(handles),
               handlelength=2.2, columnspacing=1.2)


def save(fig: Figure, path, formats: Sequence[str] = ("pdf", "png"), *,
         dpi: int = 300) -> list[Path]:
    """Write ``fig`` to ``path.<fmt>`` for each format; returns the paths.

    ``path`` has no extension. Each file is written to a temporary name in
    the same folder and renamed (``os.replace``), so an interrupted run never
    leaves a half-written figure. PDFs carry no creation date, so the same
    figure gives the same bytes, and a file that already holds them is left
    as it is (bytes and modification time).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    written = []
    with paper_style():
        for fmt in formats:
            final = path.with_name(f"{path.name}.{fmt}")
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp.{fmt}")
            meta = {"CreationDate": None} if fmt == "pdf" else {}
            try:
                fig.savefig(tmp, format=fmt, dpi=dpi, metadata=meta)
                if not (final.is_file() and filecmp.cmp(tmp, final, shallow=False)):  # else left as it is
                    os.replace(tmp, final)
            finally:
                if tmp.exists():
                    tmp.unlink()
            written.append(final)
    return written


# --------------------------------------------------------------------------- learning curves
def learning_curves(frame: pd.DataFrame, metric: str | None = None, *, x: str = "epoch",
                    datasets: Sequence[str] | None = None, ci: float = 0.95, ncols: int = 3,
                    width: float = TEXT_WIDTH, panel_height: float = 1.55,
                    logx: bool | None = None, logy: bool | None = None) -> Figure:
    """Learning curves, one panel per problem, one line per strategy.

    Median validation ``metric`` (default: each problem's primary metric) over
    the non-diverged trial x fold runs at each epoch with the interquartile
    band (:func:`alnn.analysis.learning_curve`), so that no single run
    flattens a panel. ``x="epoch"`` or
    ``x="presentations"``: the latter plots each epoch's mean against the
    mean cumulative number of pattern presentations at that epoch (log axis
    by default). Error metrics get a log y axis by default.
    """
    if x not in ("epoch", "presentations"):
        raise ValueError("x must be 'epoch' or 'presentations'")
    lc = _an.learning_curve(frame, metric, ci=ci)
    dss = list(datasets) if datasets is not None else list(pd.unique(lc["dataset"]))
    nrows, ncols = _panels(len(dss), ncols)
    logx = (x == "presentations") if logx is None else logx
    with paper_style():
        fig, axes = new_figure(width, panel_height * nrows + 0.3, nrows, ncols)
        strategies = _order(lc["strategy"])
        for ax, ds in zip(axes.flat, dss):
            sub = lc[lc["dataset"] == ds]
            m = sub["metric"].iloc[0] if len(sub) else (metric or "")
            ly = (not _an.higher_is_better(m)) if logy is None and m else bool(logy)
            for s in _order(sub["strategy"]):
                d = sub[sub["strategy"] == s]
                xv = d["epoch"] if x == "epoch" else d["presentations_mean"]
                ax.plot(xv, d["median"], color=_color(s), ls=STRATEGY_LINESTYLES.get(s, "-"),
                        label=_label(s))
                ax.fill_between(xv, d["q25"], d["q75"], color=_color(s), alpha=0.2, lw=0)
            ax.set_title(DATASET_LABELS.get(ds, ds))
            ax.set_ylabel(METRIC_LABELS.get(m, m))
            ax.set_xlabel("Epoch" if x == "epoch" else "Presentations")
            if logx:
                log_axis(ax, "x")
            if ly:
                log_axis(ax, "y")
        for ax in list(axes.flat)[len(dss):]:
            ax.set_visible(False)
        _legend(fig, strategies)
    return fig


def subset_sizes(frame: pd.DataFrame, *, datasets: Sequence[str] | None = None,
                 ncols: int = 3, width: float = TEXT_WIDTH, panel_height: float = 1.45,
                 band: str = "std", logy: bool = False) -> Figure:
    """Training-subset size |D_T| or |L| against epochs, per problem.

    Mean over non-diverged runs with a band of one standard deviation
    (``band="std"``) or the min-max range (``band="range"``)
    (:func:`alnn.analysis.subset_curve`): SASLA shrinks the subset from the
    whole pool, the pool-based strategies grow it from the initial labels.
    ``logy`` helps when the pool is much larger than the labelled set
    (Fashion-MNIST).
    """
    if band not in ("std", "range"):
        raise ValueError("band must be 'std' or 'range'")
    sc = _an.subset_curve(frame)
    dss = list(datasets) if datasets is not None else list(pd.unique(sc["dataset"]))
    nrows, ncols = _panels(len(dss), ncols)
    with paper_style():
        fig, axes = new_figure(width, panel_height * nrows + 0.3, nrows, ncols)
        for ax, ds in zip(axes.flat, dss):
            sub = sc[sc["dataset"] == ds]
            for s in _order(sub["strategy"]):
                d = sub[sub["strategy"] == s]
                if band == "range":
                    lo, hi = d["min"], d["max"]
                else:
                    sd = d["std"].fillna(0)
                    lo, hi = d["mean"] - sd, d["mean"] + sd
                ax.plot(d["epoch"], d["mean"], color=_color(s),
                        ls=STRATEGY_LINESTYLES.get(s, "-"))
                ax.fill_between(d["epoch"], lo, hi, color=_color(s), alpha=0.2, lw=0)
            ax.set_title(DATASET_LABELS.get(ds, ds))
            ax.set_xlabel("Epoch")
            ax.set_ylabel("Subset size")
            if logy:
                log_axis(ax, "y")
            else:
                ax.set_ylim(bottom=0)
        for ax in list(axes.flat)[len(dss):]:
            ax.set_visible(False)
        _legend(fig, _order(sc["strategy"]))
    return fig


def labels_to_convergence(conv: pd.DataFrame, *, datasets: Sequence[str] | None = None,
                          value: str = "labels_used", ncols: int = 3,
                          width: float = TEXT_WIDTH, panel_height: float = 1.35,
                          logx: bool = True, seed: int = 0) -> Figure:
    """Labels (or ``value="presentations"``) used to reach the convergence target.

    Input: :func:`alnn.analysis.convergence`. One panel per problem, one row
    per strategy: every converged run as a dot (vertical jitter from
    ``seed``), the median as a black bar and the interquartile range as a
    line; censored runs (never reached the target, or diverged) as open
    triangles at the value of their last epoch (a lower bound, hence the
    right-pointing marker). The right margin gives converged/total runs.
    """
    rng = np.random.default_rng(seed)
    dss = list(datasets) if datasets is not None else list(pd.unique(conv["dataset"]))
    nrows, ncols = _panels(len(dss), ncols)
    with paper_style():
        fig, axes = new_figure(width, panel_height * nrows + 0.25, nrows, ncols)
        for ax, ds in zip(axes.flat, dss):
            sub = conv[conv["dataset"] == ds]
            strategies = _order(sub["strategy"])
            for i, s in enumerate(strategies):
                d = sub[sub["strategy"] == s]
                ok = d[d["converged"]]
                cen = d[~d["converged"]]
                y = len(strategies) - 1 - i
                if len(ok):
                    v = ok[value].to_numpy(float)
                    ax.scatter(v, y + rng.uniform(-0.22, 0.22, v.size), s=4, color=_color(s),
                               alpha=0.5, lw=0, marker=STRATEGY_MARKERS.get(s, "o"))
                    q1, med, q3 = np.percentile(v, [25, 50, 75])
                    ax.plot([q1, q3], [y, y], color="black", lw=1.0)
                    ax.plot([med, med], [y - 0.3, y + 0.3], color="black", lw=1.5)
                if len(cen):
                    v = cen[f"{value}_final"].to_numpy(float)
                    ax.scatter(v, y + rng.uniform(-0.22, 0.22, v.size), s=9, marker=">",
                               facecolors="none", edgecolors=_color(s), lw=0.5)
                ax.annotate(f"{len(ok)}/{len(d)}", xy=(1.0, y), xycoords=("axes fraction", "data"),
                            xytext=(2, 0), textcoords="offset points", va="center", fontsize=6)
            ax.set_yticks(range(len(strategies)),
                          [_label(s) for s in strategies[::-1]])
            ax.set_ylim(-0.6, len(strategies) - 0.4)
            if logx:
                log_axis(ax, "x")
            ax.set_xlabel("Labels used" if value == "labels_used" else "Presentations")
            ax.set_title(DATASET_LABELS.get(ds, ds))
        for ax in list(axes.flat)[len(dss):]:
            ax.set_visible(False)
        fig.legend(handles=[
            Line2D([], [], ls="", marker="o", color="0.4", ms=2.5, label="converged run"),
            Line2D([], [], ls="", marker=">", mfc="none", mec="0.4", ms=3.5,
                   label="censored (value at last epoch)"),
            Line2D([], [], color="black", lw=1.5, label="median, IQR")],
            loc="outside upper center", ncol=3)
    return fig


# --------------------------------------------------------------------------- grid search
def grid_heatmap(grid: pd.DataFrame, *, value: str = "val_loss", title: str | None = None,
                 width: float = TEXT_WIDTH, log: bool = True) -> Figure:
    """Grid-search heat map: mean ``value`` over folds of every configuration.

    Panels: rows weight decay, columns hidden units; cells: learning rate
    (rows) x momentum (columns). Colour: mean validation loss over the folds
    (log scale by default, one scale for all panels). A configuration with a
    diverged fold is drawn grey with a cross (it ranks last); the winner
    (lowest mean among the non-diverged) is outlined.
    """
    need = ["hidden", "lr", "weight_decay", "momentum", value]
    missing = [c for c in need if c not in grid.columns]
    if missing:
        raise KeyError(f"grid lacks columns {missing}")
    keys = ["hidden", "lr", "weight_decay", "momentum"]
    g = grid.assign(_div=grid["diverged"].astype(bool) if "diverged" in grid.columns else False)
    agg = g.groupby(keys).agg(v=(value, "mean"), div=("_div", "any")).reset_index()
    agg.loc[~np.isfinite(agg["v"]), "div"] = True
    hs, wds = sorted(agg["hidden"].unique()), sorted(agg["weight_decay"].unique())
    lrs, mos = sorted(agg["lr"].unique()), sorted(agg["momentum"].unique())
    good = agg.loc[~agg["div"], "v"]
    if len(good):
        lo, hi = float(good.min()), float(good.max())
        if hi <= lo:
            hi = lo * 1.01 + 1e-12
        norm = LogNorm(lo, hi) if log and lo > 0 else Normalize(lo, hi)
    else:
        norm = Normalize(0, 1)
    best = agg.loc[good.idxmin()] if len(good) else None
    cmap = mpl.colormaps["viridis"]
    height = 0.2 * len(wds) * len(lrs) + 0.32 * len(wds) + 0.6
    with paper_style():
        fig, axes = new_figure(width, height, len(wds), len(hs), sharex=True, sharey=True)
        im = None
        for r, wd in enumerate(wds):
            for c, h in enumerate(hs):
                ax = axes[r, c]
                sub = agg[(agg["hidden"] == h) & (agg["weight_decay"] == wd)]
                mat = np.full((len(lrs), len(mos)), np.nan)
                div = np.zeros_like(mat, bool)
                for _, row in sub.iterrows():
                    i, j = lrs.index(row["lr"]), mos.index(row["momentum"])
                    mat[i, j] = np.nan if row["div"] else row["v"]
                    div[i, j] = bool(row["div"])
                masked = np.ma.masked_invalid(mat)
                im = ax.imshow(masked, cmap=cmap, norm=norm, aspect="auto", origin="lower")
                for i, j in zip(*np.nonzero(div)):
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color="0.8", lw=0))
                    ax.text(j, i, "x", ha="center", va="center", fontsize=6, color="0.3")
                if best is not None and best["hidden"] == h and best["weight_decay"] == wd:
                    i, j = lrs.index(best["lr"]), mos.index(best["momentum"])
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red",
                                           lw=1.2))
                ax.set_xticks(range(len(mos)), [f"{m:g}" for m in mos])
                ax.set_yticks(range(len(lrs)), [f"{v:g}" for v in lrs])
                ax.tick_params(length=0)
                for sp in ax.spines.values():
                    sp.set_visible(False)
                if r == 0:
                    ax.set_title(f"{h} hidden")
                if c == 0:
                    ax.set_ylabel(f"$\\lambda$={wd:g}\nlearning rate")
                if r == len(wds) - 1:
                    ax.set_xlabel("momentum")
        if im is not None:
            cb = fig.colorbar(im, ax=axes, shrink=0.8, pad=0.01, aspect=30)
            cb.set_label(f"mean {METRIC_LABELS.get(value, value).lower()} over folds")
        if title:
            fig.suptitle(title)
    return fig


# --------------------------------------------------------------------------- CD diagram
def critical_difference_diagram(avg_ranks, cd: float | None = None, *, n: int | None = None,
                                alpha: float = 0.05, title: str | None = None,
                                width: float = COLUMN_WIDTH) -> Figure:
    """Demsar-style critical-difference diagram.

    A rank axis (1 = best, on the left), each strategy joined to its average
    rank, the better half labelled on the left and the rest on the right;
    thick bars join strategies whose average ranks differ by less than the
    critical difference (:func:`alnn.stats.cd_groups`: not significantly
    different by the Nemenyi test), and a bar of length CD sits above the
    axis. ``cd`` is given, or computed from ``n`` problems
    (:func:`alnn.stats.critical_difference`).
    """
    r = pd.Series(avg_ranks, dtype=float).sort_values(kind="stable")
    k = r.size
    if cd is None:
        if n is None:
            raise ValueError("give cd or n")
        cd = _stats.critical_difference(k, n, alpha)
    groups = _stats.cd_groups(r, cd)
    left = list(r.index[: (k + 1) // 2])
    right = list(r.index[(k + 1) // 2:])
    texts = {s: f"{_label(s)} ({r[s]:.2f})" for s in r.index}
    # layout in inches, measured from the top
    step, gstep = 0.15, 0.07
    y_axis = (0.2 if title else 0.0) + 0.42
    y_lab0 = y_axis + 0.12 + gstep * len(groups) + 0.04
    height = y_lab0 + step * (max(len(left), len(right)) - 1) + 0.1
    with paper_style():  # widest label at 7 pt, in inches
        margin = 0.2 + max(TextPath((0, 0), t, size=7).get_extents().width
                           for t in texts.values()) / 72
    x0, x1 = margin, width - margin
    lo, hi = 1, max(k, 2)
    if x1 - x0 < 0.8:
        raise ValueError("labels too long for the width")

    def xr(rank):
        return x0 + (rank - lo) / (hi - lo) * (x1 - x0)

    with paper_style():
        fig = Figure(figsize=(width, height))
        ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
        ax.set_axis_off()
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)  # y grows downwards, in inches
        line = dict(color="black", lw=0.8, solid_capstyle="butt")
        ax.plot([x0, x1], [y_axis, y_axis], **line)
        for t in range(lo, hi + 1):
            ax.plot([xr(t), xr(t)], [y_axis, y_axis - 0.05], **line)
            ax.text(xr(t), y_axis - 0.07, str(t), ha="center", va="bottom", fontsize=7)
        y_cd = y_axis - 0.27
        ax.plot([xr(lo), xr(lo + cd)], [y_cd, y_cd], **line)
        for xx in (xr(lo), xr(lo + cd)):
            ax.plot([xx, xx], [y_cd - 0.03, y_cd + 0.03], **line)
        ax.text((xr(lo) + xr(lo + cd)) / 2, y_cd - 0.04, f"CD = {cd:.2f}", ha="center",
                va="bottom", fontsize=7)
        for i, grp in enumerate(groups):
            y = y_axis + 0.1 + gstep * i
            ax.plot([xr(r[grp[0]]) - 0.03, xr(r[grp[-1]]) + 0.03], [y, y], color="black",
                    lw=2.0, solid_capstyle="butt")
        for i, s in enumerate(left):
            y = y_lab0 + i * step
            ax.plot([xr(r[s])] * 2 + [x0 - 0.08], [y_axis, y, y], color=_color(s), lw=0.8)
            ax.text(x0 - 0.1, y, texts[s], ha="right", va="center", fontsize=7)
        for i, s in enumerate(right[::-1]):
            y = y_lab0 + i * step
            ax.plot([xr(r[s])] * 2 + [x1 + 0.08], [y_axis, y, y], color=_color(s), lw=0.8)
            ax.text(x1 + 0.1, y, texts[s], ha="left", va="center", fontsize=7)
        if title:
            ax.text(width / 2, 0.05, title, ha="center", va="top", fontsize=8)
    return fig


# --------------------------------------------------------------------------- SASLA at work
def sasla_at_work(mask, coords, *, epochs: Sequence[int] | None = None, classes=None,
                  n_panels: int = 4, axis_labels: tuple[str, str] = ("$x_1$", "$x_2$"),
                  width: float = TEXT_WIDTH, panel_height: float = 1.6) -> Figure:
    """SASLA's training subset of one network at a few epochs.

    ``mask``: bool array, epochs x pool; row e-1 is the subset D_T the
    network trained on in epoch e (True = kept); or one entry of the masks
    that ``alnn.run(..., return_masks=True)`` returns, ``{"pool": dataset
    indices (P,), "mask": (epochs, P)}``, in which case ``coords`` and
    ``classes`` may cover the whole dataset and are indexed by ``pool``.
    ``coords``: pool x 2 array of the patterns' 2-D positions (iris: two
    chosen features; sine: x and y). ``classes``: optional labels giving kept
    patterns their marker. Kept patterns are drawn in SASLA's colour, dropped
    ones as open grey circles. ``epochs`` (1-based) default to ``n_panels``
    epochs spread evenly from the first to the last.
    """
    pool = None
    if isinstance(mask, Mapping):
        pool = np.asarray(mask["pool"])
        mask = mask["mask"]
    mask = np.asarray(mask, bool)
    coords = np.asarray(coords, float)
    if pool is not None and mask.ndim == 2 and coords.shape[0] != mask.shape[1]:
        coords = coords[pool]
        if classes is not None:
            classes = np.asarray(classes)[pool]
    if mask.ndim != 2 or coords.shape != (mask.shape[1], 2):
        raise ValueError("mask must be epochs x pool and coords pool x 2")
    E = mask.shape[0]
    if epochs is None:
        epochs = np.unique(np.linspace(1, E, min(n_panels, E)).round().astype(int))
    epochs = [int(e) for e in epochs]
    if any(e < 1 or e > E for e in epochs):
        raise ValueError(f"epochs must lie in 1..{E}")
    markers = ["o", "s", "^", "D", "v", "P", "X", "*", "h", "<"]
    cls = None if classes is None else np.asarray(classes)
    with paper_style():
        fig, axes = new_figure(width, panel_height + 0.3, 1, len(epochs), sharex=True, sharey=True)
        for ax, e in zip(axes.flat, epochs):
            keep = mask[e - 1]
            ax.scatter(coords[~keep, 0], coords[~keep, 1], s=7, facecolors="none",
                       edgecolors="0.7", lw=0.4)
            if cls is None:
                ax.scatter(coords[keep, 0], coords[keep, 1], s=7, color=_color("sasla"), lw=0)
            else:
                for i, c in enumerate(pd.unique(cls)):
                    sel = keep & (cls == c)
                    ax.scatter(coords[sel, 0], coords[sel, 1], s=7, color=_color("sasla"),
                               marker=markers[i % len(markers)], lw=0)
            ax.set_title(f"epoch {e}: $|D_T|$ = {int(keep.sum())}")
            ax.set_xlabel(axis_labels[0])
        axes[0, 0].set_ylabel(axis_labels[1])
        fig.legend(handles=[
            Line2D([], [], ls="", marker="o", color=_color("sasla"), ms=3, label="kept ($D_T$)"),
            Line2D([], [], ls="", marker="o", mfc="none", mec="0.7", ms=3, label="dropped")],
            loc="outside upper center", ncol=2)
    return fig


# --------------------------------------------------------------------------- selection scores
def selection_scores(diag: pd.DataFrame, strategy: str, *, beta: float | None = None,
                     epochs: Sequence[int] | None = None, n_epochs: int = 3, title: str | None = None,
                     width: float = COLUMN_WIDTH, height: float = 2.2) -> Figure:
    """The scores a strategy selected by, for one network (a diagnostics frame).

    ``diag``: the long frame of `alnn.pipeline.diagnostics_frame` (``epoch,
    pattern, selected, score``; ``score`` NaN where nothing was computed).
    ``sasla``: the ECDF of Phi over the pool at ``epochs`` (default ``n_epochs``
    selection epochs spread from the first to the last), each with its threshold
    (1 - ``beta``) mean(Phi) as a dashed line of the same colour.  ``entropy`` /
    ``ensemble``: against the query epoch, the mean utility of the patterns
    queried (selected, with a score: unlabelled before the query) and the
    median and 10-90 % band of the rest of the unlabelled pool.
    """
    d = diag[diag["score"].notna()] if "score" in diag.columns else diag.iloc[:0]
    if d.empty:
        raise ValueError(f"no per-pattern scores for strategy {strategy!r}")
    fig, axes = new_figure(width, height)
    ax = axes[0, 0]
    if strategy == "sasla":
        have = np.sort(d["epoch"].unique())
        if epochs is None:
            epochs = have[np.unique(np.linspace(0, len(have) - 1, min(n_epochs, len(have))).round().astype(int))]
        for i, e in enumerate(int(e) for e in epochs):
            phi = np.sort(d.loc[d["epoch"] == e, "score"].to_numpy(float))
            if phi.size == 0:
                raise ValueError(f"no scores at epoch {e}")
            color = f"C{i}"
            ax.step(phi, np.arange(1, phi.size + 1) / phi.size, where="post", color=color, label=f"epoch {e}")
            if beta is not None:
                ax.axvline((1 - beta) * phi.mean(), color=color, ls="--", lw=0.8)
        ax.set(xlabel=r"informativeness $\Phi$", ylabel="share of the pool")
        ax.legend(fontsize=6, title=None if beta is None else rf"dashed: $(1-\beta)\,\overline{{\Phi}}$, $\beta$={beta}",
                  title_fontsize=6)
    else:
        queried = d[d["selected"]].groupby("epoch")["score"].mean()
        rest = d[~d["selected"]].groupby("epoch")["score"]
        q = rest.quantile([0.1, 0.5, 0.9]).unstack()
        c = _color(strategy)
        if not q.empty:
            ax.fill_between(q.index, q[0.1], q[0.9], color="0.8", lw=0, label="rest: 10-90 %")
            ax.plot(q.index, q[0.5], color="0.4", lw=1, label="rest: median")
        ax.plot(queried.index, queried.to_numpy(), color=c, lw=1.2, label="queried: mean")
        ax.set(xlabel="query epoch", ylabel="utility")
        ax.legend(fontsize=6)
    if title:
        ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- budget protocol
def _strategy_handles(strategies, *, marker: bool = True) -> list:
    return [Line2D([], [], color=_color(s), ls=STRATEGY_LINESTYLES.get(s, "-"),
                   marker=STRATEGY_MARKERS.get(s) if marker else None, label=_label(s))
            for s in strategies]


def budget_curves(frame: pd.DataFrame, metric: str | None = None, *,
                  datasets: Sequence[str] | None = None, ci: float = 0.95, ncols: int = 3,
                  width: float = TEXT_WIDTH, panel_height: float = 1.55,
                  logy: bool | None = None, markers: bool = True,
                  reference: str = "passive") -> Figure:
    """Budget curves (SPEC 3b): the criterion against the labels, one panel per problem.

    Per strategy the median ``metric`` (default: each problem's primary one)
    over the non-diverged runs at each budget with its interquartile band
    (:func:`alnn.analysis.budget_curve`; no single run flattens a panel), markers at the budgets, on a log
    labels axis; ``reference`` (passive)'s full-pool value as a grey
    horizontal line with its band (:func:`alnn.analysis.passive_reference`):
    the ceiling. Error metrics get a log y axis by default. One legend.
    """
    bc = _an.budget_curve(frame, metric, ci=ci)
    ref = _an.passive_reference(frame, metric, ci=ci, reference=reference)
    dss = list(datasets) if datasets is not None else list(pd.unique(bc["dataset"]))
    nrows, ncols = _panels(len(dss), ncols)
    curves = bc[bc["strategy"] != reference]
    with paper_style():
        fig, axes = new_figure(width, panel_height * nrows + 0.3, nrows, ncols)
        for ax, ds in zip(axes.flat, dss):
            sub = curves[curves["dataset"] == ds]
            r = ref[ref["dataset"] == ds]
            m = (sub["metric"].iloc[0] if len(sub) else
                 r["metric"].iloc[0] if len(r) else (metric or ""))
            ly = (not _an.higher_is_better(m)) if logy is None and m else bool(logy)
            if len(r) and np.isfinite(r["mean"].iloc[0]):
                lo, hi = r["ci_low"].iloc[0], r["ci_high"].iloc[0]
                if np.isfinite(lo) and np.isfinite(hi):
                    ax.axhspan(lo, hi, color="0.85", lw=0, zorder=0)
                ax.axhline(r["mean"].iloc[0], color="0.45", lw=0.8, ls="--", zorder=1)
            for s in _order(sub["strategy"]):
                d = sub[sub["strategy"] == s].sort_values("budget")
                ax.plot(d["budget"], d["median"], color=_color(s),
                        ls=STRATEGY_LINESTYLES.get(s, "-"),
                        marker=STRATEGY_MARKERS.get(s) if markers else None, label=_label(s))
                ax.fill_between(d["budget"], d["q25"], d["q75"], color=_color(s),
                                alpha=0.2, lw=0)
            ax.set_title(DATASET_LABELS.get(ds, ds))
            ax.set_ylabel(METRIC_LABELS.get(m, m))
            ax.set_xlabel("Labels")
            log_axis(ax, "x")
            if ly:
                log_axis(ax, "y")
        for ax in list(axes.flat)[len(dss):]:
            ax.set_visible(False)
        handles = _strategy_handles(_order(curves["strategy"]), marker=markers)
        if len(ref):
            handles.append(Line2D([], [], color="0.45", ls="--", lw=0.8,
                                  label=f"{_label(reference)} (full pool)"))
        fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 7),
                   handlelength=2.2, columnspacing=1.2)
    return fig


def penalty_matrix_figure(matrix: pd.DataFrame, *, title: str | None = None,
                          width: float = COLUMN_WIDTH, height: float | None = None,
                          column_mean: bool = True, cmap: str = "Blues") -> Figure:
    """Heat map of the pairwise penalty matrix (:func:`alnn.stats.penalty_matrix`).

    Cell (row i, column j): the share of (problem, budget) cells in which i
    is significantly better than j, written in the cell (7 pt); the diagonal
    and pairs without a common cell are blank grey. With ``column_mean`` a
    last row gives each column's mean over the other rows (Ash et al.'s
    summary: how often a strategy is beaten; lower is better).
    """
    mat = pd.DataFrame(matrix)
    rows, cols = list(mat.index), list(mat.columns)
    vals = mat.to_numpy(float)
    if column_mean:
        with np.errstate(all="ignore"):
            means = np.array([np.nanmean(vals[:, j]) if np.isfinite(vals[:, j]).any()
                              else np.nan for j in range(vals.shape[1])])
        vals = np.vstack([vals, means])
    nr, nc = vals.shape
    height = height if height is not None else 0.3 * nr + 0.9 + (0.2 if title else 0)
    cm = mpl.colormaps[cmap]
    with paper_style():
        fig, axes = new_figure(width, height)
        ax = axes[0, 0]
        im = ax.imshow(np.ma.masked_invalid(vals), cmap=cm, vmin=0, vmax=1, aspect="auto")
        for i in range(nr):
            for j in range(nc):
                v = vals[i, j]
                if not np.isfinite(v):
                    ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, color="0.9", lw=0))
                    continue
                ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7,
                        color="white" if v > 0.6 else "black")
        if column_mean:
            ax.axhline(nr - 1.5, color="white", lw=2.0)
        ax.set_xticks(range(nc), [_label(c) for c in cols], rotation=30, ha="right")
        ax.set_yticks(range(nr), [_label(r) for r in rows] + (["Mean"] if column_mean else []))
        ax.set_xlabel("worse (column)")
        ax.set_ylabel("better (row)")
        ax.tick_params(length=0)
        for sp in ax.spines.values():
            sp.set_visible(False)
        cb = fig.colorbar(im, ax=ax, shrink=0.9, pad=0.02, aspect=20)
        cb.set_label("share of cells")
        if title:
            ax.set_title(title)
    return fig


def labels_to_target_figure(summary: pd.DataFrame, fraction: float = 0.95, *,
                            datasets: Sequence[str] | None = None, ncols: int = 3,
                            width: float = TEXT_WIDTH, panel_height: float = 1.2,
                            logx: bool = True) -> Figure:
    """Labels needed to reach the target (:func:`alnn.analysis.labels_to_target_summary`).

    One panel per problem, one row per strategy, for the target ``fraction``
    of passive's full-pool value: the median labels over all runs, a run that
    never reached it counting as needing more than the schedule (strategy
    marker), with the interquartile range over all runs as a line, on a log
    axis over the schedule B_0 .. B_R; a dotted line at the largest budget
    B_R. A strategy whose median run never reached the target gets an open
    right-pointing triangle at B_R (more than the schedule), and a quartile
    beyond the schedule draws the line to B_R. The right margin gives the
    runs that reached the target ("r/n": of n runs), the statistic the text
    and the table of the budget section print.
    """
    s = summary[np.isclose(summary["fraction"].to_numpy(float), fraction)]
    if s.empty:
        raise ValueError(f"no rows for fraction {fraction}")
    dss = list(datasets) if datasets is not None else list(pd.unique(s["dataset"]))
    nrows, ncols = _panels(len(dss), ncols)
    with paper_style():
        fig, axes = new_figure(width, panel_height * nrows + 0.3, nrows, ncols)
        for ax, ds in zip(axes.flat, dss):
            sub = s[s["dataset"] == ds]
            strategies = _order(sub["strategy"])
            bmax = float(sub["labels_max"].max()) if "labels_max" in sub else np.nan
            if np.isfinite(bmax):
                ax.axvline(bmax, color="0.6", ls=":", lw=0.8)
            for i, st in enumerate(strategies):
                d = sub[sub["strategy"] == st].iloc[0]
                y = len(strategies) - 1 - i
                q1, q3 = (d.get(f"labels_{q}_all", np.nan) for q in ("q1", "q3"))
                if np.isfinite(q1):
                    ax.plot([q1, q3 if np.isfinite(q3) else bmax], [y, y], color=_color(st), lw=1.0)
                if np.isfinite(d["labels_median_all"]):
                    ax.plot([d["labels_median_all"]], [y], ls="", color=_color(st),
                            marker=STRATEGY_MARKERS.get(st, "o"), ms=4)
                elif np.isfinite(bmax):
                    ax.plot([bmax], [y], ls="", marker=">", mfc="none", mec=_color(st), ms=4)
                ax.annotate(f"{int(d['n_reached'])}/{int(d['n_runs'])}",
                            xy=(1.0, y), xycoords=("axes fraction", "data"), xytext=(2, 0),
                            textcoords="offset points", va="center", fontsize=7)
            ax.set_yticks(range(len(strategies)), [_label(x) for x in strategies[::-1]])
            ax.set_ylim(-0.6, len(strategies) - 0.4)
            bmin = float(sub["labels_min"].min()) if "labels_min" in sub else np.nan
            if np.isfinite(bmin) and np.isfinite(bmax) and bmax > bmin > 0:
                pad = (bmax / bmin) ** 0.05 if logx else 1.0
                ax.set_xlim(bmin / pad if logx else bmin - 0.05 * (bmax - bmin),
                            bmax * pad if logx else bmax + 0.05 * (bmax - bmin))
            if logx:
                log_axis(ax, "x")
            ax.set_xlabel(f"Labels to {100 * fraction:g} % of passive")
            ax.set_title(DATASET_LABELS.get(ds, ds))
        for ax in list(axes.flat)[len(dss):]:
            ax.set_visible(False)
        fig.legend(handles=[
            Line2D([], [], ls="", marker="o", color="0.4", ms=3, label="median over all runs"),
            Line2D([], [], color="0.4", lw=1.0, label="IQR"),
            Line2D([], [], ls="", marker=">", mfc="none", mec="0.4", ms=3.5,
                   label="median beyond the schedule"),
            Line2D([], [], color="0.6", ls=":", lw=0.8, label="largest budget")],
            loc="outside upper center", ncol=4)
    return fig


# --------------------------------------------------------------------------- ablations (SPEC 3d)
_TAU_MARKERS = ("o", "s", "^", "D", "v")


def sasla_tradeoff(settings: pd.DataFrame, rope: Mapping[str, Mapping] | None = None, *,
                   width: float = COLUMN_WIDTH, ncols: int = 2) -> Figure:
    """SASLA's trade-off, one point per setting and one panel per problem.

    ``settings``: rows of `alnn.report.ablation.AblationResults.sasla` (dataset,
    beta, tau, norm, macs_share, mean_diff, rope, equivalence). x: multiply-adds
    as a share of passive learning's (%); y: the change of the primary criterion
    against passive, accuracy points (classification) or percent of passive's
    MSE (regression, signed so that up is better in both). The shaded band is
    the region of practical equivalence; colour: beta; marker: tau; filled: sum
    norm, open: Euclidean.
    """
    probs = [p for p in DATASET_LABELS if p in set(settings["dataset"])]
    nrows, ncols = _panels(len(probs), ncols)
    betas = sorted(pd.unique(settings["beta"]))
    taus = sorted(pd.unique(settings["tau"]))
    cmap = mpl.colormaps["viridis"]
    colors = {b: cmap(0.1 + 0.8 * i / max(1, len(betas) - 1)) for i, b in enumerate(betas)}
    with paper_style():
        fig, axes = new_figure(width, 1.2 * nrows + 0.5, nrows, ncols)
        for ax, p in zip(axes.flat, probs):
            sub = settings[settings["dataset"] == p]
            cls = _an.higher_is_better("accuracy") and (sub["rope"] <= 1).all() and p in (
                "iris", "wine", "fashion-mnist")
            if cls:
                y, band, ylabel = 100 * sub["mean_diff"], 100 * sub["rope"].iloc[0], "$\\Delta$ accuracy (points)"
            else:
                rel = (rope or {}).get(p, {}).get("relative", 0.05)
                scale = 100 * rel / sub["rope"]  # rope = rel x passive's mean: % of passive's MSE
                y, band, ylabel = -sub["mean_diff"] * scale, 100 * rel, "$-\\Delta$ MSE (% of passive)"
            ax.axhspan(-band, band, color="0.88", lw=0, zorder=0)
            ax.axvline(100, color="0.5", lw=0.6, ls=":")
            for (b, t, n), x_, y_ in zip(sub[["beta", "tau", "norm"]].itertuples(index=False),
                                         100 * sub["macs_share"], y):
                ax.plot([x_], [y_], ls="none", marker=_TAU_MARKERS[taus.index(t) % len(_TAU_MARKERS)],
                        ms=3.5, mec=colors[b], mfc=colors[b] if n == "sum" else "white", mew=0.8)
            ax.set_title(DATASET_LABELS.get(p, p))
            ax.set_xlabel("MACs (% of passive)")
            ax.set_ylabel(ylabel)
        for ax in list(axes.flat)[len(probs):]:
            ax.set_visible(False)
        handles = [Line2D([], [], ls="none", marker="o", color=colors[b], label=f"$\\beta$={b:g}") for b in betas]
        handles += [Line2D([], [], ls="none", marker=_TAU_MARKERS[i % len(_TAU_MARKERS)], color="0.3",
                           label=f"$\\tau$={t}") for i, t in enumerate(taus)]
        handles += [Line2D([], [], ls="none", marker="o", color="0.3", label="sum norm"),
                    Line2D([], [], ls="none", marker="o", mec="0.3", mfc="white", label="Euclidean")]
        fig.legend(handles=handles, loc="outside upper center", ncol=4, handletextpad=0.2,
                   columnspacing=0.8)
    return fig


def ablation_differences(tests: pd.DataFrame, *, width: float = TEXT_WIDTH, ncols: int = 4) -> Figure:
    """Each ablation of the budget protocol against its default, one panel per problem.

    ``tests``: rows of `alnn.report.ablation.AblationResults.tests` (dataset,
    strategy = the variant, baseline = the default, mean_diff, ci_low, ci_high,
    rope, metric). x: the AUBC difference in units of the region of practical
    equivalence, signed so that right is better (the band [-1, 1] shaded), with
    its corrected 95% interval.
    """
    probs = [p for p in DATASET_LABELS if len(tests) and p in set(tests["dataset"])]
    if not probs:
        return placeholder("No ablation of the budget protocol was run.")
    labels = list(dict.fromkeys(tests.sort_values(["baseline", "strategy"])["strategy"]))
    nrows, ncols = _panels(len(probs), ncols)
    with paper_style():
        fig, axes = new_figure(width, 0.16 * len(labels) + 0.9, nrows, ncols, sharey=True)
        for ax, p in zip(axes.flat, probs):
            sub = tests[tests["dataset"] == p].set_index("strategy")
            ax.axvspan(-1, 1, color="0.88", lw=0, zorder=0)
            ax.axvline(0, color="0.5", lw=0.6)
            for i, label in enumerate(labels):
                if label not in sub.index:
                    continue
                r = sub.loc[label]
                sign = 1.0 if _an.higher_is_better(str(r["metric"])) else -1.0
                lo, hi = sorted((sign * r["ci_low"] / r["rope"], sign * r["ci_high"] / r["rope"]))
                x = sign * r["mean_diff"] / r["rope"]
                base = str(r["baseline"]).split("-")[0]
                ax.plot([lo, hi], [i, i], color=_color(base), lw=1.0)
                ax.plot([x], [i], marker=STRATEGY_MARKERS.get(base, "o"), color=_color(base), ms=3)
            ax.set_yticks(range(len(labels)), [_ablation_label(l) for l in labels])
            ax.invert_yaxis()
            ax.set_title(DATASET_LABELS.get(p, p))
            ax.set_xlabel("$\\Delta$AUBC / ROPE")
        for ax in list(axes.flat)[len(probs):]:
            ax.set_visible(False)
    return fig


def _ablation_label(label: str) -> str:
    head, _, tail = label.rpartition("-")
    words = {"warm": "warm start", "cold": "cold start", "rounds": "shorter rounds", "schedule": "fewer budgets",
             "normalised": "normalised p", "members": "3 members", "converge": "until converged",
             "epochs": "fixed epochs", "tuned": "lr, decay by CV on L"}
    return f"{_label(head)}: {words.get(tail, tail)}"


def class_composition(classes: pd.DataFrame, *, width: float = TEXT_WIDTH, panel_height: float = 1.05) -> Figure:
    """The class composition of the labelled set L per budget (SPEC 3b's evidence): one row per
    classification problem, one panel per strategy, the mean share of every class in L stacked
    against the labels (log axis) (:func:`alnn.analysis.budget_classes`)."""
    dss = list(pd.unique(classes["dataset"])) if len(classes) else []
    strategies = _order(classes["strategy"]) if len(classes) else []
    strategies = [s for s in strategies if s != "passive"]
    with paper_style():
        if not dss or not strategies:
            fig, axes = new_figure(width, 1.0)
            axes[0, 0].text(0.5, 0.5, "No classification problem in the budget protocol.", ha="center",
                            va="center", transform=axes[0, 0].transAxes)
            axes[0, 0].set_axis_off()
            return fig
        fig, axes = new_figure(width, panel_height * len(dss) + 0.2, len(dss), len(strategies), sharey=True)
        cmap = plt_colormap("tab10")
        for i, ds in enumerate(dss):
            for j, s in enumerate(strategies):
                ax = axes[i, j]
                d = classes[(classes["dataset"] == ds) & (classes["strategy"] == s)]
                if d.empty:
                    ax.set_visible(False)
                    continue
                wide = d.pivot_table(index="budget", columns="class", values="share").sort_index()
                ax.stackplot(wide.index.to_numpy(float), wide.to_numpy(float).T,
                             colors=[cmap(c % 10) for c in wide.columns], lw=0)
                ax.set_ylim(0, 1)
                ax.set_xlim(float(wide.index.min()), float(wide.index.max()))
                log_axis(ax, "x")
                if i == 0:
                    ax.set_title(_label(s))
                if j == 0:
                    ax.set_ylabel(f"{DATASET_LABELS.get(ds, ds)}\nclass share")
                if i == len(dss) - 1:
                    ax.set_xlabel("Labels")
    return fig


def plt_colormap(name: str):
    """A matplotlib colormap by name (without pyplot's global state)."""
    import matplotlib

    return matplotlib.colormaps[name]


def budget_differences(frame: pd.DataFrame, metric: str | None = None, *, baseline: str = "random",
                       datasets: Sequence[str] | None = None, ncols: int = 3, width: float = TEXT_WIDTH,
                       panel_height: float = 1.55) -> Figure:
    """Each query strategy's gain over ``baseline`` against the labels, one panel per problem.

    Per run (trial x fold, diverged runs left out) the paired difference of the
    criterion from the baseline's at the same budget, signed so that up is
    better (accuracy: strategy minus baseline; error metrics: baseline minus
    strategy); the median over runs with the interquartile band, markers at the
    budgets, on a log labels axis; zero (the baseline) as a grey line.  Twelve
    strategies stay readable where their absolute curves would overlap.
    """
    f = frame[frame["strategy"] != "passive"]
    dss = list(datasets) if datasets is not None else list(pd.unique(f["dataset"]))
    nrows, ncols = _panels(len(dss), ncols)
    shown: list[str] = []
    with paper_style():
        fig, axes = new_figure(width, panel_height * nrows + 0.45, nrows, ncols)
        for ax, ds in zip(axes.flat, dss):
            sub = f[(f["dataset"] == ds) & ~f["diverged"].astype(bool)]
            m = metric or _an.PRIMARY_METRIC[_an.task_of(sub)] if len(sub) else (metric or "")
            sign = 1.0 if _an.higher_is_better(m) else -1.0
            wide = sub.pivot_table(index=["trial", "fold", "budget"], columns="strategy", values=m)
            ax.axhline(0.0, color="0.45", lw=0.8, ls="--", zorder=1)
            if baseline in wide.columns:
                for s in _order([c for c in wide.columns if c != baseline]):
                    d = (sign * (wide[s] - wide[baseline])).dropna().groupby(level="budget")
                    q = pd.DataFrame({"median": d.median(), "q25": d.quantile(0.25), "q75": d.quantile(0.75)})
                    if q.empty:
                        continue
                    ax.plot(q.index, q["median"], color=_color(s), ls=STRATEGY_LINESTYLES.get(s, "-"),
                            marker=STRATEGY_MARKERS.get(s), ms=3, label=_label(s))
                    ax.fill_between(q.index, q["q25"], q["q75"], color=_color(s), alpha=0.12, lw=0)
                    if s not in shown:
                        shown.append(s)
            ax.set_title(DATASET_LABELS.get(ds, ds))
            ax.set_ylabel(f"{METRIC_LABELS.get(m, m)}: gain over {_label(baseline).lower()}")
            ax.set_xlabel("Labels")
            log_axis(ax, "x")
        for ax in list(axes.flat)[len(dss):]:
            ax.set_visible(False)
        handles = _strategy_handles(_order(shown), marker=True)
        fig.legend(handles=handles, loc="outside upper center", ncol=min(len(handles), 6), handlelength=2.2,
                   columnspacing=1.0)
    return fig
