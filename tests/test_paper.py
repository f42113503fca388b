"""The built paper: paper/main.pdf (IEEE conference format, at most eight pages with the
references) and paper/supplement.pdf, compiled with latexmk from a profile's generated
files (paper/generated/<profile>/, figures/<profile>/).

The smoke profile is always checked (`make paper PROFILE=smoke` first if its generated
files are missing); the quick profile when its generated files exist. The PDFs are built
into a temporary folder through :func:`alnn.report.compile_paper`, which builds the
supplement before main.tex, as the Makefile's rules do.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from pathlib import Path

import pytest

from alnn.report.constants import PROBLEM_LABELS, STRATEGY_LABELS
from alnn.report.latex import compile_paper

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "paper"
MAX_PAGES = 8
#: IEEEtran (conference) column and text widths in points.
COLUMN_PT, TEXT_PT = 252.0, 516.0
MIN_FONT_PT = 7.0
#: matplotlib's mathtext sets sub- and superscripts at this share of the base size.
SCRIPT_SHRINK = 0.7

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("latexmk", "pdftotext", "pdfinfo")),
    reason="latexmk, pdftotext and pdfinfo are needed")


def _generated(profile: str) -> tuple[Path, Path]:
    return ROOT / "paper" / "generated" / profile, ROOT / "figures" / profile


def _complete(profile: str) -> bool:
    """Every generated file and figure of the paper is there (an older build lacks some: rebuild it)."""
    from alnn import report as rp

    gen, fig = _generated(profile)
    return all((gen / name).is_file() for name in rp.GENERATED) and \
        all((fig / f"{name}.pdf").is_file() for name in rp.FIGURES)


@pytest.fixture(scope="module", params=["smoke", "quick"])
def built(request, tmp_path_factory):
    """``{"profile", "main", "supplement", "out", "figures"}`` of one profile's build."""
    profile = request.param
    if not _complete(profile):
        if profile != "smoke":
            pytest.skip(f"no generated files of profile {profile} (make paper PROFILE={profile})")
        subprocess.run(["make", "paper", "PROFILE=smoke"], cwd=ROOT, check=True, timeout=3600)
    gen, fig = _generated(profile)
    out = tmp_path_factory.mktemp(f"paper-{profile}")
    main = compile_paper(PAPER, gen, fig, outdir=out, check=False)
    return {"profile": profile, "main": main, "supplement": out / "supplement.pdf", "out": out,
            "figures": fig}


def _pages(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))


def _text(pdf: Path, *args: str) -> str:
    return subprocess.run(["pdftotext", *args, str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def _flat(pdf: Path) -> str:
    """The PDF's text on one line, lower case, hyphenation at line ends undone."""
    return re.sub(r"\s+", " ", re.sub(r"-\n\s*", "", _text(pdf))).lower()


def _source(name: str) -> str:
    """A LaTeX source of paper/ without its comments."""
    return re.sub(r"(?<!\\)%.*", "", (PAPER / name).read_text())


# --------------------------------------------------------------------------- format and length
def test_main_fits_eight_pages(built):
    assert _pages(built["main"]) <= MAX_PAGES, f"{built['profile']}: main.pdf is over {MAX_PAGES} pages"


def test_supplement_is_built(built):
    assert built["supplement"].is_file() and _pages(built["supplement"]) >= 1


def test_ieee_conference_format():
    for name in ("main.tex", "supplement.tex"):
        assert re.search(r"\\documentclass\[conference\]\{IEEEtran\}", _source(name)), name


def test_author_block_names_the_project_only():
    src = _source("main.tex")
    author = src[src.index("\\author{"):src.index("\\maketitle")]
    assert "alnn project" in author and "profile" not in author  # the profile is the study's, said in the text
    assert "Nicolay" not in author and "Stellenbosch" not in author
    intro = src[src.index("\\section{Introduction}"):src.index("\\section{Background}")]
    assert "Nicolay" in intro  # the draft's author is acknowledged in the text


# --------------------------------------------------------------------------- complete text
@pytest.mark.parametrize("doc", ["main", "supplement"])
def test_no_placeholders(built, doc):
    flat = _flat(built[doc])
    assert "??" not in flat, f"{built['profile']} {doc}: an undefined value or reference"
    assert "todo" not in flat


def test_every_problem_and_strategy_is_named(built):
    flat = _flat(built["main"])
    for name in list(PROBLEM_LABELS.values()) + list(STRATEGY_LABELS.values()):
        assert name.lower() in flat, name


@pytest.mark.parametrize("doc", ["main", "supplement"])
def test_log_has_no_undefined_reference(built, doc):
    log = (built["out"] / f"{doc}.log").read_text(errors="replace")
    assert not re.search(r"(Reference|Citation) .* undefined|There were undefined references", log)
    assert "LABELS NOT IMPORTED" not in log and "Package alnn Warning" not in log


def test_references_to_the_supplement_resolve(built):
    refs = set(re.findall(r"\\(?:ref|supref)\{(sup:[^}]+)\}", _source("main.tex")))
    assert refs, "main.tex refers to nothing in the supplement"
    aux = (built["out"] / "supplement.aux").read_text(errors="replace")
    labels = set(re.findall(r"\\newlabel\{(sup:[^}]+)\}", aux))
    assert refs <= labels, sorted(refs - labels)
    # and the supplement's labels are all "sup:", so none shadows one of main.tex
    own = set(re.findall(r"\\label\{([^}]+)\}", _source("supplement.tex")))
    assert all(label.startswith("sup:") for label in own), sorted(own)


def test_floats_come_before_the_references(built):
    """Every table and figure caption of main.pdf precedes the References heading."""
    text = _text(built["main"])
    refs = [m.start() for m in re.finditer(r"^\s*R\s?EFERENCES\s*$", text, re.M)]
    assert refs, "no References heading"
    after = text[refs[-1]:]
    assert not re.search(r"^\s*TABLE [IVXL]+\s*$|^Fig\. \d+\.", after, re.M), \
        "a table or figure comes after the references"


def test_generated_keys_are_all_used():
    """Every \\gen key that main.tex used before the split is used by main.tex or the supplement."""
    used = set(re.findall(r"\\gen\{([^}]+)\}", _source("main.tex") + _source("supplement.tex")))
    before = {"text/abstract-results", "text/budget-summary", "text/abstract-profile",
              "profile/sasla-beta", "profile/sasla-threshold", "text/batch-sizes",
              "profile/sasla-norm", "profile/sasla-tau", "profile/initial-fraction",
              "profile/initial-max", "profile/query-tau", "text/query-sizes", "text/budget",
              "profile/ensemble-members", "text/hardware", "data/sine-noise", "text/subsample",
              "profile/target-percent", "profile/target-fraction", "profile/window", "text/grid",
              "text/profile-note", "profile/name", "profile/description", "stats/ci-level",
              "stats/alpha", "stats/min-p/classification", "stats/min-p/regression",
              "stats/cd/classification", "stats/cd/regression", "text/grid-findings",
              "text/sanity", "text/comparison-classification", "text/comparison-regression",
              "text/random-baseline", "text/divergence", "text/convergence", "text/efficiency",
              "text/subset", "text/across", "text/sasla-at-work",
              "text/sasla-caption", "budget/schedule", "budget/start", "text/budget-plateau",
              "text/budget-budgets", "text/budget-across",
              "text/budget-target", "text/draft-claims", "text/overhead", "text/limitations",
              "text/conclusion"}
    assert before <= used, sorted(before - used)


# --------------------------------------------------------------------------- figures
def _includes(name: str) -> list[tuple[str, float | None]]:
    """``(figure, printed width in pt or None for natural size)`` of every \\includegraphics."""
    src = _source(name)
    out = []
    for m in re.finditer(r"\\begin\{(figure\*?)\}(.*?)\\end\{\1\}", src, re.S):
        wide = m.group(1) == "figure*"
        for opts, fig in re.findall(r"\\includegraphics(?:\[([^]]*)\])?\{([^}]+)\}", m.group(2)):
            w = re.search(r"width=\\(linewidth|columnwidth|textwidth|figwidth)", opts or "")
            if w is None:
                assert "width" not in (opts or ""), f"{fig}: a width other than the line/text width"
                out.append((fig, None))
            else:
                out.append((fig, TEXT_PT if w.group(1) == "textwidth" or wide else COLUMN_PT))
    return out


def _pdf_width(pdf: Path) -> float:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"Page size:\s+([\d.]+) x", info).group(1))


def _font_sizes(pdf: Path) -> set[float]:
    """Sizes of the ``Tf`` operators in the PDF's content streams (matplotlib sets each text's
    size there, in points of the figure)."""
    raw = pdf.read_bytes()
    sizes = set()
    for m in re.finditer(rb"stream\r?\n", raw):
        data = raw[m.end():raw.find(b"endstream", m.end())]
        try:
            data = zlib.decompress(data)
        except zlib.error:
            pass
        sizes |= {round(float(s), 3) for s in re.findall(rb"/F\w*\s+([\d.]+)\s+Tf", data)}
    return sizes


@pytest.mark.parametrize("doc", ["main.tex", "supplement.tex"])
def test_figures_are_included_at_the_width_they_were_drawn_for(built, doc):
    for fig, printed in _includes(doc):
        if printed is None:
            continue
        drawn = _pdf_width(built["figures"] / f"{fig}.pdf")
        assert abs(drawn - printed) / printed < 0.01, \
            f"{doc}: {fig} drawn {drawn:.0f} pt wide, printed {printed:.0f} pt"


@pytest.mark.parametrize("doc", ["main.tex", "supplement.tex"])
def test_figure_fonts_are_at_least_7pt_printed(built, doc):
    """Every text of every included figure at >= 7 pt at its printed size; math sub- and
    superscripts (0.7 of a base size that is itself >= 7 pt) excepted."""
    for fig, printed in _includes(doc):
        pdf = built["figures"] / f"{fig}.pdf"
        scale = 1.0 if printed is None else printed / _pdf_width(pdf)
        sizes = {s * scale for s in _font_sizes(pdf)}
        assert sizes, f"{fig}: no text found"
        base = {s for s in sizes if s >= MIN_FONT_PT - 0.05}
        scripts = {round(b * f, 2) for b in base for f in (SCRIPT_SHRINK, SCRIPT_SHRINK ** 2)}
        small = {round(s, 2) for s in sizes - base} - scripts
        assert not small, f"{doc}: {fig} has text at {sorted(small)} pt"
