"""The export engine behind :func:`myovox.export.export_model`: load a saved model, quantise, write
the C library or ONNX graphs with their ``model.json`` and budget, all into a folder written whole."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._checks import check_option
from .._logging import logger
from .._outputs import check_output_folder, output_folder
from ..exceptions import ExportError, ValidationError

if TYPE_CHECKING:
    from ..models.card import ModelCard

__all__ = ["export_model", "load_for_export", "read_calibration"]


def load_for_export(model_dir: str | os.PathLike[str]) -> tuple[Any, ModelCard, Any]:
    """Load a saved model folder; returns ``(model, model card, calibration windows or None)``.

    Calibration windows are read from ``calibration.npz`` (key ``X``) or ``calibration.npy`` in
    the folder when present.
    """
    from ..models.io import load_model

    path = Path(model_dir)
    model, side = load_model(path)
    return model, side, read_calibration(path, missing_ok=True)


def read_calibration(path: str | os.PathLike, missing_ok: bool = False) -> Any:
    """Calibration windows ``(n_windows, n_channels, n_times)`` from a ``.npy`` file, a ``.npz`` file
    (array ``X``) or a folder holding ``calibration.npz`` / ``calibration.npy``.

    Parameters
    ----------
    path : path-like
    missing_ok : bool
        A folder without calibration windows gives ``None`` instead of an ``ExportError``.

    Raises
    ------
    ExportError
        The file cannot be read (damaged, pickled, not numbers) or does not hold finite
        3-dimensional windows.
    """
    import numpy as np

    path = Path(path)

    if path.is_dir():
        for name in ("calibration.npz", "calibration.npy"):
            if (path / name).is_file():
                return read_calibration(path / name)
        if missing_ok:
            return None
        raise ExportError(f"No calibration.npz/.npy in {path}.")
    try:
        if path.suffix == ".npy":
            X = np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as z:
                if "X" not in z.files:
                    raise ExportError(f"{path} has no array 'X' (found {', '.join(z.files)}).")
                X = np.array(z["X"])
        else:
            X = None
    except ExportError:
        raise
    except Exception as err:  # noqa: BLE001 - a damaged or tampered file: zip, npy header, pickle refused
        raise ExportError(f"{path} cannot be read as calibration windows ({type(err).__name__}: {err}).") from None
    if X is not None:
        if X.ndim != 3 or not np.issubdtype(X.dtype, np.number) or not np.isfinite(X).all():
            raise ExportError(
                f"{path}: calibration windows must be finite numbers shaped (n_windows, n_channels, "
                f"n_times), got {X.dtype} {X.shape}."
            )
        return X
    raise ExportError(f"Cannot read calibration windows from {path}: expected .npy, .npz or a dataset folder.")


#: what an exported artefact's model.json carries about its input (the model card's fields)
_DEPLOY_KEYS = (
    "sfreq",
    "window_s",
    "ch_names",
    "units",
    "channel_selection",
    "filter",
    "causal",
    "label_map",
    "rest_label",
    "n_times",
    "window_mode",
    "model",
)


def _meta_from_sidecar(side: Any) -> dict:
    """The input description to carry into an export, from a ModelCard (or a dict of its field names)."""
    if side is None:
        return {}
    d = side.to_dict() if hasattr(side, "to_dict") else dict(side)
    keep = {k: d[k] for k in _DEPLOY_KEYS if k in d}
    if "n_times" in keep:
        keep["n_samples"] = keep["n_times"]
    dataset = (d.get("training") or {}).get("dataset")
    if dataset is not None:
        keep["dataset"] = dataset
    return keep


def export_model(
    model: Any,
    out_dir: str | os.PathLike,
    *,
    format: str = "c",
    int8: bool | None = None,
    calibration: Any = None,
    force: bool = False,
    report: bool = False,
    sidecar: ModelCard | Mapping[str, Any] | None = None,
    method: str = "percentile",
    check: bool = True,
    cortex_m: str | Sequence[str] | None = "auto",
) -> dict:
    """Export a trained SpeechNet to a deployable artefact.

    Parameters
    ----------
    model : SpeechNetClassifier | SpeechNet | str | Path
        A fitted wrapper, a bare network, or a saved model folder (:mod:`myovox.models.io`).
    out_dir : path
        Output folder; must not exist (or be empty) unless ``force``; see :mod:`myovox._outputs`.
    format : {"c", "onnx"}
        ``"c"``: int8 C99 library (``myovox_model.h/.c``, harness, ``model.json``);
        ``"onnx"``: ``model.onnx`` (float) and, with ``int8``, ``model_int8_qdq.onnx``.
    int8 : bool | None
        Quantise (default: True for C, which is int8 only; False for ONNX).
    calibration : array (n_windows, n_channels, n_times) | path | None
        Training windows for the activation ranges (required for int8; a saved model folder may
        carry ``calibration.npz``). Also used for the parity checks.
    force : bool
        Replace a non-empty output folder that myovox wrote before (every file listed in its
        manifest); a folder holding other files is refused. The new export is built in a
        temporary sibling folder and renamed into place only when complete, so a failed export
        leaves the old one intact.
    report : bool
        Also write ``budget.json`` and ``budget.md`` (int8 only).
    sidecar : ModelCard | dict | None
        The model card (or a dict of its field names: sfreq, window_s, ch_names, filter, causal,
        label_map, ...) to carry; read from the folder when ``model`` is a path.
    method : {"percentile", "minmax"}
        Calibration range estimate.
    check : bool
        Run parity checks (folding vs torch, onnxruntime vs torch/reference).
    cortex_m : "auto" | "none" | None | target name(s)
        With ``report``: the Arm Cortex-M targets (``"cortex-m4"``, ``"cortex-m7"``) the library is
        cross-compiled for and run on under QEMU, bit-exact check and measured flash, RAM, stack and
        instructions in the budget (:mod:`myovox.export.cortex_m`); ``"auto"``: both when
        ``arm-none-eabi-gcc`` and ``qemu-system-arm`` are installed (the report says why not otherwise).

    Returns
    -------
    dict
        ``out_dir``, ``files`` (name -> path), and the check/budget results.
    """
    check_option("format", format, ["c", "onnx"])
    if int8 is None:
        int8 = format == "c"
    if format == "c" and not int8:
        raise ExportError("format='c' produces an int8 library only; drop int8=False (--int8 is implied).")
    out = Path(out_dir)
    try:  # fail before any work; the folder is written whole or not at all (myovox._outputs)
        check_output_folder(out, force=force, what="export folder")
    except ValidationError as err:
        raise ExportError(str(err)) from None
    if isinstance(model, (str, os.PathLike)):
        model, side, saved_cal = load_for_export(model)
        sidecar = {**_meta_from_sidecar(side), **_meta_from_sidecar(sidecar)}
        if calibration is None:
            calibration = saved_cal
    if isinstance(calibration, (str, os.PathLike)):
        calibration = read_calibration(Path(calibration))
    if getattr(model, "net_", None) is None and hasattr(model, "classes_") and not hasattr(model, "blocks"):
        raise ExportError(
            f"Cannot export a {type(model).__name__} as a network; use "
            "myovox.export.emlearn_rf.export_random_forest for random forests."
        )
    if int8 and calibration is None:
        raise ExportError("int8 export needs calibration windows (calibration=X or --calibration DATASET).")
    if report and not int8:
        raise ExportError("--report needs an int8 export (add --int8).")
    if report:
        from .budget import resolve_cortex_targets

        resolve_cortex_targets(cortex_m)  # refuse bad target names before any work
    meta = _meta_from_sidecar(sidecar)
    label_map = meta.get("label_map") or {}
    result: dict[str, Any] = {"out_dir": str(out), "files": {}}
    # compile_harness(out) adds myovox_harness later: a later --force may replace it as well
    later = ("myovox_harness",) if format == "c" else ()
    with output_folder(out, force=force, what="export folder", later=later) as work:
        _export_into(
            work,
            result,
            model,
            calibration,
            int8=int8,
            format=format,
            meta=meta,
            label_map=label_map,
            method=method,
            check=check,
            report=report,
            cortex_m=cortex_m,
        )
    # the files were written into the temporary folder that is now ``out``
    result["files"] = {k: str(out / Path(v).relative_to(work)) for k, v in result["files"].items()}
    logger.info("Exported %s (%s%s) to %s", type(model).__name__, format, ", int8" if int8 else "", out)
    return result


def _export_into(
    out: Path,
    result: dict[str, Any],
    model: Any,
    calibration: Any,
    *,
    int8: bool,
    format: str,
    meta: dict,
    label_map: dict,
    method: str,
    check: bool,
    report: bool,
    cortex_m: str | Sequence[str] | None = "auto",
) -> None:
    """Write the export into the (temporary) folder ``out``, filling ``result``."""
    import numpy as np

    X = None if calibration is None else np.asarray(calibration, dtype=np.float32)
    qmodel = None
    if int8:
        from .quantize import quantize_model

        names = None
        classes = getattr(model, "classes_", None)
        if label_map and classes is not None:
            names = {
                c: label_map.get(str(c), label_map.get(c, str(c)))
                for c in [k.item() if hasattr(k, "item") else k for k in classes]
            }
        qmodel = quantize_model(model, X, method=method, label_names=names, meta=meta, check=check)
    if format == "c":
        from .c_codegen import generate_c

        if qmodel is None:  # export_model makes format="c" imply int8
            raise ExportError("format='c' produces an int8 library only; the model was not quantised.")
        files = generate_c(qmodel, out, force=True)
        result["files"].update({k: str(v) for k, v in files.items()})
    else:
        from .onnx import export_onnx_float, export_onnx_qdq

        check_X = X[:64] if (check and X is not None) else None
        shape = qmodel.input_shape if qmodel is not None else (None if X is None else X.shape[1:])
        info = export_onnx_float(model, out / "model.onnx", input_shape=shape, check_inputs=check_X)
        result["files"]["onnx"] = info.pop("path")
        result["onnx_float_check"] = info
        if qmodel is not None:
            qinfo = export_onnx_qdq(qmodel, out / "model_int8_qdq.onnx", check_inputs=check_X)
            result["files"]["onnx_int8_qdq"] = qinfo.pop("path")
            result["onnx_int8_check"] = qinfo
        side = {
            "format": "myovox-onnx",
            "input": "x (batch, n_channels, n_times) float32, raw windows",
            "output": "logits (batch, n_classes)",
            **meta,
            "classes": [c.item() if hasattr(c, "item") else c for c in getattr(model, "classes_", [])],
            "checks": {k: v for k, v in result.items() if k.endswith("_check")},
        }
        if qmodel is not None:
            from .c_codegen import sidecar as _sc

            side["int8"] = {k: v for k, v in _sc(qmodel).items() if k.startswith(("input_", "output_"))}
        (out / "model.json").write_text(json.dumps(side, indent=2, default=str), encoding="utf-8")
        result["files"]["sidecar"] = str(out / "model.json")
    if report:
        if qmodel is None:
            raise ExportError("--report needs an int8 export (add --int8).")
        from .budget import budget_markdown, budget_report

        net = getattr(model, "net_", model)
        n_float = sum(p.numel() for p in net.parameters()) if hasattr(net, "parameters") else None
        rep = budget_report(
            qmodel,
            c_dir=out if format == "c" else None,
            float_params=n_float,
            cortex_m=cortex_m,
            windows=None if X is None else X[:4],
        )
        (out / "budget.json").write_text(json.dumps(rep, indent=2, default=str), encoding="utf-8")
        (out / "budget.md").write_text(budget_markdown(rep), encoding="utf-8")
        result["files"].update(budget_json=str(out / "budget.json"), budget_md=str(out / "budget.md"))
        result["budget"] = rep
    result["qmodel"] = qmodel
