"""Edge deployment: BN folding, int8 quantisation, a NumPy integer reference, C99 code, ONNX,
emlearn random forests, an MCU budget and the proof on Arm Cortex-M (QEMU).

Main entry point: :func:`export_model` (in ``engine``). Submodules are imported lazily (torch, onnx and
emlearn load only when used).

=================  ==============================================================
``engine``         :func:`export_model`, :func:`load_for_export`, :func:`read_calibration`
``fold``           :func:`fold_model` -> :class:`FoldedNet` (float NumPy ops)
``quantize``       :func:`quantize_model` -> :class:`QuantizedModel`
``reference``      the integer arithmetic (bit-exact with the C), :func:`compare_accuracy`
``c_codegen``      :func:`generate_c`, :func:`compile_harness`, :func:`run_harness`
``onnx``           :func:`export_onnx_float`, :func:`export_onnx_qdq`
``emlearn_rf``     :func:`export_random_forest`, :func:`check_random_forest_parity`
``budget``         :func:`budget_report`, :func:`budget_markdown` (exact / measured / estimated figures)
``cortex_m``       :func:`measure_cortex_m`: the C library on Arm Cortex-M4F/M7 under QEMU (bit-exact, measured)
=================  ==============================================================
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .engine import export_model as export_model
    from .engine import load_for_export as load_for_export
    from .engine import read_calibration as read_calibration

_LAZY = {
    "export_model": "engine",
    "load_for_export": "engine",
    "read_calibration": "engine",
    "fold_model": "fold",
    "FoldedNet": "fold",
    "quantize_model": "quantize",
    "QuantizedModel": "reference",
    "compare_accuracy": "reference",
    "generate_c": "c_codegen",
    "compile_harness": "c_codegen",
    "run_harness": "c_codegen",
    "export_onnx_float": "onnx",
    "export_onnx_qdq": "onnx",
    "run_onnx": "onnx",
    "export_random_forest": "emlearn_rf",
    "check_random_forest_parity": "emlearn_rf",
    "budget_report": "budget",
    "budget_markdown": "budget",
    "measure_cortex_m": "cortex_m",
}

__all__ = [*_LAZY]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
