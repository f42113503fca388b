"""The data layer against the known facts of ../shared/data/README.md."""

import gzip
import os

import numpy as np
import pytest

from alnn import datasets
from alnn.datasets import DataError, load
from alnn.preprocess import prepare, splits

needs_mirror = pytest.mark.skipif(
    not os.environ.get("ALNN_DATA_MIRROR") and not (datasets.cache_dir() / "housing.csv").exists(),
    reason="no raw-data mirror and no cache (set ALNN_DATA_MIRROR to ../shared/data)",
)


def test_names_and_tasks():
    assert datasets.NAMES == (
        "iris", "wine", "fashion-mnist", "sine", "california-housing", "energy-efficiency"
    )
    assert datasets.CLASSIFICATION == ("iris", "wine", "fashion-mnist")
    assert datasets.REGRESSION == ("sine", "california-housing", "energy-efficiency")


def test_iris_facts():
    ds = load("iris")
    assert ds.task == "classification" and ds.X.shape == (150, 4) and ds.X.dtype == np.float32
    assert np.bincount(ds.y).tolist() == [50, 50, 50]
    assert ds.class_names == ("setosa", "versicolor", "virginica")


def test_wine_facts():
    ds = load("wine")
    assert ds.X.shape == (178, 13)
    assert np.bincount(ds.y).tolist() == [59, 71, 48]


@needs_mirror
def test_fashion_mnist_facts():
    ds = load("fashion-mnist")
    assert ds.X.shape == (70000, 784) and ds.X.dtype == np.float32
    assert np.bincount(ds.y).tolist() == [7000] * 10
    assert ds.X.min() == 0 and ds.X.max() == 255
    assert ds.scaling == "pixels" and len(ds.class_names) == 10


@needs_mirror
def test_california_housing_facts():
    ds = load("california-housing")
    assert ds.X.shape == (20640, 13) and ds.y.shape == (20640, 1)
    col = ds.feature_names.index("total_bedrooms")
    assert int(np.isnan(ds.X[:, col]).sum()) == 207
    onehot = ds.X[:, list(ds.passthrough)]
    assert onehot.shape[1] == 5 and np.all(onehot.sum(axis=1) == 1)
    # target in $100k: the data's cap is $500,001
    assert ds.y.max() == pytest.approx(5.00001, rel=1e-6)


@needs_mirror
def test_energy_efficiency_facts():
    ds = load("energy-efficiency")
    assert ds.X.shape == (768, 8) and ds.y.shape == (768, 2)
    assert ds.target_names == ("heating_load", "cooling_load")
    np.testing.assert_allclose(ds.y.mean(axis=0), [22.3072, 24.5878], atol=5e-5)


def test_sine_is_deterministic_and_faithful():
    a, b = load("sine"), load("sine")
    np.testing.assert_array_equal(a.X, b.X)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.X.shape == (500, 1) and a.y.shape == (500, 1)
    assert a.X.min() >= -np.pi and a.X.max() <= np.pi
    residual = a.y[:, 0] - np.sin(a.X[:, 0])
    assert abs(residual.std() - 0.1) < 0.015 and abs(residual.mean()) < 0.02
    other = datasets.make_sine(seed=datasets.SINE_SEED + 1)
    assert not np.array_equal(a.X, other.X)


def test_unknown_name_lists_valid_ones():
    with pytest.raises(ValueError) as err:
        load("mnist")
    msg = str(err.value)
    assert "'mnist'" in msg
    for name in datasets.NAMES:
        assert name in msg


def test_missing_file_names_places_searched(isolated_data):
    with pytest.raises(DataError) as err:
        load("california-housing")
    msg = str(err.value)
    assert "housing.csv" in msg and str(isolated_data) in msg
    assert "ALNN_DATA_MIRROR" in msg  # says how to supply the file
    assert not (isolated_data / "housing.csv").exists()


@needs_mirror
def test_corrupted_mirror_file_is_refused_and_never_cached(isolated_data, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    real = _real_copy("housing.csv")
    data = bytearray(real.read_bytes())
    data[100] ^= 0xFF
    (mirror / "housing.csv").write_bytes(bytes(data))
    monkeypatch.setenv("ALNN_DATA_MIRROR", str(mirror))
    with pytest.raises(DataError) as err:
        load("california-housing")
    assert str(mirror / "housing.csv") in str(err.value) and "SHA-256" in str(err.value)
    assert not (isolated_data / "housing.csv").exists()
    assert not list(isolated_data.rglob("*.part"))


@needs_mirror
def test_corrupted_cache_file_is_refused(isolated_data):
    isolated_data.mkdir(parents=True)
    (isolated_data / "ENB2012_data.xlsx").write_bytes(b"not a spreadsheet")
    with pytest.raises(DataError, match="ENB2012_data.xlsx"):
        load("energy-efficiency")


@needs_mirror
def test_truncated_gzip_is_refused(isolated_data, tmp_path, monkeypatch):
    mirror = tmp_path / "mirror" / "fashion-mnist"
    mirror.mkdir(parents=True)
    real = _real_copy("fashion-mnist/train-labels-idx1-ubyte.gz").read_bytes()
    (mirror / "train-labels-idx1-ubyte.gz").write_bytes(real[: len(real) // 2])
    monkeypatch.setenv("ALNN_DATA_MIRROR", str(mirror.parent))
    with pytest.raises(DataError, match="train-labels-idx1-ubyte.gz"):
        datasets.raw_path("fashion-mnist/train-labels-idx1-ubyte.gz")
    assert not (isolated_data / "fashion-mnist" / "train-labels-idx1-ubyte.gz").exists()


@needs_mirror
def test_recompressed_gzip_is_accepted(isolated_data, tmp_path, monkeypatch):
    """Fashion-MNIST is checked by its payload, so any faithful gzip passes."""
    mirror = tmp_path / "mirror" / "fashion-mnist"
    mirror.mkdir(parents=True)
    payload = gzip.decompress(_real_copy("fashion-mnist/t10k-labels-idx1-ubyte.gz").read_bytes())
    (mirror / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(payload, compresslevel=1))
    monkeypatch.setenv("ALNN_DATA_MIRROR", str(mirror.parent))
    path = datasets.raw_path("fashion-mnist/t10k-labels-idx1-ubyte.gz")
    assert path == isolated_data / "fashion-mnist" / "t10k-labels-idx1-ubyte.gz"


_MIRROR = os.environ.get("ALNN_DATA_MIRROR")  # read before any fixture removes it
_CACHE = datasets.cache_dir()


def _real_copy(relpath):
    """A faithful copy of a raw file from the mirror or the project cache."""
    for base in (_MIRROR, _CACHE):
        if base and (datasets.Path(base) / relpath).exists():
            return datasets.Path(base) / relpath
    pytest.skip(f"no faithful copy of {relpath}")


# ---------------------------------------------------------------- splits


@pytest.mark.parametrize("name", ["iris", "wine"])
def test_stratified_splits(name):
    ds = load(name)
    folds = splits(ds, 5, seed=7)
    assert len(folds) == 5
    all_val = np.concatenate([va for _, va in folds])
    assert sorted(all_val.tolist()) == list(range(ds.n_samples))
    overall = np.bincount(ds.y) / ds.n_samples
    for tr, va in folds:
        assert np.intersect1d(tr, va).size == 0
        share = np.bincount(ds.y[va], minlength=len(overall)) / len(va)
        assert np.abs(share - overall).max() < 0.05


def test_splits_are_deterministic_per_seed():
    ds = load("sine")
    a, b, c = splits(ds, 5, 3), splits(ds, 5, 3), splits(ds, 5, 4)
    for (ta, va), (tb, vb) in zip(a, b):
        np.testing.assert_array_equal(ta, tb)
        np.testing.assert_array_equal(va, vb)
    assert any(not np.array_equal(va, vc) for (_, va), (_, vc) in zip(a, c))


def test_regression_splits_can_stratify_on_target_bins():
    ds = load("sine")
    for tr, va in splits(ds, 5, 0, stratify_bins=4):
        assert len(va) == 100
        assert abs(np.median(ds.y[va]) - np.median(ds.y)) < 0.35


@pytest.mark.parametrize("bad", [1, 0, -3, 2.5, "5", True])
def test_bad_fold_count(bad):
    with pytest.raises(ValueError, match="folds"):
        splits(load("iris"), bad, 0)


# ---------------------------------------------------------------- no leakage


def test_scaler_statistics_come_from_training_part_only():
    ds = load("wine")
    tr, va = splits(ds, 5, 0)[0]
    fold = prepare(ds, tr, va)
    np.testing.assert_allclose(fold.scaler.shift, ds.X[tr].mean(axis=0), rtol=1e-5)
    np.testing.assert_allclose(fold.scaler.scale, ds.X[tr].std(axis=0), rtol=1e-5)
    np.testing.assert_allclose(fold.X_train.mean(axis=0), 0, atol=1e-5)
    np.testing.assert_allclose(fold.X_train.std(axis=0), 1, atol=1e-4)
    # the validation part is mapped by the training statistics, not its own
    np.testing.assert_allclose(fold.X_val, (ds.X[va] - ds.X[tr].mean(0)) / ds.X[tr].std(0), atol=1e-5)
    assert np.abs(fold.X_val.mean(axis=0)).max() > 1e-3
    # one-hot targets
    assert fold.T_train.shape == (len(tr), 3)
    np.testing.assert_array_equal(fold.T_train.argmax(1), ds.y[tr])


@needs_mirror
def test_imputation_uses_training_median_and_onehot_is_untouched():
    ds = load("california-housing")
    tr, va = splits(ds, 5, 1)[0]
    fold = prepare(ds, tr, va)
    col = ds.feature_names.index("total_bedrooms")
    assert fold.scaler.fill[col] == pytest.approx(np.nanmedian(ds.X[tr, col]))
    assert not np.isnan(fold.X_train).any() and not np.isnan(fold.X_val).any()
    for j in ds.passthrough:
        np.testing.assert_array_equal(fold.X_val[:, j], ds.X[va, j])


def test_regression_targets_standardised_on_training_part():
    ds = load("sine")
    tr, va = splits(ds, 5, 0)[2]
    fold = prepare(ds, tr, va)
    assert fold.target_mean[0] == pytest.approx(ds.y[tr, 0].mean(), abs=1e-6)
    assert fold.target_std[0] == pytest.approx(ds.y[tr, 0].std(), abs=1e-6)
    np.testing.assert_allclose(fold.T_val * fold.target_std + fold.target_mean, ds.y[va], atol=1e-5)
    np.testing.assert_array_equal(fold.y_val, ds.y[va])


def test_pixels_are_divided_by_255():
    X = np.array([[0, 255, 51]] * 4, dtype=np.float32)
    ds = datasets.Dataset("toy", "classification", X, np.array([0, 1, 0, 1]), ("a", "b", "c"),
                          class_names=("0", "1"), scaling="pixels")
    fold = prepare(ds, np.array([0, 1]), np.array([2, 3]))
    np.testing.assert_allclose(fold.X_val[0], [0, 1, 0.2])


def test_stratified_subsample_keeps_class_balance():
    ds = load("wine")
    sub = datasets.stratified_subsample(ds, 89, seed=0)
    assert sub.n_samples == 89
    np.testing.assert_allclose(np.bincount(sub.y) / 89, np.bincount(ds.y) / 178, atol=0.02)
    again = datasets.stratified_subsample(ds, 89, seed=0)
    np.testing.assert_array_equal(sub.X, again.X)
    with pytest.raises(ValueError, match="subsample"):
        datasets.stratified_subsample(ds, -1, 0)
