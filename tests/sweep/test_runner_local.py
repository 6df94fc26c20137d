"""Sweeps on local worker processes: resume, recompute on change, retries, a killed worker, the CLI."""

from __future__ import annotations

import os
import signal

from myovox.cli.main import main
from myovox.sweep import ResultsStore, compare_stores, execute_unit, load_config, plan_units, run_sweep


def test_sweep_resumes_and_recomputes_only_what_changed(own_data, write_config, tmp_path):
    cfg_path = write_config(own_data, seeds=[0, 1])
    store = tmp_path / "store"
    first = run_sweep(load_config(cfg_path), store, n_workers=2)
    assert (first.total, first.done, first.skipped, first.failed) == (4, 4, 0, 0)
    st = ResultsStore(store)
    idx = st.index()
    assert len(idx) == 4 and set(idx["status"]) == {"done"} and idx["mean"].notna().all()
    assert set(idx["subject"]) == {"S01", "S02"} and set(idx["seed"]) == {0, 1}
    rec = st.read(idx["key"][0])
    assert rec["result"]["folds"] and rec["unit"]["protocol"] == "kfold" and rec["versions"]["myovox"]
    assert {"load_s", "run_s", "total_s", "started", "finished"} <= set(rec["timing"])
    assert (store / "index.csv").is_file() and (store / "progress.json").is_file()

    # finished units are never run again
    again = run_sweep(load_config(cfg_path), store, n_workers=2)
    assert (again.done, again.skipped) == (0, 4)

    # a changed configuration: only its new units run
    cfg_path = write_config(own_data, seeds=[0, 1, 2])
    more = run_sweep(load_config(cfg_path), store, n_workers=2)
    assert (more.total, more.done, more.skipped) == (6, 2, 4)

    # changed data: every unit on them runs again; the old records stay, marked superseded
    h5 = sorted(own_data.rglob("*.h5"))[0]
    st_ = h5.stat()
    os.utime(h5, ns=(st_.st_atime_ns, st_.st_mtime_ns + 10**9))
    changed = run_sweep(load_config(cfg_path), store, n_workers=2)
    assert (changed.done, changed.skipped) == (6, 0)
    idx = ResultsStore(store).index()
    assert len(idx) == 12 and idx["superseded"].sum() == 6
    assert idx.loc[idx["superseded"], "fingerprint"].nunique() == 1
    # the same seeds on the same (restored) data give the same results: they are the records of the first run
    os.utime(h5, ns=(st_.st_atime_ns, st_.st_mtime_ns))
    assert run_sweep(load_config(cfg_path), store, n_workers=1).done == 0


def test_failed_unit_is_retried_then_recorded(synth_data, write_config, tmp_path, caplog):
    cfg_path = write_config(
        synth_data,
        protocols=[{"name": "leave_one_out", "options": {"by": "day"}}, {"name": "kfold", "options": {"n_splits": 2}}],
        datasets=[{"path": str(synth_data), "name": "synth", "subjects": ["S01"]}],
    )
    store = tmp_path / "store"
    with caplog.at_level("WARNING", logger="myovox"):
        summary = run_sweep(load_config(cfg_path), store, n_workers=2, retries=1)
    assert (summary.done, summary.failed, summary.retried) == (1, 1, 1)
    assert "retrying" in caplog.text and "failed after 2 attempt(s)" in caplog.text
    st = ResultsStore(store)
    (failed,) = list(st.records("failed"))
    assert len(failed["attempts"]) == 2 and "day" in failed["error"]["message"]
    assert failed["error"]["traceback"]
    # a failed unit is not run again by default, only with retry_failed
    assert run_sweep(load_config(cfg_path), store, n_workers=1, retries=0).failed == 0
    assert run_sweep(load_config(cfg_path), store, n_workers=1, retries=0, retry_failed=True).failed == 1


def test_killed_worker_loses_only_its_unit(synth_data, write_config, tmp_path):
    cfg_path = write_config(synth_data, seeds=[0, 1])
    reference = tmp_path / "reference"
    run_sweep(load_config(cfg_path), reference, n_workers=1)
    killed: list[str] = []

    def kill_second_unit(kind, info):
        if kind == "submit" and info["task"] == 1 and info["pid"]:
            os.kill(info["pid"], signal.SIGKILL)
            killed.append(info["unit"].key)

    store = tmp_path / "store"
    summary = run_sweep(load_config(cfg_path), store, n_workers=2, on_event=kill_second_unit)
    assert killed and (summary.done, summary.failed, summary.retried) == (4, 0, 1)
    rec = ResultsStore(store).read(killed[0])
    assert [a["ok"] for a in rec["attempts"]] == [False, True]
    assert "SIGKILL" in rec["attempts"][0]["error"]["message"]
    assert compare_stores(reference, store) == []


def test_unit_on_data_changed_since_planning_is_an_error(synth_data, write_config):
    (unit,) = plan_units(
        load_config(write_config(synth_data, datasets=[{"path": str(synth_data), "subjects": ["S01"]}]))
    )
    d = unit.to_dict()
    d["dataset"]["fingerprint"] = "stat:" + "0" * 64
    out = execute_unit(d)
    assert not out["ok"] and "changed after the sweep was planned" in out["error"]["message"]


def test_cli_sweep_dry_run_and_report(synth_data, write_config, tmp_path, capsys):
    cfg_path = write_config(synth_data)
    store = tmp_path / "store"
    assert main(["-q", "sweep", str(cfg_path), "--store", str(store), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 units; 0 in" in out and "2 left" in out
    assert main(["-q", "sweep", str(cfg_path), "--store", str(store), "--workers", "1"]) == 0
    assert "2 run now, 0 failed" in capsys.readouterr().out
    assert main(["-q", "sweep", str(cfg_path), "--store", str(store), "--dry-run"]) == 0
    assert "2 in" in capsys.readouterr().out
    assert main(["-q", "sweep-report", str(store), "--no-plots"]) == 0
    assert (store / "report" / "report.md").is_file() and (store / "report" / "report.html").is_file()
    # a folder of someone else's is refused, in one line
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("x")
    assert main(["sweep", str(cfg_path), "--store", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert "thesis.tex" in err and "Traceback" not in err and err.strip().count("\n") == 0
    assert main(["sweep-report", str(foreign)]) == 2
    assert (foreign / "thesis.tex").read_text() == "x"
    assert main(["sweep", str(cfg_path), "--address", "auto"]) == 2


def test_ray_backend_without_ray_names_the_extra(synth_data, write_config, tmp_path, capsys, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as where it is not installed
    cfg_path = write_config(synth_data)
    assert main(["sweep", str(cfg_path), "--store", str(tmp_path / "s"), "--backend", "ray"]) == 2
    err = capsys.readouterr().err
    assert "pip install 'myovox[ray]'" in err and "Traceback" not in err
