"""Command line of the pipeline: ``alnn <command>`` or ``python -m alnn <command>``.

    alnn config  --profile quick [--show]                 # write results/quick/config/*.json (if changed)
    alnn data    --profile quick --problem iris           # results/quick/data/iris.json
    alnn grid    --profile quick --problem iris           # results/quick/grid/iris.{parquet,json}
    alnn trials  --profile quick --problem iris [--strategy sasla ...]
    alnn budget  --profile quick --problem iris [--strategy random ...]   # the budget protocol (SPEC 3b)
    alnn ablation --profile quick [--problem iris ...]   # controls and ablations (SPEC 3d) of the covered problems
    alnn all     --profile quick [--problem ...]          # data, grid, trials and budget of every problem
    alnn report  --profile quick [--results R]            # the paper's tables, values and figures (no notebook)
    alnn reports --profile quick reports/quick/problem-iris.ipynb ...   # each notebook's HTML beside it
    alnn reports --profile quick --index reports/quick/index.html reports/quick/*.ipynb   # and the index page

A reviewer's recompute path: ``--fresh [FOLDER]`` on data, grid, trials, budget,
ablation or all runs the stage into a new folder (default: a new temporary
one), from the stored data descriptions and grid winners where the stage
reads them, then prints how every file it wrote (shards included) differs
from the stored results, timing columns left out; exit status 1 when any
does.

Execution options (grid, trials, budget, ablation, all): ``--executor local|dask``,
``--scheduler ADDRESS|FILE`` (dask; none starts a LocalCluster), ``--device
cpu|cuda``, ``--workers N`` (local pool size; default: the machine's cores).
A bad value stops the command before any work with one line on stderr and
exit status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from alnn import config as C


def _add_common(p: argparse.ArgumentParser, problems: bool = True, strategies: bool = False) -> None:
    p.add_argument("--profile", default="quick", help=f"one of {', '.join(C.PROFILES)} (default quick)")
    p.add_argument("--results", default="results", help="results folder (default results/)")
    if problems:
        p.add_argument("--problem", nargs="+", default=["all"], metavar="PROBLEM",
                       help=f"problems ({', '.join(C.PROBLEMS)}) or all")
    if strategies:
        p.add_argument("--strategy", nargs="+", default=["all"], metavar="STRATEGY",
                       help=f"strategies ({', '.join(C.STRATEGIES)}) or all applicable ones")


def _add_fresh(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fresh", nargs="?", const="", default=None, metavar="FOLDER",
                   help="recompute into FOLDER (new or empty; default: a new temporary folder) instead of the "
                        "results folder, and print how every file differs from the stored results (exit 1 if any)")


def _add_execution(p: argparse.ArgumentParser) -> None:
    p.add_argument("--executor", default="local", help=f"{' or '.join(C.EXECUTORS)} (default local)")
    p.add_argument("--scheduler", default="", help="dask scheduler address or scheduler file "
                   "(empty: a LocalCluster on this machine)")
    p.add_argument("--device", default="cpu", help=f"{' or '.join(C.DEVICES)} (default cpu)")
    p.add_argument("--workers", default="", help="local pool size (default: the machine's cores; 1 on cuda)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="alnn", description="Experiment pipeline of alnn (see docs/architecture.md).")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("strategies", help="list the strategies (--protocol, --task, --role, --describe)",
                   add_help=False)
    sub.add_parser("kinds", help="list the paper's finding kinds by section, with what each check recomputes")
    p = sub.add_parser("config", help="validate a profile; write the stage config files that changed")
    _add_common(p, problems=False)
    p.add_argument("--show", action="store_true", help="print the resolved profile as JSON instead")
    p = sub.add_parser("data", help="describe the data of problems (data stage)")
    _add_common(p)
    _add_fresh(p)
    p = sub.add_parser("grid", help="grid search of problems (grid stage)")
    _add_common(p)
    _add_execution(p)
    _add_fresh(p)
    p = sub.add_parser("trials", help="trials of problems x strategies (trial stage)")
    _add_common(p, strategies=True)
    _add_execution(p)
    _add_fresh(p)
    p = sub.add_parser("budget", help="budget protocol of problems x strategies (budget stage)")
    _add_common(p, strategies=True)
    _add_execution(p)
    _add_fresh(p)
    p = sub.add_parser("ablation", help="controls and ablations of the problems the profile covers (ablation stage)")
    _add_common(p)
    _add_execution(p)
    _add_fresh(p)
    p = sub.add_parser("all", help="data, grid, trial and budget stages of problems")
    _add_common(p)
    _add_execution(p)
    _add_fresh(p)
    p = sub.add_parser("report", help="the paper's generated tables, values and figures from a profile's results "
                       "(alnn.report.build_profile, what the analysis notebook writes)")
    _add_common(p, problems=False)
    p.add_argument("--generated", default=None, help="folder of the LaTeX tables and values "
                   "(default paper/generated/<profile>)")
    p.add_argument("--figures", default=None, help="folder of the figures (default figures/<profile>)")
    p = sub.add_parser("reports", help="render executed notebooks to HTML (and write their index page)")
    p.add_argument("--profile", default="quick")
    p.add_argument("--index", default=None, help="index.html to write (default: none, the HTML pages only)")
    p.add_argument("--stale", action="store_true", help="render only the notebooks whose HTML page is missing "
                   "or older than the notebook")
    p.add_argument("--generated", default=None, help="the analysis notebook's CSV folder (default: its "
                   "'generated' parameter, e.g. paper/generated/<profile>)")
    p.add_argument("--figures", default=None, help="the analysis notebook's figure folder (default: its "
                   "'figures' parameter, e.g. figures/<profile>)")
    p.add_argument("notebooks", nargs="+", help="executed notebooks (.ipynb); each gets a .html beside it")
    return ap


def _problems(names: list[str]) -> list[str]:
    if names == ["all"]:
        return list(C.PROBLEMS)
    return [C.check_problem(n) for n in names]


def _strategies(names: list[str], problem: str) -> list[str]:
    if names == ["all"]:
        return list(C.strategies_for(problem))
    return [n for n in map(C.check_strategy, names) if C.applicable(problem, n)]


def _execution(args) -> C.Execution:
    execution = C.execution(args.executor, args.scheduler, args.device, args.workers,
                            progress=not args.no_progress and sys.stderr.isatty())
    execution.check_device()
    return execution


def render_html(notebook: str | Path, stale: bool = False) -> Path:
    """Render an executed notebook to HTML beside it (atomically; an unchanged page is left as it is).
    ``stale``: only when the page is missing or older than the notebook."""
    import nbformat
    from nbconvert import HTMLExporter

    notebook = Path(notebook)
    out = notebook.with_suffix(".html")
    if stale and out.is_file() and out.stat().st_mtime_ns >= notebook.stat().st_mtime_ns:
        return out
    body, _ = HTMLExporter().from_notebook_node(nbformat.read(notebook, as_version=4))
    if out.is_file() and out.read_text(encoding="utf-8") == body:
        os.utime(out)  # newer than its notebook again, as make expects
        return out
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(body, encoding="utf-8")
    os.replace(tmp, out)
    return out


def write_index(profile: str, out: Path, pages: list[str | Path], **options) -> Path:
    """The index page of the rendered notebooks: headline tables and figures, then every notebook
    (:func:`alnn.site.write_index`; links relative to the index)."""
    from alnn import site

    return site.write_index(profile, out, pages, **options)


def main(argv: list[str] | None = None) -> int:
    """Run one command; an interrupt at any moment (the lazy imports of torch and numpy included)
    ends with one line on stderr and exit status 130."""
    argv = sys.argv[1:] if argv is None else list(argv)
    who = "alnn " + argv[0] if argv and not argv[0].startswith("-") else "alnn"
    try:
        return _dispatch(argv)
    except (C.ConfigError, FileNotFoundError) as exc:
        print(f"{who}: error: {exc}", file=sys.stderr)
        return 2
    except BaseException as exc:
        if not _interrupted(exc):
            raise
        print(f"{who}: interrupted; finished shards are kept, rerun to resume", file=sys.stderr)
        return 130


def _interrupted(exc: BaseException | None) -> bool:
    """Whether ``exc`` is an interrupt or was raised by one: an extension module whose
    initialisation is interrupted raises ImportError from the KeyboardInterrupt."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, KeyboardInterrupt):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


def _dispatch(argv: list[str]) -> int:
    if argv[:1] == ["strategies"]:  # the registry's names (`alnn.strategies.catalogue`), as the Makefile reads them
        from alnn.strategies.catalogue import main as strategies

        return strategies(argv[1:])
    args = parser().parse_args(argv)
    if args.command == "kinds":
        from alnn.report.claims import kinds

        for k in kinds():
            check = "consistency check" if k.consistency else "recomputes"
            print(f"{k.section.rpartition('.')[2]:<12} {k.name:<24} {check}: {k.recomputes}")
        return 0
    return _main(args)


def _main(args) -> int:
    if args.command == "reports":
        C.check_profile(args.profile)
        pages = [render_html(nb, stale=args.stale) for nb in args.notebooks]
        if args.index is not None:  # (the HTML pages alone go quietly: make renders each with its notebook)
            write_index(args.profile, Path(args.index), pages, generated=args.generated, figures=args.figures)
            print(f"reports [{args.profile}]: {len(pages)} notebook(s), index {args.index}", file=sys.stderr)
        return 0
    C.check_profile(args.profile)
    profile = C.load_profile(args.profile)
    from alnn import pipeline, store as S

    st = S.Store.of(profile.name, args.results)
    if getattr(args, "fresh", None) is not None:
        return _fresh(args, profile, st)
    if args.command == "config":
        if args.show:
            json.dump(profile.to_dict(), sys.stdout, indent=2)
            print()
            return 0
        changed = pipeline.write_stage_configs(profile, st)
        if changed:
            names = ", ".join(p.stem for p in changed[:4]) + (", ..." if len(changed) > 4 else "")
            print(f"config [{profile.name}]: {len(changed)} stage setting file(s) changed ({names})", file=sys.stderr)
        return 0
    if args.command == "report":  # the paper's generated layer, without a notebook
        from alnn import report

        out = report.build_profile(profile, st, generated_dir=args.generated, figures_dir=args.figures)
        print(f"report [{profile.name}]: {len(out['generated'])} generated file(s), {len(out['figures'])} "
              f"figure file(s)", file=sys.stderr)
        return 0
    problems = _problems(args.problem)
    if args.command == "data":
        for problem in problems:
            pipeline.data(profile, problem, store=st)
        return 0
    execution = _execution(args)
    if args.command == "grid":
        for problem in problems:
            pipeline.grid(profile, problem, store=st, execution=execution)
        return 0
    if args.command == "trials":
        work = {p: _strategies(args.strategy, p) for p in problems}
        if args.strategy != ["all"] and len(problems) == 1:
            for s in args.strategy:  # name the pair that does not apply
                C.check_pair(problems[0], s)
        for problem, strategies in work.items():
            if strategies:
                pipeline.trials(profile, problem, strategies, store=st, execution=execution)
        return 0
    if args.command == "budget":
        for problem in problems:
            settings = profile.problem(problem)
            if args.strategy == ["all"]:
                strategies = list(settings.budget_strategies())
            else:
                strategies = [C.check_pair(problem, s)[1] for s in args.strategy if C.applicable(problem, s)]
                if len(problems) == 1 and not strategies:
                    for s in args.strategy:
                        C.check_pair(problem, s)
                bad = [s for s in strategies if s not in settings.budget_strategies()]
                if bad:
                    raise C.ConfigError(f"strategy {bad[0]!r} has no budget-protocol form; valid: "
                                        f"{', '.join(settings.budget_strategies())}")
            if strategies:
                pipeline.budget(profile, problem, strategies, store=st, execution=execution)
        return 0
    if args.command == "ablation":
        chosen = None if args.problem == ["all"] else problems
        pipeline.ablation(profile, chosen, store=st, execution=execution)
        return 0
    if args.command == "all":
        with pipeline.make_executor(execution) as executor:
            for problem in problems:
                pipeline.data(profile, problem, store=st)
                pipeline.grid(profile, problem, store=st, execution=execution, executor=executor)
                pipeline.trials(profile, problem, store=st, execution=execution, executor=executor)
                pipeline.budget(profile, problem, store=st, execution=execution, executor=executor)
        return 0
    raise AssertionError(args.command)  # pragma: no cover


def _fresh(args, profile: C.Profile, stored) -> int:
    """``alnn <stage> --fresh``: the stage recomputed into a new folder and compared with the stored results."""
    from alnn import studies

    problems = None if args.problem == ["all"] else _problems(args.problem)
    strategies = None
    if getattr(args, "strategy", ["all"]) != ["all"]:
        strategies = [C.check_strategy(s) for s in args.strategy]
    execution = _execution(args) if args.command != "data" else C.Execution(progress=False)
    into = Path(args.fresh) if args.fresh else studies.fresh_folder(profile.name)
    print(f"{args.command} [{profile.name}] --fresh: recomputing into {into}", file=sys.stderr)
    done = studies.recompute(args.command, profile, problems, strategies, stored=stored, into=into,
                             execution=execution)
    if done.copied:
        print(f"inputs copied from {stored.root}: {', '.join(map(str, done.copied))}")
    print(done.report())
    return 1 if done.differences else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
