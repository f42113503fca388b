"""The six problems of the study and the raw files behind them.

``load(name)`` returns a :class:`Dataset` holding the *raw* features (no
statistic fitted yet: scaling and imputation are fitted per split in
:mod:`alnn.preprocess`, so nothing leaks from validation into training).

Raw files are looked for in this order, and the first copy found is verified
by SHA-256 before it is used or cached:

1. the project cache ``data/raw/`` (``ALNN_DATA_DIR`` overrides it);
2. a system copy (Debian's ``dataset-fashion-mnist`` installs the IDX files
   under ``/usr/share/datasets/fashion-mnist/``);
3. a mirror folder named by ``ALNN_DATA_MIRROR`` (the Makefile points it at
   ``../shared/data`` when that folder exists);
4. the official download address (skipped when ``ALNN_DATA_OFFLINE=1``).

A file whose checksum does not match is refused, named in the error, and never
cached. Fashion-MNIST is verified by the SHA-256 of its decompressed payload,
which every faithful copy shares whatever the gzip settings used.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import struct
import tempfile
import urllib.request
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

NAMES: tuple[str, ...] = (
    "iris",
    "wine",
    "fashion-mnist",
    "sine",
    "california-housing",
    "energy-efficiency",
)
TASKS: dict[str, str] = {
    "iris": "classification",
    "wine": "classification",
    "fashion-mnist": "classification",
    "sine": "regression",
    "california-housing": "regression",
    "energy-efficiency": "regression",
}
CLASSIFICATION = tuple(n for n in NAMES if TASKS[n] == "classification")
REGRESSION = tuple(n for n in NAMES if TASKS[n] == "regression")

#: Seed of the sine problem's generator: the data set is the same everywhere.
SINE_SEED = 1234
SINE_SIZE = 500
SINE_NOISE = 0.1


class DataError(RuntimeError):
    """A raw file is missing, corrupted or unreadable."""


@dataclass(frozen=True)
class Dataset:
    """One problem: raw features and targets plus their names.

    ``X`` is float32 (n x d) and still unscaled (it may hold NaN where the raw
    data has missing values); ``y`` is int64 class labels (n,) for
    classification and float32 targets (n x t) in original units for
    regression. ``scaling`` says how :func:`alnn.preprocess.prepare` scales
    inputs: ``"standardise"`` (statistics of the training part) or
    ``"pixels"`` (divide by 255, nothing fitted). Columns listed in
    ``passthrough`` (one-hot indicators) are left unscaled.
    """

    name: str
    task: str
    X: np.ndarray
    y: np.ndarray
    feature_names: tuple[str, ...]
    class_names: tuple[str, ...] | None = None
    target_names: tuple[str, ...] | None = None
    scaling: str = "standardise"
    passthrough: tuple[int, ...] = ()
    source: str = ""
    notes: dict = field(default_factory=dict, compare=False)

    @property
    def n_samples(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    @property
    def n_outputs(self) -> int:
        """K: the number of output units (classes or targets)."""
        if self.task == "classification":
            return len(self.class_names)
        return int(self.y.shape[1])

    def __repr__(self) -> str:  # the arrays are large: show their shapes only
        return (
            f"Dataset(name={self.name!r}, task={self.task!r}, X={self.X.shape}, "
            f"y={self.y.shape}, outputs={self.n_outputs})"
        )


# --------------------------------------------------------------------------
# Raw files: where they live upstream and what their bytes must hash to.


@dataclass(frozen=True)
class RawFile:
    relpath: str  # path under data/raw, the mirror and the upstream folder
    url: str
    sha256: str
    gzip_payload: bool = False  # checksum is of the decompressed bytes

    @property
    def system_paths(self) -> tuple[Path, ...]:
        if self.relpath.startswith("fashion-mnist/"):
            name = self.relpath.split("/", 1)[1]
            return (Path("/usr/share/datasets/fashion-mnist") / name,)
        return ()


_FMNIST_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
RAW_FILES: dict[str, RawFile] = {
    f.relpath: f
    for f in (
        RawFile(
            "fashion-mnist/train-images-idx3-ubyte.gz",
            _FMNIST_URL + "train-images-idx3-ubyte.gz",
            "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
            gzip_payload=True,
        ),
        RawFile(
            "fashion-mnist/train-labels-idx1-ubyte.gz",
            _FMNIST_URL + "train-labels-idx1-ubyte.gz",
            "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
            gzip_payload=True,
        ),
        RawFile(
            "fashion-mnist/t10k-images-idx3-ubyte.gz",
            _FMNIST_URL + "t10k-images-idx3-ubyte.gz",
            "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
            gzip_payload=True,
        ),
        RawFile(
            "fashion-mnist/t10k-labels-idx1-ubyte.gz",
            _FMNIST_URL + "t10k-labels-idx1-ubyte.gz",
            "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
            gzip_payload=True,
        ),
        RawFile(
            "housing.csv",
            "https://raw.githubusercontent.com/ageron/handson-ml2/master/datasets/housing/housing.csv",
            "8a3727f4cf54ac1a327f69b1d5b4db54c5834ea81c6e4efc0d163300022a685e",
        ),
        RawFile(
            "ENB2012_data.xlsx",
            "https://archive.ics.uci.edu/ml/machine-learning-databases/00242/ENB2012_data.xlsx",
            "ce80fba0fdf4be0e2f2e709fd01ff9c807246947fe666e18710d5105af7970b6",
        ),
    )
}


def project_root() -> Path:
    return Path(__file__).resolve().parents[2]


def cache_dir() -> Path:
    """The raw-file cache: ``ALNN_DATA_DIR`` or the project's ``data/raw``."""
    env = os.environ.get("ALNN_DATA_DIR")
    if env:
        return Path(env)
    root = project_root()
    if (root / "pyproject.toml").exists():
        return root / "data" / "raw"
    return Path.home() / ".cache" / "alnn" / "raw"


def _checksum(path: Path, gzip_payload: bool) -> str:
    digest = hashlib.sha256()
    opener = gzip.open if gzip_payload else open
    try:
        with opener(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise DataError(f"{path}: unreadable ({exc}); delete it or replace it with a faithful copy") from exc
    return digest.hexdigest()


def _verify(path: Path, raw: RawFile) -> None:
    found = _checksum(path, raw.gzip_payload)
    if found != raw.sha256:
        what = "decompressed payload" if raw.gzip_payload else "file"
        raise DataError(
            f"{path}: SHA-256 of the {what} is {found}, expected {raw.sha256}; "
            "the file is corrupted or not the study's version, so it was refused "
            "(delete it and supply a faithful copy)"
        )


def _copy_atomic(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    try:
        shutil.copyfile(src, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _download(raw: RawFile, dest: Path) -> Path:
    """Download into a temporary file next to ``dest``; verify; then rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
    os.close(fd)
    tmp = Path(tmp)
    try:
        with urllib.request.urlopen(raw.url, timeout=30) as resp, open(tmp, "wb") as out:
            shutil.copyfileobj(resp, out)
        _verify(tmp, raw)
        os.chmod(tmp, 0o644)
        os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    return dest


def raw_path(relpath: str) -> Path:
    """A verified local copy of one raw file, fetched into the cache if needed."""
    raw = RAW_FILES[relpath]
    cached = cache_dir() / relpath
    if cached.exists():
        _verify(cached, raw)
        return cached

    searched = [str(cached)]
    candidates = list(raw.system_paths)
    mirror = os.environ.get("ALNN_DATA_MIRROR")
    if mirror:
        candidates.append(Path(mirror) / relpath)
    for candidate in candidates:
        searched.append(str(candidate))
        if candidate.exists():
            _verify(candidate, raw)
            _copy_atomic(candidate, cached)
            return cached

    if os.environ.get("ALNN_DATA_OFFLINE", "") not in ("", "0"):
        searched.append(f"{raw.url} (not tried: ALNN_DATA_OFFLINE is set)")
    else:
        searched.append(raw.url)
        try:
            return _download(raw, cached)
        except DataError:
            raise
        except Exception as exc:  # no network, HTTP error, timeout
            searched[-1] = f"{raw.url} ({type(exc).__name__}: {exc})"
    raise DataError(
        f"raw file {relpath!r} not found; searched: " + "; ".join(searched)
        + f". Supply it by copying it to {cached}, or set ALNN_DATA_MIRROR to a "
        "folder holding it (for example ../shared/data)"
    )


# --------------------------------------------------------------------------
# Loaders


def _load_sklearn(name: str) -> Dataset:
    from sklearn import datasets as skd

    bunch = {"iris": skd.load_iris, "wine": skd.load_wine}[name]()
    classes = tuple(str(c) for c in bunch.target_names)
    if name == "wine":
        classes = tuple(f"cultivar {i}" for i in range(len(classes)))
    return Dataset(
        name=name,
        task="classification",
        X=np.asarray(bunch.data, dtype=np.float32),
        y=np.asarray(bunch.target, dtype=np.int64),
        feature_names=tuple(str(f) for f in bunch.feature_names),
        class_names=classes,
        source=f"scikit-learn load_{name}",
    )


FASHION_CLASSES = (
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
)


def _read_idx(path: Path) -> np.ndarray:
    with gzip.open(path, "rb") as fh:
        data = fh.read()
    zero, dtype_code, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DataError(f"{path}: not an unsigned-byte IDX file")
    shape = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    array = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if array.size != int(np.prod(shape)):
        raise DataError(f"{path}: truncated IDX payload ({array.size} of {int(np.prod(shape))} values)")
    return array.reshape(shape)


def _load_fashion_mnist() -> Dataset:
    parts = []
    for split in ("train", "t10k"):
        images = _read_idx(raw_path(f"fashion-mnist/{split}-images-idx3-ubyte.gz"))
        labels = _read_idx(raw_path(f"fashion-mnist/{split}-labels-idx1-ubyte.gz"))
        parts.append((images.reshape(len(images), -1), labels))
    X = np.concatenate([p[0] for p in parts]).astype(np.float32)
    y = np.concatenate([p[1] for p in parts]).astype(np.int64)
    return Dataset(
        name="fashion-mnist",
        task="classification",
        X=X,
        y=y,
        feature_names=tuple(f"pixel_{i}" for i in range(X.shape[1])),
        class_names=FASHION_CLASSES,
        scaling="pixels",
        source="Fashion-MNIST IDX files, training and test sets pooled",
    )


def make_sine(n: int = SINE_SIZE, noise: float = SINE_NOISE, seed: int = SINE_SEED) -> Dataset:
    """y = sin(x) + N(0, noise^2), x ~ U(-pi, pi), from a fixed generator seed."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-np.pi, np.pi, size=n)
    y = np.sin(x) + rng.normal(0.0, noise, size=n)
    return Dataset(
        name="sine",
        task="regression",
        X=x.astype(np.float32).reshape(-1, 1),
        y=y.astype(np.float32).reshape(-1, 1),
        feature_names=("x",),
        target_names=("y",),
        source=f"synthetic: sin(x) + N(0, {noise}^2), x ~ U(-pi, pi), n = {n}, seed {seed}",
        notes={"noise": noise, "seed": seed},
    )


HOUSING_NUMERIC = (
    "longitude", "latitude", "housing_median_age", "total_rooms",
    "total_bedrooms", "population", "households", "median_income",
)
HOUSING_CATEGORIES = ("<1H OCEAN", "INLAND", "ISLAND", "NEAR BAY", "NEAR OCEAN")


def _load_california_housing() -> Dataset:
    import pandas as pd

    path = raw_path("housing.csv")
    frame = pd.read_csv(path)
    unknown = sorted(set(frame["ocean_proximity"].unique()) - set(HOUSING_CATEGORIES))
    if unknown:
        raise DataError(f"{path}: unexpected ocean_proximity values {unknown}")
    numeric = frame[list(HOUSING_NUMERIC)].to_numpy(dtype=np.float32)
    onehot = np.stack(
        [(frame["ocean_proximity"] == c).to_numpy(dtype=np.float32) for c in HOUSING_CATEGORIES], axis=1
    )
    X = np.concatenate([numeric, onehot], axis=1)
    y = (frame["median_house_value"].to_numpy(dtype=np.float64) / 1e5).astype(np.float32).reshape(-1, 1)
    n_numeric = len(HOUSING_NUMERIC)
    return Dataset(
        name="california-housing",
        task="regression",
        X=X,
        y=y,
        feature_names=HOUSING_NUMERIC + tuple(f"ocean_proximity={c}" for c in HOUSING_CATEGORIES),
        target_names=("median_house_value",),
        passthrough=tuple(range(n_numeric, n_numeric + len(HOUSING_CATEGORIES))),
        source="housing.csv (Pace & Barry 1997 via handson-ml2), target in $100k",
        notes={"missing_total_bedrooms": int(frame["total_bedrooms"].isna().sum())},
    )


ENERGY_FEATURES = (
    "relative_compactness", "surface_area", "wall_area", "roof_area",
    "overall_height", "orientation", "glazing_area", "glazing_area_distribution",
)
ENERGY_TARGETS = ("heating_load", "cooling_load")


def _load_energy_efficiency() -> Dataset:
    import pandas as pd

    path = raw_path("ENB2012_data.xlsx")
    frame = pd.read_excel(path, engine="openpyxl").dropna(how="all").dropna(axis=1, how="all")
    expected = [f"X{i}" for i in range(1, 9)] + ["Y1", "Y2"]
    missing = [c for c in expected if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: columns {missing} missing (found {list(frame.columns)})")
    return Dataset(
        name="energy-efficiency",
        task="regression",
        X=frame[expected[:8]].to_numpy(dtype=np.float32),
        y=frame[["Y1", "Y2"]].to_numpy(dtype=np.float32),
        feature_names=ENERGY_FEATURES,
        target_names=ENERGY_TARGETS,
        source="ENB2012_data.xlsx (Tsanas & Xifara 2012, UCI 242)",
    )


_LOADERS = {
    "iris": lambda: _load_sklearn("iris"),
    "wine": lambda: _load_sklearn("wine"),
    "fashion-mnist": _load_fashion_mnist,
    "sine": make_sine,
    "california-housing": _load_california_housing,
    "energy-efficiency": _load_energy_efficiency,
}


def check_name(name: object) -> str:
    """Return ``name`` if it is a problem of the study, else raise one clear error."""
    if name not in TASKS:
        raise ValueError(f"unknown problem {name!r}; valid problems: {', '.join(NAMES)}")
    return name  # type: ignore[return-value]


def load(name: str) -> Dataset:
    """Load one of :data:`NAMES` with raw (unscaled) features."""
    return _LOADERS[check_name(name)]()


def stratified_subsample(dataset: Dataset, n: int, seed: int) -> Dataset:
    """A subsample of ``n`` patterns, stratified by class for classification.

    Used for Fashion-MNIST in reduced profiles; ``n >= len`` returns the
    dataset unchanged.
    """
    if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
        raise ValueError(f"subsample size must be a positive integer, got {n!r}")
    if n >= dataset.n_samples:
        return dataset
    from sklearn.model_selection import train_test_split

    stratify = dataset.y if dataset.task == "classification" else None
    idx, _ = train_test_split(
        np.arange(dataset.n_samples), train_size=int(n), stratify=stratify, random_state=seed
    )
    idx = np.sort(idx)
    return replace(
        dataset,
        X=dataset.X[idx],
        y=dataset.y[idx],
        notes={**dataset.notes, "subsample": int(n), "subsample_seed": int(seed)},
    )
