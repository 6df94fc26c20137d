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
from typing import Any

import numpy as np

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


def _import_emlearn():
    """Import emlearn without its side effect: ``emlearn.bayes`` calls ``numpy.seterr(all="raise")``
    at import, which would turn every later float underflow in the process into an exception."""
    state = np.geterr()
    try:
        return require("emlearn", "random-forest C export")
    finally:
        np.seterr(**state)


def export_random_forest(model: Any, path: str | os.PathLike, *, name: str = "myovox_rf") -> dict:
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
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cmodel = emlearn.convert(rf, method="inline", dtype="float")
    cmodel.save(file=str(path), name=name)
    logger.info("Wrote random forest (%d trees) to %s", len(getattr(rf, "estimators_", [rf])), path)
    return {
        "path": str(path),
        "name": name,
        "n_features": int(rf.n_features_in_),
        "classes": np.asarray(rf.classes_).tolist(),
    }


def check_random_forest_parity(
    model: Any, header: str | os.PathLike, X: Any, *, name: str = "myovox_rf", cc: str | None = None
) -> dict:
    """Compile the emlearn header with a harness and compare its predictions with scikit-learn's.

    Returns
    -------
    dict
        ``agreement`` (fraction of equal predicted labels), ``n``, ``c_pred`` (labels from C).
    """
    from .c_codegen import find_compiler

    rf = _unwrap_forest(model)
    X = np.ascontiguousarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != rf.n_features_in_:
        raise ExportError(f"Invalid shape for 'X': expected (n, {rf.n_features_in_}), got {X.shape}.")
    header = Path(header).resolve()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "rf_harness.c"
        src.write_text(
            _HARNESS.replace("@HEADER@", str(header)).replace("@NF@", str(X.shape[1])).replace("@NAME@", name)
        )
        exe = tmp / "rf_harness"
        res = subprocess.run(
            [find_compiler(cc), "-std=c99", "-O2", "-o", str(exe), str(src)], capture_output=True, text=True
        )
        if res.returncode != 0:
            raise ExportError(f"Compiling the emlearn forest failed: {res.stderr.strip()[:2000]}")
        X.tofile(tmp / "x.f32")
        res = subprocess.run([str(exe), str(tmp / "x.f32"), str(tmp / "y.i32")], capture_output=True, text=True)
        if res.returncode != 0:
            raise ExportError(f"The emlearn harness failed: {res.stderr.strip()}")
        idx = np.fromfile(tmp / "y.i32", dtype=np.int32)
    c_pred = np.asarray(rf.classes_)[idx]
    ref = rf.predict(X)
    return {"agreement": float(np.mean(c_pred == ref)), "n": int(len(X)), "c_pred": c_pred}
