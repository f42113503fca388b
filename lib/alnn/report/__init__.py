r"""The paper's generated layer: LaTeX tables, values, sentences and figures.

:func:`build` turns the results of one profile into every file that
``paper/main.tex`` reads, so that no number of the paper is typed by hand.
It writes, each file atomically (temporary name, then ``os.replace``):

into ``generated_dir`` (``paper/generated/<profile>/``)

==================  =========================================================
``profile.tex``     ``\alnnset{profile/...}``: the settings of the profile
``numbers.tex``     ``\alnnset{<key>}``: every number quoted in the prose
``findings.tex``    ``\alnnset{text/...}``: sentences whose wording depends on
                    the numbers ("significantly better", "below", ...)
``profile-table.tex`` table: the problems (patterns, inputs, outputs, pool) and
                    the profile's settings per problem
``gridsearch.tex``  table: the grid-search winners
``sanity.tex``      table: passive learning beside published references
``comparison.tex``  table: final metrics of every strategy (best in bold,
                    significance against passive marked)
``stats-within.tex`` table: corrected t-tests against passive per problem
``convergence.tex`` table: convergence rate, epochs, presentations, labels,
                    AULC and selection overhead
``stats-across.tex`` table: average ranks, Friedman / Iman-Davenport, Holm
``*.csv``           the analysis tables behind them (summary, within,
                    convergence, aulc, across)
==================  =========================================================

into ``figures_dir`` (``figures/<profile>/``), each as PDF and PNG:
``learning-curves-epochs``, ``learning-curves-presentations``,
``subset-size``, ``labels-to-target``, ``grid-heatmaps``,
``cd-classification``, ``cd-regression``, ``sasla-at-work``.

The values use ``\alnnset{key}{value}`` (defined in ``main.tex``), read with
``\gen{key}``; an undefined key prints a bold "??" and a LaTeX warning, which
:func:`compile_paper` turns into an error.

Literature reference points and the draft's claims come from
``references.toml`` beside this package (lib/alnn/references.toml). :func:`compile_paper` runs latexmk
with the generated folders on ``TEXINPUTS``; ``python -m alnn.report compile``
does the same from the command line.
"""

__all__ = [
    "FIGURES", "GENERATED", "PROBLEM_LABELS", "STRATEGY_LABELS", "REFERENCES_PATH",
    "build", "compile_paper", "latex_env", "load_references", "LatexError",
]

from alnn.report.constants import (  # noqa: F401
    FIGURES, GENERATED, REFERENCES_PATH, STRATEGIES, PROBLEM_LABELS, PROBLEM_SHORT,
    STRATEGY_LABELS, STRATEGY_PROSE, TASK_PROSE, DATASET_FACTS, TABLE_METRICS, METRIC_PROSE,
    ALPHA,
)
from alnn.report.format import (  # noqa: F401
    _finite, _thousands, _minus, decimals_for, num, sci, pct, pnum, p_is, pval, count, gnum,
    join, _WORDS, words, capital, _escape, _key_ok, write_atomic, _csv_atomic, Values,
)
from alnn.report.context import (  # noqa: F401
    load_references, _sine_noise, _reference_points, _plain_profile, Context, _default,
    _pools, _across, _context, _reconcile, _settings_rows, _grid_size, _group_by_value,
    _labels, _on, _query_params, _initial_rule, _members,
)
from alnn.report.tables import (  # noqa: F401
    profile_values, profile_table, _grid_per_config, grid_table, _cell, _best,
    comparison_table, within_table, _conv_value, _fmt_conv, convergence_table, across_table,
    _passive_value, _metric_name, _fmt_metric, sanity_table, number_values,
)
from alnn.report.findings import (  # noqa: F401
    _sig_sets, _names, _best_strategy, _problem_comparison, _comparison_text,
    _divergence_text, _random_text, _subset_text, _budget_text, _convergence_text,
    _efficiency_text, _across_text, _sanity_clause, _sanity_text,
)
from alnn.report.prose import (  # noqa: F401
    _draft_text, _grid_text, _grid_findings, _profile_note, _batch_text, _query_text,
    _subsample_text, _call_seconds, _duration, _hardware_text, _overhead_text,
    _significance_summary, _abstract_results, _conclusion_text, _sasla_text,
    _limitations_text, findings_values,
)
from alnn.report.figures import (  # noqa: F401
    _grid_overview, _sasla_share_figure, _PLANE, _mask_record, _plane, _mask_info,
    build_figures, _compact, _placeholder,
)
from alnn.report.generate import (  # noqa: F401
    build,
)
from alnn.report.latex import (  # noqa: F401
    LatexError, latex_env, _PROBLEM_LINES, _log_problems, compile_paper, main,
)
