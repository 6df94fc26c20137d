"""RandomForest (the reference's feature-based baseline) -> C with emlearn, with a parity check.

The generated header defines ``int32_t <name>_predict(const float *features, int32_t n)`` (majority
vote of the trees, float thresholds). Parity: predictions of the compiled C equal scikit-learn's
on the given feature rows.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._checks import require
from .._logging import logger
from ..exceptions import ExportError

_HARNESS = r"""
#include <stdio.h>
#include <stdlib.h>
#include "@HEADER@"
int main(int argc, char **argv) {
    FILE *fi; FILE *fo; float x[@NF@]; int32_t r;
    if (argc != 3) { return 2; }
    fi = fopen(argv[1], "rb"); fo = fopen(argv[2], "wb");
    if (fi == NULL || fo == NULL) { return 2; }
    while (fread(x, sizeof(float), @NF@, fi) == @NF@) {
        r = @NAME@_predict(x, @NF@);
        fwrite(&r, sizeof r, 1, fo);
    }
    fclose(fi); fclose(fo);
    return 0;
}
"""


def _unwrap_forest(model: Any) -> Any:
    """The fitted RandomForest/DecisionTree inside ``model`` (itself, a pipeline's last step, ``rf_``...)."""
    for cand in (
        model,
        getattr(model, "estimator_", None),
        getattr(model, "rf_", None),
        getattr(model, "model_", None),
    ):
        if cand is not None and (hasattr(cand, "estimators_") or type(cand).__name__.startswith("DecisionTree")):
            return cand
    steps = getattr(model, "steps", None)
    if steps:
        return _unwrap_forest(steps[-1][1])
    raise ExportError(
        f"Cannot export {type(model).__name__} with emlearn: expected a fitted RandomForest or DecisionTree classifier."
    )


def _import_emlearn() -> ModuleType:
    """Import emlearn without its side effect: ``emlearn.bayes`` calls ``numpy.seterr(all="raise")``
    at import, which would turn every later float underflow in the process into an exception."""
    state = np.geterr()
    try:
        return require("emlearn", "random-forest C export")
    finally:
        np.seterr(**state)


def export_random_forest(model: Any, path: str | os.PathLike[str], *, name: str = "myovox_rf") -> dict[str, Any]:
    """Write a C header for a fitted random forest with emlearn.

    Parameters
    ----------
    model : RandomForestClassifier | DecisionTreeClassifier (or a pipeline ending in one, without
        preprocessing steps: those are not exported)
    path : path of the ``.h`` file
    name : C identifier prefix

    Returns
    -------
    dict
        ``path``, ``name``, ``n_features``, ``classes`` (the C function returns the index into it).
    """
    emlearn = _import_emlearn()
    rf = _unwrap_forest(model)
    steps = getattr(model, "steps", None)
    if steps and len(steps) > 1:
        raise ExportError(
            f"Pipeline steps {[s[0] for s in steps[:-1]]} are not exported; export the forest "
            "alone and compute its features on the device."
        )
    if not name.isidentifier():
        raise ExportError(f"Invalid value for 'name': expected a C identifier, got {name!r}.")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    cmodel = emlearn.convert(rf, method="inline", dtype="float")
    cmodel.save(file=str(out), name=name)
    logger.info("Wrote random forest (%d trees) to %s", len(getattr(rf, "estimators_", [rf])), out)
    return {
        "path": str(out),
        "name": name,
        "n_features": int(rf.n_features_in_),
        "classes": np.asarray(rf.classes_).tolist(),
    }


def check_random_forest_parity(
    model: Any, header: str | os.PathLike[str], X: ArrayLike, *, name: str = "myovox_rf", cc: str | None = None
) -> dict[str, Any]:
    """Compile the emlearn header with a harness and compare its predictions with scikit-learn's.

    Returns
    -------
    dict
        ``agreement`` (fraction of equal predicted labels), ``n``, ``c_pred`` (labels from C).
    """
    from .c_codegen import find_compiler

    rf = _unwrap_forest(model)
    X32 = np.ascontiguousarray(X, dtype=np.float32)
    if X32.ndim != 2 or X32.shape[1] != rf.n_features_in_:
        raise ExportError(f"Invalid shape for 'X': expected (n, {rf.n_features_in_}), got {X32.shape}.")
    header_path = Path(header).resolve()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        src = tmp / "rf_harness.c"
        src.write_text(
            _HARNESS.replace("@HEADER@", str(header_path)).replace("@NF@", str(X32.shape[1])).replace("@NAME@", name)
        )
        exe = tmp / "rf_harness"
        res = subprocess.run(
            [find_compiler(cc), "-std=c99", "-O2", "-o", str(exe), str(src)], capture_output=True, text=True
        )
        if res.returncode != 0:
            raise ExportError(f"Compiling the emlearn forest failed: {res.stderr.strip()[:2000]}")
        X32.tofile(tmp / "x.f32")
        res = subprocess.run([str(exe), str(tmp / "x.f32"), str(tmp / "y.i32")], capture_output=True, text=True)
        if res.returncode != 0:
            raise ExportError(f"The emlearn harness failed: {res.stderr.strip()}")
        idx = np.fromfile(tmp / "y.i32", dtype=np.int32)
    c_pred = np.asarray(rf.classes_)[idx]
    ref = rf.predict(X32)
    return {"agreement": float(np.mean(c_pred == ref)), "n": int(len(X32)), "c_pred": c_pred}
