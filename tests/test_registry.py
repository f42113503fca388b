"""The strategy registry (`alnn.strategies.catalogue`): a strategy is one module that describes itself.

A toy strategy added as one module to a copy of the package runs through the
smoke budget stage, the budget section's tables and figures, the cost model and
the Makefile's lists, without a line anywhere else naming it.
"""

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import alnn
from alnn.strategies import catalogue as cat

LIB = Path(alnn.__file__).parent
ROOT = LIB.parent.parent

TOY = textwrap.dedent('''
    """A toy strategy for the registry's test: query the patterns of smallest largest output."""

    from __future__ import annotations

    import torch

    from alnn.strategies.entropy import PoolSchedule, check_schedule

    NAME = "toy"
    MEMBERS = 1
    DEFAULTS = {"tau": 1, "query_size": 1, "initial": None}
    DESCRIPTION = {
        "name": NAME, "label": "Toy", "prose": "toy sampling", "summary": "toy sampling: a test",
        "reference": "", "tasks": ("classification", "regression"), "role": "query", "protocols": ("budget",),
        "members": 1, "select_macs": "E*((I+1)*J + (J+1)*K) + 7", "order": 99, "colour": "#123456",
        "marker": "x", "linestyle": "-", "family": "uncertainty",
    }


    def check_params(params: dict, task: str, pool_min: int) -> dict:
        return check_schedule(params, task, pool_min, name=NAME)


    class Toy(PoolSchedule):
        name = NAME
        members = MEMBERS

        def scores(self, pool, view, epoch: int) -> torch.Tensor:
            return -view.outputs()[:, 0].max(dim=-1).values.to(torch.float64)


    STRATEGY = Toy
''')

SCRIPT = textwrap.dedent('''
    import sys
    from pathlib import Path

    import alnn
    assert Path(alnn.__file__).parent == Path(sys.argv[1]), alnn.__file__
    from alnn import config as C, pipeline as P, store as S
    from alnn.report import budget as rb

    assert "toy" in C.BUDGET_STRATEGIES and "toy" not in C.STRATEGIES
    profile = C.load_profile("smoke")
    store = S.Store(Path(sys.argv[2]) / "smoke")
    ex = C.Execution(workers=1, progress=False)
    P.data(profile, "iris", store=store)
    P.grid(profile, "iris", store=store, execution=ex)
    P.budget(profile, "iris", ["passive", "random", "toy"], store=store, execution=ex)
    import pandas as pd
    frame = pd.concat([P.read_budget(store, "iris", s) for s in ("passive", "random", "toy")], ignore_index=True)
    assert (frame.loc[frame["strategy"] == "toy", "macs_select"] > 0).any()
    res = rb.budget_results(frame)
    found = rb.findings(res)
    assert any(f.kind == "aubc" and f.subjects == ("iris", "toy") for f in found)
    assert "Toy" in rb.budget_table(res) and "Toy" in rb.aubc_tests_table(res)
    out = rb.budget_figures(res, Path(sys.argv[2]) / "figures")
    assert out and all(p.exists() for p in out)
    print("ok")
''')


def test_every_module_describes_itself_and_the_names_appear_once():
    c = cat.catalogue()
    assert list(c) == sorted(c, key=lambda n: c[n].order)
    for name, d in c.items():
        assert d.module == name.replace("-", "_")
        assert d.selection_macs(4, 8, 3, q=5, N=10) >= 0
    # the draft's strategies keep their selection costs (alnn.cost before the registry)
    P = (4 + 1) * 8 + (8 + 1) * 3
    assert c["sasla"].selection_macs(4, 8, 3) == P + 2 * 3 * 8 * 4
    assert c["ensemble"].selection_macs(4, 8, 3) == 3 * P
    assert c["entropy"].selection_macs(4, 8, 3) == P


def test_a_toy_strategy_is_one_module(tmp_path):
    """Adding a strategy is adding its module: the stage, the report and the Makefile pick it up."""
    copy = tmp_path / "lib"
    shutil.copytree(LIB, copy / "alnn", ignore=shutil.ignore_patterns("__pycache__"))
    (copy / "alnn" / "strategies" / "toy.py").write_text(TOY)
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(copy / "alnn"), str(tmp_path / "results")],
                         env={"PYTHONPATH": str(copy), "PATH": "/usr/bin:/bin",
                              "ALNN_DATA_MIRROR": str(ROOT.parent / "shared" / "data")},
                         capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.strip().endswith("ok")
    names = subprocess.run([sys.executable, str(copy / "alnn" / "strategies" / "catalogue.py"), "--protocol",
                            "budget", "--task", "regression"], capture_output=True, text=True, check=True)
    assert "toy" in names.stdout.split()


def test_a_bad_description_is_one_line_naming_the_valid_keys(tmp_path):
    (tmp_path / "bad.py").write_text('DESCRIPTION = {"name": "bad", "label": "Bad"}\n')
    with pytest.raises(ValueError, match="bad.py: DESCRIPTION lacks prose, .*; valid keys: name, label"):
        cat.catalogue(str(tmp_path))
