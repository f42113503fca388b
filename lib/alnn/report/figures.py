"""The paper's figures, each written as PDF and PNG."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from alnn.datasets import NAMES as PROBLEMS

from alnn.report.constants import PROBLEM_LABELS, TASK_PROSE
from alnn.report.format import capital
from alnn.report.context import Context
from alnn.report.queries import grid_per_config

#: Smallest font of any figure at its printed size, in points. Every figure is drawn at the
#: width main.tex / supplement.tex include it at (COLUMN_WIDTH: \\linewidth of a column,
#: TEXT_WIDTH: \\textwidth), so a figure's font sizes are its printed sizes.
MIN_FONT = 7.0


# =========================================================================== figures
def _grid_overview(ctx: Context):
    """Grid-search figure at the text width: per problem, hidden size x learning rate, the best
    mean validation loss over weight decay and momentum (cells annotated at 7 pt, winner
    outlined)."""
    from matplotlib.colors import LogNorm, Normalize
    from matplotlib.patches import Rectangle

    from alnn import figures as fg

    probs = [p for p in PROBLEMS if p in ctx.grids and len(ctx.grids[p])]
    n = max(1, len(probs))
    ncols = min(3, n)
    nrows = int(np.ceil(n / ncols))
    with fg.paper_style():
        fig, axes = fg.new_figure(fg.TEXT_WIDTH, 1.45 * nrows + 0.1, nrows, ncols)
        for ax, p in zip(axes.flat, probs):
            per = grid_per_config(ctx.grids[p])
            per = per.assign(v=per["val_loss"].where(~per["diverged"]))
            best = per.groupby(["lr", "hidden"])["v"].min().unstack("hidden")
            mat = best.to_numpy(float)
            good = mat[np.isfinite(mat)]
            if good.size:
                lo, hi = float(good.min()), float(good.max())
                norm = LogNorm(lo, hi if hi > lo else lo * 1.01) if lo > 0 else Normalize(lo, hi + 1e-12)
            else:
                norm = Normalize(0, 1)
            ax.imshow(np.ma.masked_invalid(mat), cmap="viridis_r", norm=norm, aspect="auto",
                      origin="lower")
            for i in range(mat.shape[0]):
                for j in range(mat.shape[1]):
                    txt = "x" if not np.isfinite(mat[i, j]) else f"{mat[i, j]:.2g}"
                    ax.text(j, i, txt, ha="center", va="center", fontsize=MIN_FONT,
                            # viridis_r is light (yellow) at the low end and dark at the high
                            # end; a diverged cell is not coloured: its x is black on white
                            color="white" if np.isfinite(mat[i, j]) and norm(mat[i, j]) > 0.5 else "black")
            w = ctx.winners.get(p)
            if w and w.get("lr") in list(best.index) and w.get("hidden") in list(best.columns):
                i, j = list(best.index).index(w["lr"]), list(best.columns).index(w["hidden"])
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, ec="red", lw=1.0))
            ax.set_xticks(range(mat.shape[1]), [f"{int(h)}" for h in best.columns], fontsize=MIN_FONT)
            ax.set_yticks(range(mat.shape[0]), [f"{v:g}" for v in best.index], fontsize=MIN_FONT)
            ax.tick_params(length=0, pad=1)
            for sp in ax.spines.values():
                sp.set_visible(False)
            ax.set_title(PROBLEM_LABELS[p], fontsize=8)
            ax.set_xlabel("hidden units $J$", fontsize=MIN_FONT, labelpad=1)
            ax.set_ylabel("learning rate $\\eta$", fontsize=MIN_FONT, labelpad=1)
        for ax in list(axes.flat)[len(probs):]:
            ax.set_visible(False)
    return fig


def _sasla_share_figure(ctx: Context):
    from alnn import figures as fg

    with fg.paper_style():
        fig, axes = fg.new_figure(fg.COLUMN_WIDTH, 1.9)
        ax = axes[0, 0]
        styles = ["-", "--", "-.", ":", (0, (5, 1)), (0, (1, 1))]
        for i, p in enumerate(ctx.problems):
            pool = ctx.pools.get(p, {}).get("pool_mean")
            sub = ctx.trials[(ctx.trials["dataset"] == p) & (ctx.trials["strategy"] == "sasla")]
            if sub.empty or not pool:
                continue
            g = sub.groupby("epoch")["subset_size"]
            ax.plot(g.mean().index, g.mean() / pool, color=fg.STRATEGY_COLORS["sasla"],
                    ls=styles[i % len(styles)], label=PROBLEM_LABELS[p])
            ax.fill_between(g.mean().index, g.min() / pool, g.max() / pool,
                            color=fg.STRATEGY_COLORS["sasla"], alpha=0.1, lw=0)
        ax.set_xlabel("Epoch")
        ax.set_ylabel("$|D_T|$ / pool")
        ax.set_ylim(0, 1.05)
        ax.legend(ncol=2, fontsize=MIN_FONT)
    return fig


#: Problems whose patterns can be drawn in the plane, and how: (feature columns or "xy", labels).
_PLANE = {"iris": ((2, 3), ("petal length (cm)", "petal width (cm)")),
          "sine": ("xy", ("$x$", "$y$"))}


def _mask_record(masks) -> dict | None:
    """One network's mask history as ``{problem, pool, mask, epochs, trial, fold}``.

    Accepted forms of ``masks`` (see :func:`build`):

    * the pipeline's diagnostics frame (long: ``epoch, pattern, selected``), its
      problem in ``frame.attrs["problem"]`` or a ``dataset`` column (else iris);
    * ``{problem: that frame}``;
    * ``alnn.run(..., return_masks=True)[1]`` (``{(trial, fold): {"pool", "mask"}}``:
      the first network is drawn), optionally wrapped as ``{"problem": p, "masks": ...}``;
    * one record ``{"pool", "mask"}``, with optional ``problem``, ``trial``, ``fold``.
    """
    if masks is None:
        return None
    if isinstance(masks, pd.DataFrame):
        f = masks
        problem = f.attrs.get("problem") or (str(f["dataset"].iloc[0]) if "dataset" in f.columns else "iris")
        if f.empty or not {"epoch", "pattern", "selected"} <= set(f.columns):
            return None
        wide = f.pivot_table(index="epoch", columns="pattern", values="selected", aggfunc="first")
        wide = wide.sort_index()
        return {"problem": problem, "pool": wide.columns.to_numpy(int),
                "mask": wide.fillna(False).to_numpy(bool), "epochs": wide.index.to_numpy(int),
                "trial": f.attrs.get("trial", 0), "fold": f.attrs.get("fold", 0)}
    if not isinstance(masks, Mapping) or not masks:
        return None
    if "mask" in masks and "pool" in masks:
        mask = np.asarray(masks["mask"], bool)
        return {"problem": masks.get("problem", "iris"), "pool": np.asarray(masks["pool"], int),
                "mask": mask, "epochs": np.asarray(masks.get("epochs", np.arange(1, len(mask) + 1))),
                "trial": masks.get("trial", 0), "fold": masks.get("fold", 0)}
    if "masks" in masks:
        inner = _mask_record(masks["masks"])
        if inner is not None and "problem" in masks:
            inner["problem"] = masks["problem"]
        return inner
    key = next(iter(masks))
    if isinstance(key, tuple) and len(key) == 2:
        rec = _mask_record(dict(masks[key]))
        if rec is not None:
            rec["trial"], rec["fold"] = key
        return rec
    for problem in ("iris", "sine"):
        if problem in masks:
            rec = _mask_record(masks[problem])
            if rec is not None:
                rec["problem"] = problem
            return rec
    return None


def _plane(problem: str, pool: np.ndarray):
    """2-D coordinates (and classes) of the pool patterns of an Iris or sine network."""
    from alnn import datasets

    cols, labels = _PLANE[problem]
    ds = datasets.load(problem)
    if cols == "xy":
        coords = np.column_stack([ds.X[pool, 0], np.asarray(ds.y)[pool, 0]])
        classes = None
    else:
        coords = np.asarray(ds.X)[pool][:, list(cols)]
        classes = np.asarray(ds.y)[pool]
    return coords.astype(float), classes, labels


def mask_info(masks) -> dict | None:
    """The SASLA mask history in the form :func:`alnn.figures.sasla_at_work` draws, with the
    numbers the text quotes; ``None`` when no usable history of an Iris or sine network is given."""
    rec = _mask_record(masks)
    if rec is None or rec["problem"] not in _PLANE or rec["mask"].ndim != 2 or rec["mask"].size == 0:
        return None
    mask = rec["mask"]
    try:
        coords, classes, labels = _plane(rec["problem"], rec["pool"])
    except Exception:  # pragma: no cover - data layer unavailable
        return None
    share = mask.mean(axis=1)
    dropped = np.cumsum(~mask, axis=0) > 0  # set aside at this epoch or before
    back = int((dropped[:-1] & mask[1:]).any(axis=0).sum()) if mask.shape[0] > 1 else 0
    epochs = np.asarray(rec["epochs"], int)
    return {"mask": mask, "coords": coords, "classes": classes, "axis_labels": labels,
            "problem": rec["problem"], "trial": rec["trial"], "fold": rec["fold"],
            "epochs": epochs, "first": float(share[0]), "last": float(share[-1]),
            "e_first": int(epochs[0]), "e_last": int(epochs[-1]), "returned": back}


def build_figures(ctx: Context, figures_dir: Path, sasla_info: dict | None) -> list[Path]:
    """Every figure of the paper, as PDF and PNG under ``figures_dir``."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from alnn import figures as fg

    figures_dir = Path(figures_dir)
    out: list[Path] = []
    trials = ctx.trials
    order = [p for p in PROBLEMS if p in ctx.problems]
    # The learning curves (one row of six panels each, stacked in one figure of the paper) are
    # zoomed on the range the mean curves take after the first tenth of training, where the
    # strategies differ by less than the early rise of the curves.
    for x in ("epoch", "presentations"):
        fig = fg.learning_curves(trials, x=x, datasets=order, ncols=6, panel_height=0.9)
        out += _save(_zoom_curves(fig), figures_dir / f"learning-curves-{'epochs' if x == 'epoch' else x}")
    out += _save(_compact(fg.subset_sizes(trials, datasets=order, ncols=3, width=fg.TEXT_WIDTH,
                                          panel_height=1.2), "Subset size", legend_cols=6),
                 figures_dir / "subset-size")
    out += _save(_compact(fg.labels_to_convergence(ctx.conv, datasets=order, ncols=3,
                                                   width=fg.TEXT_WIDTH, panel_height=1.2),
                          legend_cols=3),
                 figures_dir / "labels-to-target")
    out += _save(_grid_overview(ctx), figures_dir / "grid-heatmaps")
    for task in ("classification", "regression"):
        a = ctx.across[task]
        name = figures_dir / f"cd-{task}"
        if a.get("ok"):
            fig = fg.critical_difference_diagram(a["friedman"].avg_ranks, a["cd"],
                                                 title=capital(TASK_PROSE[task]))
        else:
            fig = fg.placeholder(f"{capital(TASK_PROSE[task])}: fewer than two problems, no ranking")
        out += _save(fig, name)
    if sasla_info:
        fig = fg.sasla_at_work(sasla_info["mask"], sasla_info["coords"], classes=sasla_info["classes"],
                               axis_labels=sasla_info["axis_labels"], n_panels=3,
                               width=fg.COLUMN_WIDTH, panel_height=1.35)
        rows = np.unique(np.linspace(1, len(sasla_info["epochs"]), 3).round().astype(int))
        for ax, row in zip([a for a in fig.axes if a.get_title()], rows):
            # two-line titles fit the narrow panels; rows of a thinned record map to their epochs
            kept = int(sasla_info["mask"][row - 1].sum())
            ax.set_title(f"epoch {sasla_info['epochs'][row - 1]}\n$|D_T|$ = {kept}", fontsize=7)
    else:
        fig = _sasla_share_figure(ctx)
    out += _save(fig, figures_dir / "sasla-at-work")
    return out


def _save(fig, path) -> list[Path]:
    """:func:`alnn.figures.save` after raising every font below :data:`MIN_FONT` to it and
    keeping the panel titles inside the figure's width."""
    from matplotlib.text import Text

    from alnn import figures as fg

    for t in fig.findobj(Text):
        if t.get_text() and t.get_fontsize() < MIN_FONT:
            t.set_fontsize(MIN_FONT)
    _titles_inside(fig)
    return fg.save(fig, path)


def _titles_inside(fig) -> None:
    """Narrow a constrained layout until no axes title sticks out at the left or right (a
    title wider than its panel, on an outer panel, can: the layout does not count it)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.layout_engine import ConstrainedLayoutEngine

    from alnn import figures as fg

    engine = fig.get_layout_engine()
    if not isinstance(engine, ConstrainedLayoutEngine):
        return
    if fig.canvas is None or not hasattr(fig.canvas, "get_renderer"):
        FigureCanvasAgg(fig)
    left, right = 0.0, 1.0
    for _ in range(3):
        with fg.paper_style():
            fig.canvas.draw()
        width = fig.bbox.width
        boxes = [ax.title.get_window_extent() for ax in fig.axes
                 if ax.get_visible() and ax.get_title()]
        if not boxes:
            return
        over_l = max(0.0, -min(b.x0 for b in boxes)) / width
        over_r = max(0.0, max(b.x1 for b in boxes) - width) / width
        if over_l < 1e-3 and over_r < 1e-3:
            return
        left, right = left + over_l + 0.002, right - over_r - 0.002
        engine.set(rect=(left, 0.0, right - left, 1.0))


def _zoom_curves(fig, skip: float = 0.1, pad: float = 0.06):
    """Set each panel's y range to the range of its mean curves after their first ``skip``
    share of points (epochs), padded by ``pad`` of it (in log space on a log axis); the
    bands are clipped to it. A panel without such points keeps its range; a y label that
    repeats the one of the panel to its left is dropped."""

    from alnn import figures as fg

    for ax in fig.axes:
        if not ax.get_visible() or not ax.lines:
            continue
        log = ax.get_yscale() == "log"
        vals = []
        for line in ax.lines:
            y = np.asarray(line.get_ydata(), float)
            y = y[int(np.floor(skip * y.size)):]
            y = y[np.isfinite(y) & ((y > 0) if log else True)]
            vals.append(np.log10(y) if log else y)
        vals = np.concatenate(vals) if vals else np.array([])
        if vals.size == 0:
            continue
        lo, hi = float(vals.min()), float(vals.max())
        span = hi - lo if hi > lo else max(abs(hi), 1e-3) * 0.05
        lo, hi = lo - pad * span, hi + pad * span
        ax.set_ylim((10 ** lo, 10 ** hi) if log else (lo, hi))
        if log:  # ticks for the new range
            fg.log_axis(ax, "y")
    # a panel repeats its left neighbour's y label: keep the first of each run
    shown = None  # (row, label) of the last label kept
    for ax in fig.axes:
        spec = ax.get_subplotspec()
        if not ax.get_visible() or spec is None:
            continue
        key = (spec.rowspan.start, ax.get_ylabel())
        if key == shown and not spec.is_first_col():
            ax.set_ylabel("")
        shown = key
    return fig


def _compact(fig, ylabel: str | None = None, legend_cols: int = 3):
    """Tidy a multi-panel figure: titles at 8 pt and tick labels at :data:`MIN_FONT`, the y
    label on the first column only, at most three ticks on short log axes and decade labels
    only on longer ones, a legend in ``legend_cols`` columns."""
    from matplotlib.ticker import MaxNLocator, NullFormatter, NullLocator

    axes = [a for a in fig.axes if a.get_visible()]
    for ax in axes:
        ax.title.set_fontsize(8)
        ax.tick_params(labelsize=MIN_FONT, pad=1)
        ax.xaxis.label.set_fontsize(MIN_FONT)
        ax.yaxis.label.set_fontsize(MIN_FONT)
        if ylabel is not None:
            spec = ax.get_subplotspec()
            ax.set_ylabel(ylabel if spec is not None and spec.is_first_col() else "")
        if ax.get_xscale() == "log":
            lo, hi = ax.get_xlim()
            if lo > 0 and hi / lo < 20:  # under 1.3 decades: plain ticks, three at most
                ax.xaxis.set_major_locator(MaxNLocator(3))
                ax.xaxis.set_minor_locator(NullLocator())
            elif lo > 0:  # wider: the decades only (minor labels would overlap at 7 pt)
                ax.xaxis.set_minor_formatter(NullFormatter())
    for leg in list(fig.legends):  # a legend's layout is fixed when it is made: make it anew
        handles, labels = leg.legend_handles, [t.get_text() for t in leg.get_texts()]
        leg.remove()
        fig.legend(handles, labels, loc="outside upper center", ncol=legend_cols, fontsize=MIN_FONT,
                   frameon=False, handlelength=2.0, columnspacing=1.0)
    return fig
