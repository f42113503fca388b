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


# =========================================================================== compile
class LatexError(RuntimeError):
    """The paper did not build, or built with undefined values, references or citations."""


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
    generated value, or an external document whose labels were not found.
    Returns the PDF of ``main``.
    """
    paper_dir = Path(paper_dir).resolve()
    out = Path(outdir).resolve() if outdir is not None else paper_dir
    out.mkdir(parents=True, exist_ok=True)
    if shutil.which("latexmk") is None:
        raise LatexError("latexmk not found: install TeX Live (latexmk, IEEEtran)")
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
    return out / f"{stem}.pdf"


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
    c.add_argument("--no-check", action="store_true", help="accept undefined references")
    args = parser.parse_args(argv)
    try:
        pdf = compile_paper(args.paper, args.generated, args.figures, outdir=args.outdir,
                            main=args.main, check=not args.no_check)
    except LatexError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(pdf)
    return 0
