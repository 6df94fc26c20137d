"""Issue 10, finding 6: every protocol runs on every dataset format myovox writes.

SilentWear's processed .h5 files keep 1 s before the first cue and after the last one, shorter than
the 1.4 s window: windows of neighbouring label runs share samples, which made kfold leak.
"""

import pytest

from myovox.cli.main import main

PROTOCOLS = [
    ["--protocol", "global"],
    ["--protocol", "inter_session"],
    ["--protocol", "train_from_scratch"],
    ["--protocol", "fine_tune"],
    ["--protocol", "kfold", "--folds", "3"],
    ["--protocol", "leave_one_out", "--by", "session"],
    ["--protocol", "transfer", "--train", "session=1", "--test", "session=2"],
]


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    from myovox.testing.synth import generate_dataset

    root = tmp_path_factory.mktemp("formats")
    return generate_dataset(
        root / "sw", n_subjects=1, n_sessions=2, n_batches=2, conditions=("vocalized",), n_repetitions=2, seed=1
    )


@pytest.mark.parametrize("layout", ["processed", "raw"])
@pytest.mark.parametrize("protocol", PROTOCOLS, ids=lambda p: p[1])
def test_protocol_runs(data, layout, protocol, tmp_path, capsys):
    path = data if layout == "processed" else data / "raw"
    rc = main(["-q", "evaluate", str(path), *protocol, "--model", "lda", "--no-report", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert rc == 0, err
    assert (tmp_path / "r" / "results.json").is_file()


def test_kfold_folds_never_share_samples(data):
    from myovox.datasets import load_dataset
    from myovox.evaluation.splits import check_no_leakage, overlap_groups, stratified_kfold
    from myovox.preprocessing.pipeline import preprocess_dataset
    from myovox.windows import make_windows

    w = make_windows(preprocess_dataset(load_dataset(data)), window_s=1.4)
    assert overlap_groups(w) is not None, "the processed files should have overlapping windows"
    for fold in stratified_kfold(w, 3, rest_label=0):
        check_no_leakage(w.subset(fold.train), w.subset(fold.test))
