"""`myovox info` and `myovox convert`, run in-process through the real entry point."""

from __future__ import annotations

import json

import numpy as np
import pytest

from myovox import Recording
from myovox.cli.main import main
from myovox.io import read_recording, write_recording


def _rec() -> Recording:
    rng = np.random.default_rng(4)
    labels = np.zeros(1500, dtype=np.int64)
    labels[300:500] = 2
    labels[900:1100] = 6
    return Recording(
        rng.normal(0, 20, (16, 1500)).astype(np.float32),
        500.0,
        None,
        labels,
        meta={"subject": "S05", "session": 2, "batch": 3, "condition": "silent", "units": "0.1 uV"},
    )


def test_info_file_text_and_json(tmp_path, capsys):
    path = write_recording(_rec(), tmp_path / "r.npz")
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "n_channels:" in out and "16" in out and "down: 1" in out and "backward: 1" in out
    assert "subjects:" in out and "S05" in out
    assert main(["info", "--json", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_channels"] == [16] and info["sfreq"] == [500.0] and info["n_times"] == 1500
    assert info["classes"] == {"backward": 1, "down": 1, "rest": 3}
    assert info["total_duration_s"] == 3.0 and info["lost_packets"] == {"packets": 0, "gaps": 0}
    assert info["channels"][:2] == ["Ch_0", "Ch_1"] and info["units"] == ["0.1 uV"]


def test_info_user_errors_exit_2(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and len(err.strip().splitlines()) == 1
    (tmp_path / "empty").mkdir()
    assert main(["info", str(tmp_path / "empty")]) == 2
    assert "not a dataset folder" in capsys.readouterr().err
    assert main(["info", "--kind", "silentwaer", str(tmp_path / "empty")]) == 2
    assert "Did you mean 'silentwear'" in capsys.readouterr().err


@pytest.mark.realdata
def test_info_on_fixtures(silentwear_fixtures, capsys):
    assert main(["info", "--json", str(silentwear_fixtures)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dataset"] == "silentwear" and info["n_recordings"] == 1
    assert info["classes"] == {"forward": 1, "left": 1, "rest": 4, "stop": 1}
    assert info["channels"][3] == "Ch_5" and info["filtered"] is True
    bio = silentwear_fixtures / "raw/S01/vocalized/sess_1_batch_1_2026-01-27_10-00-00.bio"
    assert main(["info", "--json", str(bio)]) == 0
    out, err = capsys.readouterr()
    info = json.loads(out)
    assert "DataLossWarning" in err and "2 packet" in err  # one log line on stderr
    assert info["lost_packets"] == {"packets": 2, "gaps": 2} and info["n_channels"] == [16]


@pytest.mark.parametrize("ending", [".csv", ".csv.gz", ".edf", ".h5", ".npz"])
def test_convert_roundtrip(tmp_path, capsys, ending):
    rec = _rec()
    src = write_recording(rec, tmp_path / "in.npz")
    dst = tmp_path / f"out{ending}"
    assert main(["-q", "convert", str(src), str(dst)]) == 0
    assert "wrote" in capsys.readouterr().out
    back = read_recording(dst)
    assert back.sfreq == 500.0
    if ending == ".h5":  # lossless by default: all 16 channels, every sample (finding 5)
        assert back.n_channels == 16 and back.meta["first_sample"] == 0 and back.meta["session"] == 2
        np.testing.assert_array_equal(back.data, rec.data)
        np.testing.assert_array_equal(back.labels, rec.labels)
    elif ending == ".edf":
        assert np.abs(back.data - rec.data).max() < 0.01
        np.testing.assert_array_equal(back.labels, rec.labels)
    else:
        np.testing.assert_array_equal(back.data, rec.data)
        np.testing.assert_array_equal(back.labels, rec.labels)


def test_convert_errors(tmp_path, capsys):
    src = write_recording(_rec(), tmp_path / "in.npz")
    dst = tmp_path / "out.csv"
    assert main(["convert", str(src), str(dst)]) == 0
    capsys.readouterr()
    assert main(["convert", str(src), str(dst)]) == 2
    err = capsys.readouterr().err
    assert "exists; pass --force" in err and len(err.strip().splitlines()) == 1
    assert main(["-q", "convert", "--force", str(src), str(dst)]) == 0
    capsys.readouterr()
    assert main(["convert", str(src), str(tmp_path / "o.txt")]) == 2
    assert "Cannot tell the format" in capsys.readouterr().err
    assert main(["convert", "--format", "edff", str(src), str(tmp_path / "o")]) == 2
    assert "Did you mean '.edf'" in capsys.readouterr().err
    assert main(["convert", str(tmp_path / "nope.npz"), str(tmp_path / "x.csv")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["convert", str(src), str(tmp_path / "x.xdf")]) == 2
    assert "not supported" in capsys.readouterr().err
    assert main(["convert", "--format", "csv", str(src), str(tmp_path / "x.data")]) == 0
    assert read_recording(tmp_path / "x.data", format="csv").n_channels == 16


@pytest.mark.realdata
@pytest.mark.parametrize(
    ("name", "kind"),
    [("somach-silent-speech", "somach"), ("mateus-subvocal", "mateus"), ("longterm-armband", "longterm")],
)
def test_info_on_shared_datasets(datasets_dir, capsys, name, kind):
    path = datasets_dir / name
    if not path.exists():
        pytest.skip(f"{path} not present")
    assert main(["-q", "info", "--json", str(path)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["dataset"] == kind and info["n_recordings"] > 0 and info["classes"]
    assert info["total_duration_s"] > 0 and isinstance(info["channels"], list)
