"""trim_to_cues, channel selection, preprocess and preprocess_dataset."""

from __future__ import annotations

import numpy as np
import pytest

from myovox import Recording
from myovox.dataset import Dataset
from myovox.exceptions import DataQualityWarning, ValidationError
from myovox.preprocessing import (
    SILENTWEAR_CHANNEL_ORDER,
    design_filter,
    filter_causal,
    filter_zero_phase,
    preprocess,
    preprocess_dataset,
    select_channels,
    trim_to_cues,
)


def _rec(n=4000, n_ch=16, meta=None, seed=0):
    rng = np.random.default_rng(seed)
    labels = np.zeros(n, dtype=int)
    labels[1000:1500] = 3
    labels[2500:3000] = 5
    data = rng.standard_normal((n_ch, n)) + 100.0
    return Recording(data, 500.0, labels=labels, meta=dict(meta or {"subject": "S01", "source": "r.bio"}))


def test_silentwear_channel_order():
    assert len(SILENTWEAR_CHANNEL_ORDER) == 14
    assert "Ch_11" not in SILENTWEAR_CHANNEL_ORDER and "Ch_12" not in SILENTWEAR_CHANNEL_ORDER
    assert SILENTWEAR_CHANNEL_ORDER[:5] == ("Ch_0", "Ch_1", "Ch_2", "Ch_5", "Ch_3")
    r = _rec()
    s = select_channels(r, SILENTWEAR_CHANNEL_ORDER)
    np.testing.assert_array_equal(s.data[3], r.data[5])
    assert s.ch_names == SILENTWEAR_CHANNEL_ORDER
    assert select_channels(r, "silentwear").ch_names == SILENTWEAR_CHANNEL_ORDER
    assert select_channels(r, None) is r


def test_select_channels_did_you_mean():
    with pytest.raises(ValidationError, match=r"'Ch_16'.*r\.bio.*Did you mean 'Ch_"):
        select_channels(_rec(), ["Ch_0", "Ch_16"])
    with pytest.raises(ValidationError, match="silentwear"):
        select_channels(_rec(), "silentwaer")


def test_trim_to_cues_matches_reference_rule():
    r = _rec()
    t = trim_to_cues(r, 1.0)
    # [first cue - 500, last cue + 500) = [500, 2999 + 500)
    assert t.n_times == 3499 - 500 and t.meta["first_sample"] == 500
    np.testing.assert_array_equal(t.data, r.data[:, 500:3499])
    assert t.labels[500] == 3 and t.labels[0] == 0
    # margins clip to the recording
    assert trim_to_cues(r, 10.0).n_times == r.n_times
    with pytest.raises(ValidationError, match="no labels"):
        trim_to_cues(Recording(np.zeros((1, 10)), 500.0))


def test_preprocess_filters_and_records_what_was_done():
    r = _rec()
    p = preprocess(r, channels="silentwear")
    assert p.n_channels == 14 and p.meta["filtered"] is True
    info = p.meta["preprocessing"]
    assert info["filter_mode"] == "zero_phase" and info["filter"]["highpass"] == 20.0
    expected = filter_zero_phase(select_channels(r, "silentwear").data, design_filter(500.0))
    np.testing.assert_allclose(p.data, expected)
    c = preprocess(r, causal=True)
    np.testing.assert_allclose(c.data, filter_causal(r.data, design_filter(500.0)))
    assert c.meta["preprocessing"]["filter_mode"] == "causal"
    assert "filtered" not in r.meta  # input untouched
    # filtering again is skipped
    again = preprocess(p)
    np.testing.assert_array_equal(again.data, p.data)
    assert again.meta["preprocessing"]["filter_mode"] == "already_filtered"
    none = preprocess(r, filter=None)
    np.testing.assert_array_equal(none.data, r.data)
    with pytest.raises(ValidationError, match="1000 Hz"):
        preprocess(r, filter=design_filter(1000.0))


def test_preprocess_nan_policy():
    r = _rec()
    r.data[2, 100:103] = np.nan
    with pytest.raises(ValidationError, match=r"r\.bio.*3 NaN"):
        preprocess(r)
    with pytest.warns(DataQualityWarning, match="3 NaN"):
        p = preprocess(r, nan_policy="interpolate")
    assert np.isfinite(p.data).all() and p.meta["preprocessing"]["n_interpolated"] == 3


def test_preprocess_dataset_uses_info():
    recs = [_rec(seed=1), _rec(seed=2, meta={"source": "f.h5", "filtered": True})]
    ds = Dataset(recs, "sw", info={"filter": {"highpass": 10.0, "notch": None}, "channels": ["Ch_3", "Ch_0"]})
    out = preprocess_dataset(ds)
    assert out is not ds and len(out) == 2 and out.window_s == ds.window_s
    a, b = out.recordings
    assert a.ch_names == ("Ch_3", "Ch_0")
    np.testing.assert_allclose(
        a.data, filter_zero_phase(recs[0].data[[3, 0]], design_filter(500.0, highpass=10.0, notch=None))
    )
    np.testing.assert_array_equal(b.data, recs[1].data[[3, 0]])  # already filtered: not again
    assert b.meta["preprocessing"]["filter_mode"] == "already_filtered"
    assert out.info["preprocessing"]["n_already_filtered"] == 1
    # no filter in info -> None means no filtering
    raw = preprocess_dataset(Dataset([_rec()], "x", info={"filter": None}))
    assert raw.recordings[0].meta["preprocessing"]["filter_mode"] == "none"
    # absent -> SilentWear's filter
    dflt = preprocess_dataset(Dataset([_rec()], "x"), causal=True)
    assert dflt.recordings[0].meta["preprocessing"]["filter"]["notch"] == 50.0


@pytest.mark.realdata
@pytest.mark.filterwarnings("ignore::myovox.exceptions.DataLossWarning")  # the fixture lost 2 packets
def test_fixture_bio_to_reference_h5_and_windows(silentwear_fixtures):
    """read .bio -> filter whole -> SilentWear channels -> trim equals SilentWear's processed h5."""
    pd = pytest.importorskip("pandas")
    from myovox.features import compute_features
    from myovox.io.bio import read_bio
    from myovox.windows import event_windows

    raw = read_bio(silentwear_fixtures / "raw/S01/vocalized/sess_1_batch_1_2026-01-27_10-00-00.bio")
    df = pd.read_hdf(silentwear_fixtures / "data_raw_and_filt/S01/vocalized/sess_1_batch_1.h5", key="emg")
    p = trim_to_cues(preprocess(raw, channels="silentwear"), margin_s=1.0)
    assert p.meta["first_sample"] == df.index[0] and p.n_times == len(df)
    np.testing.assert_array_equal(p.labels, df["Label_int"].to_numpy())
    for i, ch in enumerate(p.ch_names):
        ref = df[f"{ch}_filt"].to_numpy()
        np.testing.assert_allclose(p.data[i], ref, rtol=0, atol=1e-7 * np.abs(ref).max())
    w = event_windows(p, 1.4)
    assert w.y.tolist() == [0, 8, 0, 3, 0, 5] and w.meta["subject"][0] == "S01"
    assert compute_features(w.X, w.sfreq, "silentwear_rf").shape == (6, 2352)


def test_causal_filtering_refuses_already_filtered_data():
    import numpy as np
    import pytest

    from myovox import Recording, ValidationError
    from myovox.preprocessing.pipeline import preprocess

    rec = Recording(np.random.default_rng(0).normal(size=(2, 1000)), 500.0, meta={"filtered": True, "source": "x.h5"})
    with pytest.raises(ValidationError, match=r"x.h5 is already filtered.*filtered=False"):
        preprocess(rec, causal=True)
    assert preprocess(rec).data is not None  # zero-phase path keeps the data as they are
