"""Reference fixture: both .bio layouts -> `myovox convert` -> .h5 equal to SilentWear's own file."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from myovox.cli.main import main
from myovox.io.silentwear_h5 import COLUMNS, KEPT_CHANNELS

pd = pytest.importorskip("pandas")
pytestmark = pytest.mark.realdata

H5 = "data_raw_and_filt/S01/vocalized/sess_1_batch_1.h5"
NAME = "sess_1_batch_1_2026-01-27_10-00-00.bio"


@pytest.mark.parametrize("layout", ["raw/S01/vocalized", "raw_current_layout"])
def test_convert_bio_to_reference_h5(silentwear_fixtures, tmp_path, capsys, caplog, layout):
    # the current-layout file sits outside a <subject>/<condition> folder: give it one, as a user would
    src_dir = tmp_path / "S01" / "vocalized"
    src_dir.mkdir(parents=True)
    src = shutil.copy(silentwear_fixtures / layout / NAME, src_dir / NAME)
    out = tmp_path / "sess_1_batch_1.h5"
    # SilentWear's processed layout (14 channels, trimmed) only on request: conversion is lossless by default
    assert main(["-q", "convert", "--channels", "silentwear", "--trim", str(src), str(out)]) == 0
    stdout = capsys.readouterr().out
    assert "wrote" in stdout and "2 packet" in caplog.text  # the DataLossWarning as a log line

    exp = json.loads((silentwear_fixtures / "expected.json").read_text())["processed_h5"]
    ours = pd.read_hdf(out, "emg")
    ref = pd.read_hdf(silentwear_fixtures / H5, "emg")
    assert list(ours.columns) == exp["columns"] == list(COLUMNS)
    assert [str(t) for t in ours.dtypes] == [str(t) for t in ref.dtypes]
    # pandas >= 3 reads stored object strings as its "str" dtype; on disk both are plain objects
    readable = {c: ("object" if str(t) == "str" else str(t)) for c, t in ours.dtypes.items()}
    assert readable == exp["dtypes"]
    tables = pytest.importorskip("tables")
    with tables.open_file(out) as h:
        for node in h.walk_nodes("/emg", classname="VLArray"):
            assert node._v_attrs._f_list("user") == ["transposed"], "strings not stored as plain objects"
    assert ours.shape == tuple(exp["shape"])
    assert (ours.index[0], ours.index[-1]) == (exp["index"]["first"], exp["index"]["last"])
    assert ours.index.equals(ref.index)
    for col in ("Label_int", "Label_str", "session_id", "batch_id"):
        assert ours[col].tolist() == ref[col].tolist(), col
    raw = list(KEPT_CHANNELS)
    np.testing.assert_array_equal(ours[raw].to_numpy(), ref[raw].to_numpy())
    filt = [c + "_filt" for c in raw]
    a, b = ours[filt].to_numpy(), ref[filt].to_numpy()
    assert np.max(np.abs(a - b)) <= 1e-6 * np.max(np.abs(b))
    assert ours["Ch_0_filt"].iloc[0] == pytest.approx(exp["checks"]["Ch_0_filt_first"], rel=1e-6)
