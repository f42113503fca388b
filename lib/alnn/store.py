"""The results store: where every result file lives, and how it is written and checked.

Layout under ``results/<profile>/`` (see docs/architecture.md)::

    config/<stage>-<problem>[-<strategy>].json   settings each stage depends on (make prerequisites)
    data/<problem>.json                          data description
    grid/<problem>.parquet + <problem>.json      grid-search table and its winner
    shards/<problem>/<strategy>/<key>.parquet    trial shards (``grid`` for grid-search shards)
    shards/<problem>/budget-<strategy>/<key>.parquet      budget-protocol shards
    shards/<problem>/ablation-<variant>/<key>.parquet     shards of the controls and ablations
    trials/<problem>/<strategy>.parquet          the shards of one problem x strategy, concatenated
    diagnostics/<problem>/<strategy>.parquet     per-pattern selection record of one model

Every file is written to a temporary name in its own folder and renamed, so a
reader (or ``make``) never sees a half-written file, and two writers of the
same file leave one complete copy. A file that already holds what would be
written is left alone, bytes and modification time: rerunning a finished stage
changes nothing that ``make`` tracks. A Parquet file carries its key fields and
row count and a hash of its values in the schema metadata (``alnn``), and
page checksums; :func:`read` verifies them all, so a truncated, corrupted or
foreign file is detected and recomputed instead of read.
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

META = b"alnn"


class ShardError(RuntimeError):
    """A stored result file is unreadable or does not hold what its name promises."""


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str)


def key_of(fields: Mapping[str, Any]) -> str:
    """The shard key: a hash of every field that determines the shard (20 hex digits)."""
    return hashlib.sha256(_canonical(fields).encode()).hexdigest()[:20]


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def sweep_stale(folder: str | Path) -> list[Path]:
    """Remove the temporary files in ``folder`` left by writers that died mid-write (a killed worker):
    ``.<name>.<pid>.<id>.tmp`` whose process no longer exists.  A live writer's file is left alone."""
    out = []
    for tmp in Path(folder).glob(".*.tmp"):
        parts = tmp.name.split(".")
        try:
            pid = int(parts[-3])
        except (ValueError, IndexError):
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
            out.append(tmp)
        except PermissionError:
            pass
    return out


def _replace_atomic(tmp: Path, path: Path) -> None:
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def content_hash(frame: pd.DataFrame) -> str:
    """A hash of a frame's column names and values (not of its bytes on disk), 16 hex digits."""
    digest = hashlib.sha256()
    for name in frame.columns:
        digest.update(str(name).encode() + b"\0")
        digest.update(pd.util.hash_pandas_object(frame[name], index=False).to_numpy().tobytes())
    return digest.hexdigest()[:16]


def _holds(path: Path, table: pa.Table, stored: Mapping[str, Any]) -> bool:
    """Whether ``path`` is a whole, readable file with exactly this metadata, schema and content."""
    try:
        if not path.is_file() or read_meta(path) != json.loads(_canonical(stored)):
            return False
        if not pq.read_schema(path).remove_metadata().equals(table.schema.remove_metadata()):
            return False
        read(path)  # page checksums, row count, and the values against the content hash
        return True
    except (ShardError, OSError):
        return False


def write(path: str | Path, frame: pd.DataFrame, meta: Mapping[str, Any]) -> Path:
    """Write ``frame`` to ``path`` atomically with ``meta``, its row count and content hash in the metadata.

    A file that already holds the same metadata, column types and values (and passes every check of
    :func:`read`) is left as it is.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(frame, preserve_index=False)
    stored = dict(meta, rows=len(frame), content=content_hash(frame))
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), META: _canonical(stored).encode()})
    if _holds(path, table, stored):
        return path
    tmp = _tmp_name(path)
    try:
        pq.write_table(table, tmp, write_page_checksum=True)
        _replace_atomic(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_meta(path: str | Path) -> dict[str, Any]:
    """The ``alnn`` metadata of a stored Parquet file (raises :class:`ShardError`)."""
    try:
        metadata = pq.read_schema(path).metadata or {}
        return json.loads(metadata[META])
    except FileNotFoundError:
        raise
    except Exception as exc:  # unreadable footer, missing or garbled metadata
        raise ShardError(f"{path}: no readable alnn metadata ({type(exc).__name__}: {exc})") from None


def read(path: str | Path, expect: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Read a stored frame, checking its page checksums, row count and metadata against ``expect``."""
    path = Path(path)
    try:
        table = pq.read_table(path, page_checksum_verification=True)
        meta = json.loads((table.schema.metadata or {})[META])
    except FileNotFoundError:
        raise
    except Exception as exc:
        raise ShardError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    if meta.get("rows") != table.num_rows:
        raise ShardError(f"{path}: holds {table.num_rows} rows, its metadata says {meta.get('rows')}")
    for name, value in (expect or {}).items():
        if json.loads(_canonical(meta.get(name))) != json.loads(_canonical(value)):
            raise ShardError(f"{path}: metadata {name} = {meta.get(name)!r}, expected {value!r}")
    frame = table.to_pandas()
    frame.attrs = {}
    if "content" in meta and content_hash(frame) != meta["content"]:
        raise ShardError(f"{path}: its values do not match the content hash in its metadata")
    return frame


def try_read(path: str | Path, expect: Mapping[str, Any] | None = None, log=None) -> pd.DataFrame | None:
    """:func:`read`, or ``None`` when the file is missing or fails a check (reported through ``log``)."""
    try:
        return read(path, expect)
    except FileNotFoundError:
        return None
    except ShardError as exc:
        if log is not None:
            log(f"recomputing: {exc}")
        return None


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON, atomically; a file that already holds that text is left as it is."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, indent=2, sort_keys=True, default=str) + "\n"
    try:
        if path.read_text() == text:
            return path
    except (OSError, UnicodeDecodeError):
        pass
    tmp = _tmp_name(path)
    try:
        tmp.write_text(text)
        _replace_atomic(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())


class Store:
    """Paths of one profile's results: ``Store("results/quick")`` or ``Store.of("quick")``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @classmethod
    def of(cls, profile: str, results: str | Path = "results") -> "Store":
        return cls(Path(results) / profile)

    def config(self, stage: str, problem: str, strategy: str | None = None) -> Path:
        name = f"{stage}-{problem}" + (f"-{strategy}" if strategy else "")
        return self.root / "config" / f"{name}.json"

    def data(self, problem: str) -> Path:
        return self.root / "data" / f"{problem}.json"

    def grid_table(self, problem: str) -> Path:
        return self.root / "grid" / f"{problem}.parquet"

    def grid_winner(self, problem: str) -> Path:
        return self.root / "grid" / f"{problem}.json"

    def shard(self, problem: str, folder: str, key: str) -> Path:
        """A shard: ``folder`` is the strategy of a trial shard, ``grid`` for a grid-search shard,
        ``budget-<strategy>`` for a budget-protocol shard, ``ablation-<variant>`` for an ablation shard."""
        return self.root / "shards" / problem / folder / f"{key}.parquet"

    def trials(self, problem: str, strategy: str) -> Path:
        return self.root / "trials" / problem / f"{strategy}.parquet"

    def budget(self, problem: str, strategy: str) -> Path:
        """The budget-protocol frame of one problem x strategy (SPEC 3b)."""
        return self.root / "budget" / problem / f"{strategy}.parquet"

    def ablation(self, problem: str, protocol: str) -> Path:
        """The controls and ablations of one problem in one protocol (SPEC 3d)."""
        return self.root / "ablation" / problem / f"{protocol}.parquet"

    def ablation_index(self) -> Path:
        return self.root / "ablation" / "index.json"

    def ablation_config(self) -> Path:
        return self.root / "config" / "ablation.json"

    def diagnostics(self, problem: str, strategy: str) -> Path:
        return self.root / "diagnostics" / problem / f"{strategy}.parquet"

    def __repr__(self) -> str:
        return f"Store({str(self.root)!r})"


# --------------------------------------------------------------------------- notebooks

#: Each notebook's output parameters (the "out:" lines of its parameters cell).
NOTEBOOK_OUTPUTS = {"problem": ("heatmap", "budget_curves"), "strategy": ("curves", "subset", "budget_curves"),
                    "analysis": ("generated", "figures")}
#: The ``make`` target that produces each folder of a profile's results.
STAGE_OF_FOLDER = {"data": "data", "grid": "grid", "trials": "trials", "diagnostics": "trials", "budget": "budget",
                   "ablation": "ablation"}
STAGE_ORDER = ("data", "grid", "trials", "budget", "ablation")


def scratch(profile: str, reports: str | Path = "reports") -> Path:
    """Where a notebook opened by hand writes its figures and tables: ``reports/<profile>/scratch/`` (ignored
    by git, read by nothing that ``make`` builds)."""
    return Path(reports) / profile / "scratch"


def notebook_inputs(kind: str, p: Any) -> list[Path]:
    """Every result file notebook ``kind`` reads with its resolved parameters ``p``."""
    from alnn import config as C

    prof = C.load_profile(p.profile)
    if kind == "problem":
        st = Store(Path(p.data).parent.parent)
        out = [Path(p.data), Path(p.grid_table), Path(p.grid_winner)]
        if not p.run_budget:  # otherwise the notebook computes them
            out += [st.budget(p.problem, s) for s in prof.problem(p.problem).budget_strategies()]
        return out
    st = Store(p.results)
    if kind == "strategy":
        from alnn.config import problems_for

        out = []
        for q in problems_for(p.strategy):
            out += [st.trials(q, s) for s in dict.fromkeys(("passive", p.strategy))] + [st.diagnostics(q, p.strategy)]
            if p.strategy in prof.problem(q).budget_strategies():
                out += [st.budget(q, s) for s in dict.fromkeys(("random", "passive", p.strategy))]
        return out
    out = [f(q) for q in prof.problems for f in (st.data, st.grid_table, st.grid_winner)]
    out += [st.trials(q, s) for q, s in prof.pairs()] + [st.diagnostics("iris", "sasla")]
    out += [st.budget(q, s) for q in prof.problems for s in prof.problem(q).budget_strategies()]
    out += [st.ablation(q, protocol) for q in prof.ablation_problems for protocol in ("trials", "budget")]
    return out


def notebook_params(kind: str, namespace: Mapping[str, Any]) -> Any:
    """:func:`alnn.config.notebook_params` (parameters checked, unset ones filled in from the profile), then:

    - every output parameter left unset (``None``: a notebook opened by hand, or run by papermill without
      it) points into :func:`scratch` instead of the files ``make`` builds the paper from;
    - the result files the notebook reads must exist: the first missing one is named in one line with the
      ``make`` command that produces it (a :class:`FileNotFoundError`).
    """
    import dataclasses

    from alnn import config as C

    p = C.notebook_params(kind, namespace)
    changes = {}
    for name in NOTEBOOK_OUTPUTS[kind]:
        if namespace.get(name) is None:
            made = Path(getattr(p, name))  # a figure file, or a folder (generated, figures)
            changes[name] = str(scratch(p.profile) / "figures" / made.name if made.suffix else scratch(p.profile) / name)
    p = dataclasses.replace(p, **changes)
    check_inputs(kind, p)
    return p


def check_inputs(kind: str, p: Any) -> None:
    """The result files notebook ``kind`` reads with its resolved parameters ``p`` (:func:`notebook_inputs`)
    exist; else the first missing one is named in one line with the ``make`` command that produces it (a
    :class:`FileNotFoundError`). ``alnn report`` checks the analysis notebook's inputs this way too."""
    inputs = notebook_inputs(kind, p)
    missing = [path for path in inputs if not path.exists()]
    if missing:
        root = Path(p.data).parents[2] if kind == "problem" else Path(p.results).parent
        stages = {STAGE_OF_FOLDER.get(path.relative_to(root / p.profile).parts[0], "paper")
                  for path in missing if path.is_relative_to(root / p.profile)} or {"paper"}
        if stages & {"trials", "budget", "ablation"}:  # each of them makes the grid search (and data) first
            stages -= {"data", "grid"}
        elif "grid" in stages:
            stages.discard("data")
        where = "" if root == Path("results") else f" RESULTS={root}"
        raise FileNotFoundError(
            f"{missing[0]} is missing ({len(missing)} of the {len(inputs)} result files {kind}.ipynb reads): run "
            f"`make {' '.join(s for s in (*STAGE_ORDER, 'paper') if s in stages)} PROFILE={p.profile}{where}` "
            f"to produce them")
