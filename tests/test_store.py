"""The results store: atomic writes, keys in the metadata, corruption detected on read."""

import os

import numpy as np
import pandas as pd
import pytest

from alnn import store as S


def frame(n=50):
    return pd.DataFrame({"trial": np.arange(n) // 10, "epoch": np.arange(n) % 10 + 1,
                         "accuracy": np.linspace(0, 1, n), "dataset": ["iris"] * n})


def test_key_is_a_stable_hash_of_every_field():
    fields = {"profile": "smoke", "problem": "iris", "config": {"lr": 0.1, "hidden": 8}, "trials": 1}
    assert S.key_of(fields) == S.key_of(dict(reversed(list(fields.items()))))
    assert S.key_of(fields) != S.key_of({**fields, "trials": 2})
    assert S.key_of(fields) != S.key_of({**fields, "config": {"lr": 0.1, "hidden": 16}})
    assert len(S.key_of(fields)) == 20


def test_roundtrip_with_metadata(tmp_path):
    path = tmp_path / "a" / "b.parquet"
    S.write(path, frame(), {"key": "k1", "fields": {"x": [1, 2]}})
    back = S.read(path, {"key": "k1", "fields": {"x": [1, 2]}})
    pd.testing.assert_frame_equal(back, frame(), check_dtype=False)
    assert S.read_meta(path) == {"key": "k1", "fields": {"x": [1, 2]}, "rows": 50,
                                 "content": S.content_hash(frame())}
    assert [p.name for p in path.parent.iterdir()] == ["b.parquet"]  # no temporary left behind


def test_foreign_metadata_is_refused(tmp_path):
    path = tmp_path / "b.parquet"
    S.write(path, frame(), {"key": "k1"})
    with pytest.raises(S.ShardError, match="metadata key = 'k1', expected 'k2'"):
        S.read(path, {"key": "k2"})
    assert S.try_read(path, {"key": "k2"}) is None
    assert S.try_read(tmp_path / "missing.parquet") is None


def test_truncated_file_is_detected(tmp_path):
    path = tmp_path / "b.parquet"
    S.write(path, frame(), {"key": "k"})
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    messages = []
    assert S.try_read(path, {"key": "k"}, log=messages.append) is None
    assert "unreadable" in messages[0]


def test_flipped_data_byte_is_detected(tmp_path):
    path = tmp_path / "b.parquet"
    S.write(path, frame(2000), {"key": "k"})
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF  # inside the first data page: caught by the page checksum
    path.write_bytes(bytes(data))
    with pytest.raises(S.ShardError):
        S.read(path, {"key": "k"})


@pytest.mark.parametrize("position", range(4, 4000, 97))
def test_any_flipped_byte_is_detected_or_harmless(tmp_path, position):
    """Wherever a byte flips, the file is refused or it still reads the very values written."""
    path = tmp_path / "b.parquet"
    S.write(path, frame(300), {"key": "k"})
    data = bytearray(path.read_bytes())
    if position >= len(data) - 8:
        pytest.skip("beyond the file")
    data[position] ^= 0xFF
    path.write_bytes(bytes(data))
    back = S.try_read(path, {"key": "k"})
    if back is not None:
        pd.testing.assert_frame_equal(back, frame(300), check_dtype=False)


def test_row_count_mismatch_is_detected(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "b.parquet"
    table = pa.Table.from_pandas(frame(), preserve_index=False)
    table = table.replace_schema_metadata({S.META: b'{"key": "k", "rows": 49}'})
    pq.write_table(table, path)
    with pytest.raises(S.ShardError, match="holds 50 rows, its metadata says 49"):
        S.read(path)


def test_file_without_metadata_is_refused(tmp_path):
    path = tmp_path / "b.parquet"
    frame().to_parquet(path)
    with pytest.raises(S.ShardError):
        S.read(path)
    with pytest.raises(S.ShardError):
        S.read_meta(path)


def test_failed_write_leaves_nothing(tmp_path, monkeypatch):
    path = tmp_path / "b.parquet"

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        S.write(path, frame(), {"key": "k"})
    assert list(tmp_path.iterdir()) == []


def test_json_roundtrip(tmp_path):
    path = S.write_json(tmp_path / "w.json", {"lr": 0.1, "hidden": 64})
    assert S.read_json(path) == {"lr": 0.1, "hidden": 64}


def test_layout_is_profile_specific():
    st = S.Store.of("smoke", "results")
    assert str(st.grid_table("iris")) == "results/smoke/grid/iris.parquet"
    assert str(st.grid_winner("iris")) == "results/smoke/grid/iris.json"
    assert str(st.shard("iris", "sasla", "abc")) == "results/smoke/shards/iris/sasla/abc.parquet"
    assert str(st.trials("iris", "sasla")) == "results/smoke/trials/iris/sasla.parquet"
    assert str(st.config("trials", "iris", "sasla")) == "results/smoke/config/trials-iris-sasla.json"
    assert str(st.data("wine")) == "results/smoke/data/wine.json"
