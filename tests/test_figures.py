"""Every figure builds from a synthetic frame and saves a non-empty PDF and PNG."""

import itertools

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from alnn import analysis as an  # noqa: E402
from alnn import figures as fg  # noqa: E402


@pytest.fixture(scope="module")
def tidy():
    return an.synthetic_frame(("iris", "sine"), trials=2, folds=2, epochs=20,
                              diverge=[("iris", "sasla", 0, 1, 8)], seed=1)


def saved(fig, tmp_path, name):
    assert isinstance(fig, Figure)
    w, h = fig.get_size_inches()
    assert w <= fg.TEXT_WIDTH + 1e-9 and h <= 9.5
    paths = fg.save(fig, tmp_path / "sub" / name, dpi=80)
    assert [p.name for p in paths] == [f"{name}.pdf", f"{name}.png"]
    pdf, png = (p.read_bytes() for p in paths)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    assert png.startswith(b"\x89PNG") and len(png) > 1000
    assert not [p for p in (tmp_path / "sub").iterdir() if ".tmp." in p.name]  # atomic
    return paths


def test_palette_is_fixed_and_distinct():
    from alnn.strategies.catalogue import catalogue

    assert fg.STRATEGY_ORDER[:6] == ("passive", "sasla", "entropy", "ensemble", "random", "sensitivity")
    assert set(fg.STRATEGY_COLORS) == set(fg.STRATEGY_ORDER) == set(fg.STRATEGY_LABELS) == set(catalogue())
    # strategies that can share a panel (a task in common) never share a colour or a marker
    for task in ("classification", "regression"):
        ss = [s for s, d in catalogue().items() if task in d.tasks]
        assert len({to_hex(fg.STRATEGY_COLORS[s]) for s in ss}) == len(ss)
        assert len({fg.STRATEGY_MARKERS[s] for s in ss}) == len(ss)
    assert fg.STRATEGY_LABELS["sasla"] == "SASLA"


@pytest.mark.parametrize("which", ["x", "y"])
@pytest.mark.parametrize("lo, hi", [(0.1, 0.3), (0.2, 2.0), (0.02, 0.7), (2.0, 40.0), (0.01, 2.0), (1e-3, 10.0)])
def test_log_axis_labels_never_overlap(lo, hi, which):
    """Regression: the budget curves' MSE axes over 1.3-2 decades labelled their minor ticks too
    (6, 4, 3, 2 x 10^n), one over another at 7 pt. Any range gets at least two labels, none touching."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    with matplotlib.rc_context(fg.PAPER_RC):
        fig = Figure(figsize=(2.3, 1.6))
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        ax.plot([lo, hi] if which == "x" else [1, 2], [1, 2] if which == "x" else [lo, hi])
        fg.log_axis(ax, which)
        fig.canvas.draw()
        axis = ax.xaxis if which == "x" else ax.yaxis
        low, high = sorted(ax.get_xlim() if which == "x" else ax.get_ylim())
        shown = []
        for minor in (False, True):
            ticks = axis.get_minorticklocs() if minor else axis.get_majorticklocs()
            labels = axis.get_minorticklabels() if minor else axis.get_majorticklabels()
            shown += [lab.get_window_extent() for v, lab in zip(ticks, labels)
                      if lab.get_text() and low * (1 - 1e-9) <= v <= high * (1 + 1e-9)]
    assert len(shown) >= 2, (lo, hi, which)
    for a, b in itertools.combinations(shown, 2):
        assert not a.overlaps(b), (lo, hi, which, a, b)


def test_learning_curves(tidy, tmp_path):
    saved(fg.learning_curves(tidy), tmp_path, "lc_epoch")
    fig = fg.learning_curves(tidy, x="presentations", datasets=["sine"], width=fg.COLUMN_WIDTH)
    assert fig.get_size_inches()[0] == fg.COLUMN_WIDTH
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"  # mse: log y by default
    assert len(ax.get_lines()) == 4  # no entropy on regression
    saved(fig, tmp_path, "lc_presentations")
    with pytest.raises(ValueError):
        fg.learning_curves(tidy, x="labels")


def test_line_colours_follow_the_palette(tidy):
    fig = fg.learning_curves(tidy, datasets=["iris"])
    colours = [to_hex(line.get_color()) for line in fig.axes[0].get_lines()]
    present = set(tidy["strategy"])
    assert colours == [to_hex(fg.STRATEGY_COLORS[s]) for s in fg.STRATEGY_ORDER if s in present]


def test_subset_sizes(tidy, tmp_path):
    saved(fg.subset_sizes(tidy), tmp_path, "subset")
    saved(fg.subset_sizes(tidy, band="range", logy=True), tmp_path, "subset_log")


def test_labels_to_convergence_with_censored_runs(tidy, tmp_path):
    conv = an.convergence(tidy, an.convergence_targets(tidy, fraction=0.999))
    assert conv["censored"].any() and conv["converged"].any()
    saved(fg.labels_to_convergence(conv), tmp_path, "labels")
    saved(fg.labels_to_convergence(conv, value="presentations", logx=False), tmp_path, "pres")


def test_grid_heatmap_marks_diverged_cells(tmp_path):
    rng = np.random.default_rng(0)
    rows = [dict(hidden=h, lr=lr, weight_decay=wd, momentum=m, fold=k,
                 val_loss=float(rng.uniform(0.1, 1.0)), diverged=lr == 0.5 and m == 0.95)
            for h, lr, wd, m, k in itertools.product([64, 512], [0.01, 0.5], [0.0, 0.1],
                                                     [0.0, 0.95], range(2))]
    grid = pd.DataFrame(rows)
    grid.loc[grid["diverged"], "val_loss"] = np.nan
    fig = fg.grid_heatmap(grid, title="iris")
    crosses = [t for ax in fig.axes for t in ax.texts if t.get_text() == "x"]
    assert len(crosses) == 2 * 2  # one diverged config per (hidden, weight decay) panel
    saved(fig, tmp_path, "grid")
    with pytest.raises(KeyError):
        fg.grid_heatmap(grid.drop(columns="momentum"))


def test_critical_difference_diagram(tmp_path):
    ranks = pd.Series({"passive": 1.4, "sasla": 2.2, "entropy": 3.6, "ensemble": 3.0,
                       "random": 4.8})
    saved(fg.critical_difference_diagram(ranks, n=6, title="Classification"), tmp_path, "cd")
    saved(fg.critical_difference_diagram(ranks, cd=0.5), tmp_path, "cd_small")
    with pytest.raises(ValueError):
        fg.critical_difference_diagram(ranks)


def test_sasla_at_work(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.uniform(-np.pi, np.pi, 60)
    coords = np.c_[x, np.sin(x)]
    mask = rng.uniform(size=(15, 60)) < np.linspace(1.0, 0.3, 15)[:, None]
    fig = fg.sasla_at_work(mask, coords, axis_labels=("x", "y"))
    assert len(fig.axes) == 4
    assert fig.axes[0].get_title().startswith("epoch 1:")
    saved(fig, tmp_path, "sasla")
    classes = rng.integers(0, 3, 60)
    saved(fg.sasla_at_work(mask, coords, epochs=[1, 15], classes=classes), tmp_path, "sasla_c")
    # an entry of alnn.run(..., return_masks=True) with whole-dataset coordinates
    pool = np.arange(0, 120, 2)
    full = np.repeat(coords, 2, axis=0)
    entry = {"pool": pool, "mask": mask}
    fig = fg.sasla_at_work(entry, full, classes=np.repeat(classes, 2))
    offs = np.concatenate([c.get_offsets() for c in fig.axes[0].collections])
    assert sorted(map(tuple, offs)) == sorted(map(tuple, coords))
    with pytest.raises(ValueError):
        fg.sasla_at_work(mask, coords[:10])
    with pytest.raises(ValueError):
        fg.sasla_at_work(mask, coords, epochs=[0])


def _diagnostics(strategy):
    from alnn.experiment import run
    from alnn.datasets import Dataset
    from alnn.model import TrainConfig
    from alnn.pipeline import diagnostics_frame

    rng = np.random.default_rng(0)
    y = np.arange(60) % 3
    ds = Dataset(name="toy", task="classification", X=(rng.normal(size=(60, 2)) + y[:, None]).astype(np.float32),
                 y=y.astype(np.int64), feature_names=("a", "b"), class_names=("k0", "k1", "k2"))
    params = {"beta": 0.5} if strategy == "sasla" else {"query_size": 2}
    _, masks = run(ds, strategy, config=TrainConfig(hidden=4, lr=0.2, weight_decay=0.0, momentum=0.5, batch_size=8),
                   trials=1, folds=2, epochs=6, seed=0, params=params, progress=False, return_masks=True)
    return diagnostics_frame(masks[(0, 0)])


@pytest.mark.parametrize("strategy", ["sasla", "entropy", "ensemble"])
def test_selection_scores(strategy, tmp_path):
    diag = _diagnostics(strategy)
    fig = fg.selection_scores(diag, strategy, beta=0.5 if strategy == "sasla" else None, title=strategy)
    ax = fig.axes[0]
    if strategy == "sasla":
        assert len(ax.get_lines()) == 3 + 3  # three ECDFs and their thresholds
        x = ax.get_lines()[1].get_xdata()[0]
        phi = diag.loc[diag.epoch == 2, "score"]
        assert x == pytest.approx(0.5 * phi.mean())
    else:
        assert len(ax.get_lines()) == 2  # rest median, queried mean
    saved(fig, tmp_path, f"scores-{strategy}")
    with pytest.raises(ValueError, match="no per-pattern scores"):
        fg.selection_scores(diag.drop(columns="score"), strategy)
