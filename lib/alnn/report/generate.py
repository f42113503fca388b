""":func:`build`: every file of the generated layer from the results of one profile."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from alnn.report.format import _csv_atomic, write_atomic
from alnn.report.context import _context
from alnn.report.tables import (
    across_table, comparison_table, convergence_table, grid_table, number_values,
    profile_table, profile_values, sanity_table, within_table,
)
from alnn.report.prose import findings_values
from alnn.report.figures import _mask_info, build_figures


# =========================================================================== build
def build(*, grids: Mapping[str, pd.DataFrame], winners: Mapping[str, Mapping], trials: pd.DataFrame,
          profile, generated_dir, figures_dir, masks=None, data: Mapping[str, Mapping] | None = None,
          references: Mapping[str, Any] | None = None, figures: bool = True) -> dict[str, list[Path]]:
    """Write every generated file of the paper and every figure.

    ``grids[problem]``: the grid-search table (one row per configuration, or
    per configuration x fold) with hidden, lr, weight_decay, momentum,
    val_loss, diverged; ``winners[problem]``: the winning configuration
    (hidden, lr, weight_decay, momentum, batch_size, val_loss); ``trials``:
    the concatenated tidy frames of every problem and strategy; ``profile``:
    the profile as a plain dict (``alnn.config.Profile.to_dict()``) or the
    Profile itself (the paper prints its trials, folds and epochs as found in
    ``trials`` and warns when they differ); ``masks``: optional SASLA
    selection record of one Iris or sine network for the "SASLA at work"
    figure, in any form :func:`_mask_record` accepts (the pipeline passes
    ``{"iris": <diagnostics frame>}``; without it the figure shows SASLA's
    subset share on every problem); ``data``: optional ``{problem: data-stage
    description}`` (n_samples, n_features, n_outputs) for the problem table;
    ``references``: overrides ``references.toml`` (tests); ``figures=False``
    skips the figures. Returns ``{"generated": [...], "figures": [...]}``.
    """
    generated_dir, figures_dir = Path(generated_dir), Path(figures_dir)
    ctx = _context(grids=grids, winners=winners, trials=trials, profile=profile, data=data,
                   references=references)
    sasla_info = _mask_info(masks)
    files = {
        "profile.tex": profile_values(ctx).tex("Settings of the profile that produced the results."),
        "numbers.tex": number_values(ctx).tex("Numbers quoted in the text."),
        "findings.tex": findings_values(ctx, sasla_info).tex("Sentences that depend on the results."),
        "profile-table.tex": profile_table(ctx),
        "gridsearch.tex": grid_table(ctx),
        "sanity.tex": sanity_table(ctx),
        "comparison.tex": comparison_table(ctx),
        "stats-within.tex": within_table(ctx),
        "convergence.tex": convergence_table(ctx),
        "stats-across.tex": across_table(ctx),
    }
    written = [write_atomic(generated_dir / name, text) for name, text in files.items()]
    across = []
    for task, a in ctx.across.items():
        if a.get("ok"):
            r = a["friedman"].avg_ranks.rename("avg_rank").reset_index().rename(columns={"index": "strategy"})
            r.insert(0, "task", task)
            if len(a["post"]):
                r = r.merge(a["post"][["strategy", "z", "p", "p_holm", "significant"]], on="strategy", how="left")
            r["f_id"], r["p_f"], r["cd"] = a["friedman"].f, a["friedman"].p_f, a["cd"]
            across.append(r)
    tables = {"summary.csv": ctx.summary, "within.csv": ctx.within, "convergence.csv": ctx.conv_summary,
              "aulc.csv": ctx.aulc_summary, "targets.csv": ctx.targets,
              "across.csv": pd.concat(across, ignore_index=True) if across else pd.DataFrame()}
    written += [_csv_atomic(generated_dir / name, frame) for name, frame in tables.items()]
    figs = build_figures(ctx, figures_dir, sasla_info) if figures else []
    return {"generated": written, "figures": figs}
