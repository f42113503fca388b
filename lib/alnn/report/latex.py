"""Compiling the paper (and its supplement) with latexmk, and the ``python -m alnn.report``
command line."""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from alnn.report import lint


# =========================================================================== compile
class LatexError(RuntimeError):
    """The paper did not build, or built with undefined values, references or citations, a repeated
    sentence or too long an abstract."""


def latex_env(generated_dir, figures_dir, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """Environment for latexmk: the generated folders first on TEXINPUTS (searched recursively)."""
    env = dict(os.environ if base is None else base)
    paths = f"{Path(generated_dir).resolve()}//:{Path(figures_dir).resolve()}//:"
    env["TEXINPUTS"] = paths + env.get("TEXINPUTS", "")
    return env


_PROBLEM_LINES = re.compile(
    r"^(!.*|.*:\d+: .*|.*LaTeX Warning: (Reference|Citation).*undefined.*|"
    r".*There were undefined references.*|.*Package alnn Warning.*|.*I couldn't open.*|"
    r".*Warning--I didn't find a database entry.*|.*LABELS NOT IMPORTED.*)$")

#: ``\externaldocument[prefix]{name}`` (xr / xr-hyper) outside a comment: a document whose
#: labels the paper reads from ``name.aux``.
_EXTERNAL = re.compile(r"^[^%\n]*\\externaldocument(?:\[[^\]]*\])?\{([^}]+)\}", re.M)


def external_documents(tex) -> list[str]:
    """Names of the documents whose labels ``tex`` (a path) imports with ``\\externaldocument``."""
    return _EXTERNAL.findall(Path(tex).read_text(errors="replace"))


def _log_problems(log: str) -> list[str]:
    lines = log.splitlines()
    out = []
    for i, line in enumerate(lines):
        if _PROBLEM_LINES.match(line):
            out.extend(lines[i:i + (3 if line.startswith("!") or re.match(r".*:\d+: ", line) else 1)])
    return out


def compile_paper(paper_dir, generated_dir, figures_dir, *, outdir=None, main: str = "main.tex",
                  check: bool = True, timeout: float = 600, externals: bool = True) -> Path:
    """Build ``main.pdf`` from ``paper_dir/main.tex`` with latexmk.

    The generated files and figures of one profile come first on
    ``TEXINPUTS``; auxiliary files and the PDF go to ``outdir`` (default
    ``paper_dir``). With ``externals`` (the default) every document that
    ``main`` reads labels from (``\\externaldocument{supplement}``: the
    supplement) and that exists in ``paper_dir`` is built first, into the same
    ``outdir``, where ``main`` finds its ``.aux``. A LaTeX error raises
    :class:`LatexError` with the log's relevant lines; with ``check`` (the
    default) so does a build that leaves an undefined reference, citation or
    generated value, or an external document whose labels were not found,
    and (:func:`check_text`) a PDF that repeats a sentence of ten words or
    more, within itself or from an external document's PDF, or whose abstract
    is over 250 words, and a generated sentence that states a number with
    decimals that no generated table prints (``lint.generated_problems``).
    Returns the PDF of ``main``.
    """
    paper_dir = Path(paper_dir).resolve()
    out = Path(outdir).resolve() if outdir is not None else paper_dir
    out.mkdir(parents=True, exist_ok=True)
    if shutil.which("latexmk") is None:
        raise LatexError("latexmk not found: install TeX Live (latexmk, IEEEtran)")
    if check and externals:  # the generated files, once per build (not again for each external document)
        untabled = lint.generated_problems(generated_dir)
        if untabled:
            raise LatexError(f"{paper_dir / main}: the generated text states numbers that no generated table "
                             f"prints (rules: alnn.report.lint):\n" + "\n".join(untabled))
    if externals and (paper_dir / main).is_file():
        for name in external_documents(paper_dir / main):
            if (paper_dir / f"{name}.tex").is_file():
                compile_paper(paper_dir, generated_dir, figures_dir, outdir=out, main=f"{name}.tex",
                              check=check, timeout=timeout, externals=False)
    stem = Path(main).stem
    cmd = ["latexmk", "-pdf", "-interaction=nonstopmode", "-halt-on-error", "-file-line-error",
           f"-outdir={out}", main]
    env = latex_env(generated_dir, figures_dir)
    env["BIBINPUTS"] = f"{paper_dir}:" + env.get("BIBINPUTS", "")
    proc = subprocess.run(cmd, cwd=paper_dir, env=env, capture_output=True, text=True, timeout=timeout)
    log_path = out / f"{stem}.log"
    log = log_path.read_text(errors="replace") if log_path.exists() else ""
    blg = out / f"{stem}.blg"
    blg_text = blg.read_text(errors="replace") if blg.exists() else ""
    problems = _log_problems(log) + _log_problems(blg_text)
    if proc.returncode != 0:
        detail = "\n".join(problems) or (proc.stdout + proc.stderr)[-3000:]
        raise LatexError(f"latexmk failed on {paper_dir / main} (exit {proc.returncode}); "
                         f"from {log_path}:\n{detail}")
    if check and problems:
        raise LatexError(f"{paper_dir / main} built with problems; from {log_path}:\n" + "\n".join(problems))
    pdf = out / f"{stem}.pdf"
    if check:
        check_text(pdf, paper_dir / main)
    return pdf


_ABSTRACT_ENV = re.compile(r"^[^%\n]*\\begin\{abstract\}", re.M)


def check_text(pdf, tex) -> None:
    """Raise :class:`LatexError` when the text of ``pdf`` (built from ``tex``) repeats a sentence.

    The rules are :mod:`alnn.report.lint`'s: a sentence of at least
    ``lint.MIN_SENTENCE_WORDS`` words may occur once in the document, and not
    at all in the PDF of a document whose labels ``tex`` imports
    (``\\externaldocument{supplement}``: the supplement, built first into
    the same folder) when that PDF is there. When ``tex`` has an abstract
    (``\\begin{abstract}``: main.tex), it has at most
    ``lint.MAX_ABSTRACT_WORDS`` words.
    """
    pdf, tex = Path(pdf), Path(tex)
    others = [pdf.with_name(f"{name}.pdf") for name in external_documents(tex)] if tex.is_file() else []
    has_abstract = tex.is_file() and _ABSTRACT_ENV.search(tex.read_text(errors="replace")) is not None
    try:
        problems = lint.pdf_problems(pdf, others=[o for o in others if o.is_file() and o != pdf],
                                     abstract=has_abstract)
    except (OSError, subprocess.CalledProcessError) as exc:
        raise LatexError(f"could not read the text of {pdf}: {exc}") from exc
    if problems:
        raise LatexError(f"{tex} built, but its text has problems (rules: alnn.report.lint):\n"
                         + "\n".join(problems))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m alnn.report",
                                     description="Build the paper PDF from the generated files.")
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("compile", help="run latexmk on paper/supplement.tex, then paper/main.tex")
    c.add_argument("--paper", default="paper", help="folder of main.tex (default: paper)")
    c.add_argument("--generated", required=True, help="paper/generated/<profile>")
    c.add_argument("--figures", required=True, help="figures/<profile>")
    c.add_argument("--outdir", default=None, help="folder for the PDFs and auxiliary files (default: --paper)")
    c.add_argument("--main", default="main.tex", help="document to build (default: main.tex, after the "
                   "documents it reads labels from)")
    c.add_argument("--no-check", action="store_true", help="accept undefined references, repeated sentences and a long abstract")
    args = parser.parse_args(argv)
    try:
        pdf = compile_paper(args.paper, args.generated, args.figures, outdir=args.outdir,
                            main=args.main, check=not args.no_check)
    except LatexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(pdf)
    return 0
