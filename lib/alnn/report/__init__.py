r"""The paper's generated layer: LaTeX tables, values, sentences and figures.

:func:`build` turns the results of one profile into every file that
``paper/main.tex`` reads, so that no number of the paper is typed by hand;
:func:`build_profile` reads those results from a profile's results folder
first (what ``alnn report --profile P`` and the analysis notebook run).
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

This package exports its entry points only; the writers are its modules:
``constants`` and ``format`` at the bottom, ``queries`` (the table queries the
writers share) on them, then ``context``, ``tables``, ``claims`` (the registry of
finding kinds), one module per section of the paper that states findings
(``grid``, ``sanity``, ``comparisons``, ``selection``, ``convergence``,
``ranks``, ``reproduction``, ``budget``, ``ablation``), ``prose`` (which
assembles the draft protocol's sentences), ``figures``, ``generate``, ``lint``
(the build's checks of the text: repeated sentences, the abstract's length)
and ``latex``. No
module imports one that imports it back, and none uses another's private names
(tests/test_imports.py).
"""

__all__ = [
    "FIGURES", "GENERATED", "PROBLEM_LABELS", "STRATEGY_LABELS", "REFERENCES_PATH",
    "build", "build_profile", "read_profile", "ProfileInputs", "compile_paper", "latex_env", "load_references",
    "LatexError",
]

from alnn.report.constants import FIGURES, GENERATED, PROBLEM_LABELS, REFERENCES_PATH, STRATEGY_LABELS
from alnn.report.context import load_references
from alnn.report.generate import ProfileInputs, build, build_profile, read_profile
from alnn.report.latex import LatexError, compile_paper, latex_env
