"""Sweep configurations: validation in one line naming the file and key, and the expansion into units."""

from __future__ import annotations

import pytest

from myovox.cli.main import main
from myovox.exceptions import ValidationError
from myovox.sweep import SweepConfig, load_config, plan_units


def _cfg(data, **keys):
    base = {
        "datasets": [{"path": str(data), "name": "synth"}],
        "protocols": ["kfold"],
        "models": ["lda"],
    }
    base.update(keys)
    return base


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"modles": ["lda"]}, r"sweep\.yaml: unknown key 'modles'.*Did you mean 'models'"),
        ({"models": [{"name": "rff"}]}, r"sweep\.yaml: models\[0\]\.name: .*'rff'.*Did you mean 'rf'"),
        ({"models": [{"name": "rf", "parms": {}}]}, r"models\[0\]: unknown key 'parms'"),
        ({"models": [{"name": "rf", "params": {"n_trees": 3}}]}, r"models\[0\]\.params: .*n_trees"),
        ({"protocols": ["kfoldd"]}, r"protocols\[0\]\.name: .*Did you mean 'kfold'"),
        ({"protocols": [{"name": "kfold", "options": {"n_split": 3}}]}, r"unknown option 'n_split'.*'n_splits'"),
        ({"protocols": [{"name": "kfold", "options": {"window_s": 1}}]}, r"'window_s' is an axis.*'windows'"),
        ({"protocols": ["leave_one_out"]}, r"protocol 'leave_one_out' needs option 'by'"),
        ({"windows": [-1]}, r"windows: expected a positive window length"),
        ({"seeds": ["a"]}, r"seeds: expected non-negative integers"),
        ({"adapt": ["bnn"]}, r"adapt: .*Did you mean 'bn'"),
        ({"augment": ["shfit"]}, r"augment: "),
        ({"hash": "md5"}, r"hash: expected one of stat, content"),
        ({"retries": -1}, r"retries: expected an integer >= 0"),
        ({"grids": [{"modelz": []}]}, r"grids\[0\]: unknown key 'modelz'"),
    ],
)
def test_invalid_configuration_is_one_line_naming_file_and_key(synth_data, tmp_path, change, message):
    import yaml

    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(_cfg(synth_data, **change)))
    with pytest.raises(ValidationError, match=message) as err:
        load_config(path)
    assert "\n" not in str(err.value)
    assert str(path) in str(err.value)


def test_dataset_entry_errors(synth_data, tmp_path):
    with pytest.raises(ValidationError, match=r"datasets\[0\]\.path: .*does not exist"):
        SweepConfig.from_dict(_cfg(synth_data, datasets=[{"path": str(tmp_path / "nope")}]))
    with pytest.raises(ValidationError, match=r"datasets\[0\]: unknown key 'subject'.*'subjects'"):
        SweepConfig.from_dict(_cfg(synth_data, datasets=[{"path": str(synth_data), "subject": ["S01"]}]))
    cfg = SweepConfig.from_dict(_cfg(synth_data, datasets=[{"path": str(synth_data), "subjects": ["S09"]}]))
    with pytest.raises(ValidationError, match=r"subjects: 'S09' is not in synth .*S01, S02"):
        plan_units(cfg)


def test_cli_reports_a_bad_configuration_in_one_line(synth_data, tmp_path, capsys):
    path = tmp_path / "bad.yaml"
    path.write_text("datasets: []\nmodles: [lda]\n")
    assert main(["sweep", str(path), "--store", str(tmp_path / "s")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "Traceback" not in err
    assert err.startswith("myovox sweep: error: ") and "bad.yaml" in err and "'modles'" in err
    path.write_text("datasets: [\n")
    assert main(["sweep", str(path)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_grid_expands_into_one_unit_per_training(synth_data):
    cfg = SweepConfig.from_dict(
        _cfg(
            synth_data,
            protocols=["kfold", "inter_session", {"name": "leave_one_out", "options": {"by": "subject"}}],
            models=["lda", {"name": "rf", "params": {"n_estimators": 5}}],
            windows=[None, 1.0],
            adapt=["none", "standardize"],
            seeds=[0, 1],
        )
    )
    units = plan_units(cfg)
    # per model x window x seed: kfold 2 subjects, inter_session 2 subjects x 2 adapt, leave-one-subject-out 1 (pooled)
    assert len(units) == 2 * 2 * 2 * (2 + 2 * 2 + 1)
    assert len({u.key for u in units}) == len(units)
    pooled = [u for u in units if u.protocol == "leave_one_out"]
    assert all(u.subject is None and u.subjects is None for u in pooled)
    assert {u.adapt for u in units if u.protocol == "kfold"} == {None}
    assert {u.adapt for u in units if u.protocol == "inter_session"} == {None, "standardize"}
    assert {u.subject for u in units if u.protocol == "kfold"} == {"S01", "S02"}
    # the same grid plans the same keys; the key does not depend on where the data are or what they are called
    again = plan_units(cfg)
    assert [u.key for u in again] == [u.key for u in units]
    u = units[0]
    kw = u.protocol_kwargs()
    assert kw["subjects"] == [u.subject] and kw["random_state"] == u.seed and kw["n_jobs"] == 1


def test_several_grids_and_defaults(synth_data):
    cfg = SweepConfig.from_dict(
        {
            "models": ["lda"],
            "seeds": [0, 1],
            "grids": [
                {"datasets": [str(synth_data)], "protocols": ["kfold"]},
                {"datasets": [str(synth_data)], "protocols": ["kfold"], "seeds": [1, 2]},  # seed 1 again: one unit
                {"datasets": [{"path": str(synth_data), "subjects": ["S02"]}], "protocols": ["global"]},
            ],
        }
    )
    units = plan_units(cfg)
    kfold = [u for u in units if u.protocol == "kfold"]
    assert sorted({u.seed for u in kfold}) == [0, 1, 2] and len(kfold) == 2 * 3
    assert {(u.protocol, u.subject) for u in units if u.protocol == "global"} == {("global", "S02")}
    assert len(units) == 6 + 2


def test_conditions_axis(synth_data):
    cfg = SweepConfig.from_dict(_cfg(synth_data, datasets=[{"path": str(synth_data), "conditions": "all"}]))
    assert {u.condition for u in plan_units(cfg)} == {"silent"}
    cfg = SweepConfig.from_dict(_cfg(synth_data, datasets=[{"path": str(synth_data), "conditions": ["vocalized"]}]))
    with pytest.raises(ValidationError, match="conditions: 'vocalized' is not in synth"):
        plan_units(cfg)


def test_relative_paths_are_taken_from_the_config_file(synth_data, tmp_path):
    import os

    import yaml

    sub = tmp_path / "cfgs"
    sub.mkdir()
    rel = os.path.relpath(synth_data, sub)
    path = sub / "grid.yaml"
    path.write_text(yaml.safe_dump({**_cfg(synth_data, datasets=[rel]), "store": "out"}))
    cfg = load_config(path)
    assert cfg.grids[0].datasets[0].path == str(synth_data.resolve())
    assert cfg.store == str(sub / "out")
    assert cfg.grids[0].datasets[0].name == synth_data.name
