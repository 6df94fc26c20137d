"""MCU budget of an int8 model: size, memory, compute, measured host latency and labelled estimates.

Everything under ``estimates`` is a scaling of published or assumed figures, not a measurement:
GAP9 numbers scale the reference's 2.47 ms and 63.9 uJ for 2.14 M MACs linearly with MACs; Arm
Cortex-M numbers assume a CMSIS-NN-like int8 kernel cost in cycles per MAC at a given clock.
"""

from __future__ import annotations

import os
import tempfile
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_positive
from ..exceptions import ExportError
from .reference import QuantizedModel

#: the reference measurement on GAP9 (SilentWear): 14 x 400 input
GAP9_REF = {"macs": 2.14e6, "latency_ms": 2.47, "energy_uj": 63.9}
#: Arm Cortex-M assumptions (int8 CMSIS-NN-class kernels; real numbers depend on the layer shapes)
CORTEX_M = {
    "Cortex-M4F @ 168 MHz": {"clock_mhz": 168.0, "cycles_per_mac": 1.0, "active_mw": 40.0},
    "Cortex-M7 @ 480 MHz": {"clock_mhz": 480.0, "cycles_per_mac": 0.5, "active_mw": 230.0},
}


def _macs(qmodel: QuantizedModel) -> int:
    from .fold import FoldedNet, count_macs
    from .reference import _FloatView

    return count_macs(FoldedNet([_FloatView(op) for op in qmodel.ops], qmodel.input_shape, qmodel.n_classes))


def budget_report(
    qmodel: QuantizedModel,
    *,
    c_dir: str | os.PathLike | None = None,
    measure_host: bool = True,
    reps: int = 200,
    inference_rate_hz: float = 2.0,
    system_power_mw: float = 20.5,
    battery_mah: float = 150.0,
    battery_v: float = 3.7,
    float_params: int | None = None,
) -> dict:
    """Budget of one int8 model on a microcontroller.

    Parameters
    ----------
    qmodel : QuantizedModel
    c_dir : path | None
        Folder with the generated C library and harness (:func:`generate_c`); when ``None`` and
        ``measure_host``, it is generated in a temporary folder.
    measure_host : bool
        Compile the C library (gcc -O2) and time single-window inferences on this machine.
    reps : int
        Inferences timed (the median is reported).
    inference_rate_hz : float
        Classifications per second for the battery estimate (a 0.5 s hop -> 2 Hz).
    system_power_mw : float
        Power of acquisition + radio without inference (reference whole-system figure: 20.5 mW).
    battery_mah, battery_v : float
        Battery capacity and nominal voltage (reference: 150 mAh; Li-Po 3.7 V).
    float_params : int | None
        Parameters of the float network before BN folding, when known.

    Returns
    -------
    dict
        ``parameters``, ``flash_bytes`` (dict), ``ram_bytes`` (dict), ``macs``, ``host`` (measured
        latency or ``None``), ``estimates`` (GAP9, Cortex-M, battery; each with its assumptions).
    """
    rate = check_positive("inference_rate_hz", inference_rate_hz, "rate in Hz")
    p_sys = check_positive("system_power_mw", system_power_mw, "power in mW", allow_zero=True)
    cap = check_positive("battery_mah", battery_mah, "capacity in mAh")
    volt = check_positive("battery_v", battery_v, "voltage in V")
    sizes = qmodel.activation_sizes()
    arena = max(sizes[1:])
    pairs = max(a + b for a, b in pairwise(sizes))
    macs = _macs(qmodel)
    report: dict[str, Any] = {
        "input_shape": list(qmodel.input_shape),
        "n_classes": qmodel.n_classes,
        "parameters": qmodel.n_parameters(),
        "parameters_float_unfolded": float_params,
        "flash_bytes": qmodel.flash_bytes(),
        "ram_bytes": {
            "input_int8": sizes[0],
            "activation_buffers": 2 * arena,
            "activation_buffers_note": f"two ping-pong buffers of {arena} B (as generated)",
            "exact_peak_in_plus_out": pairs,
            "activation_sizes": sizes,
        },
        "macs": macs,
        "host": None,
    }
    if measure_host:
        from .c_codegen import compile_harness, generate_c, time_harness

        with tempfile.TemporaryDirectory() as tmp:
            d = Path(c_dir) if c_dir is not None else Path(tmp) / "c"
            if c_dir is None:
                generate_c(qmodel, d)
            exe = compile_harness(d, exe=Path(tmp) / "harness", extra_flags=("-O3",))
            rng = np.random.default_rng(0)
            xq = rng.integers(-100, 100, size=int(np.prod(qmodel.input_shape)), dtype=np.int8)
            t = time_harness(exe, xq, reps=reps)
        report["host"] = {
            "latency_ms_median": t["median_s"] * 1e3,
            "latency_ms_min": t["min_s"] * 1e3,
            "reps": reps,
            "what": "measured: compiled C (gcc -std=c99 -O3), one window, this CPU, one thread",
            "macs_per_s": macs / t["median_s"] if t["median_s"] > 0 else None,
        }
    f = macs / GAP9_REF["macs"]
    gap9: dict[str, Any] = {
        "latency_ms": GAP9_REF["latency_ms"] * f,
        "energy_uj": GAP9_REF["energy_uj"] * f,
        "assumption": f"ESTIMATE: reference GAP9 figures ({GAP9_REF['latency_ms']} ms, "
        f"{GAP9_REF['energy_uj']} uJ for {GAP9_REF['macs'] / 1e6:.2f} M MACs) scaled by MACs",
    }
    cortex: dict[str, dict[str, Any]] = {}
    for name, a in CORTEX_M.items():
        lat_ms = macs * a["cycles_per_mac"] / (a["clock_mhz"] * 1e6) * 1e3
        cortex[name] = {
            "latency_ms": lat_ms,
            "energy_uj": lat_ms * a["active_mw"],
            "assumption": f"ESTIMATE: {a['cycles_per_mac']} cycle/MAC (CMSIS-NN int8 class), "
            f"{a['clock_mhz']:.0f} MHz, {a['active_mw']:.0f} mW active; "
            "ignores memory stalls and layer overheads",
        }
    battery_mwh = cap * volt
    p_inf_mw = gap9["energy_uj"] * rate * 1e-3
    battery = {
        "inference_rate_hz": rate,
        "inference_power_mw": p_inf_mw,
        "system_power_mw": p_sys,
        "battery_mwh": battery_mwh,
        "life_h": battery_mwh / (p_sys + p_inf_mw) if (p_sys + p_inf_mw) > 0 else float("inf"),
        "duty_cycle_gap9": gap9["latency_ms"] * 1e-3 * rate,
        "assumption": f"ESTIMATE: {cap:g} mAh x {volt:g} V; system {p_sys:g} mW (acquisition + BLE) plus "
        f"GAP9 inference energy x {rate:g} Hz; no regulator losses or ageing",
    }
    report["estimates"] = {"gap9": gap9, "cortex_m": cortex, "battery": battery}
    return report


def budget_markdown(report: dict) -> str:
    """A Markdown rendering of :func:`budget_report`'s dict."""
    if "estimates" not in report:
        raise ExportError("Not a budget report (no 'estimates').")
    fl, ram, est = report["flash_bytes"], report["ram_bytes"], report["estimates"]
    c, t = report["input_shape"]
    lines = [
        f"# MCU budget (input {c} x {t}, {report['n_classes']} classes)",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| parameters (BN folded) | {report['parameters']:,} |",
    ]
    if report.get("parameters_float_unfolded"):
        lines.append(f"| parameters (float, unfolded) | {report['parameters_float_unfolded']:,} |")
    lines += [
        f"| flash: int8 weights / int32 biases / requant params | {fl['weights']:,} / {fl['biases']:,} / "
        f"{fl['requant']:,} B |",
        f"| flash total (constants) | {fl['total']:,} B |",
        f"| RAM: activation buffers | {ram['activation_buffers']:,} B ({ram['activation_buffers_note']}) |",
        f"| RAM: exact peak (input + output of one layer) | {ram['exact_peak_in_plus_out']:,} B |",
        f"| RAM: int8 input window (caller's) | {ram['input_int8']:,} B |",
        f"| MACs per inference | {report['macs']:,} ({report['macs'] / 1e6:.2f} M) |",
    ]
    if report.get("host"):
        h = report["host"]
        lines.append(
            f"| host latency, compiled C (measured, median of {h['reps']}) | {h['latency_ms_median']:.3f} ms |"
        )
    g = est["gap9"]
    lines += [
        "",
        "## Estimates (not measurements)",
        "",
        "| target | latency | energy / inference | assumption |",
        "|---|---|---|---|",
        f"| GAP9 | {g['latency_ms']:.2f} ms | {g['energy_uj']:.1f} uJ | {g['assumption']} |",
    ]
    for name, e in est["cortex_m"].items():
        lines.append(f"| {name} | {e['latency_ms']:.2f} ms | {e['energy_uj']:.0f} uJ | {e['assumption']} |")
    b = est["battery"]
    lines += [
        "",
        f"Battery (ESTIMATE): {b['life_h']:.1f} h at {b['inference_rate_hz']:g} inferences/s "
        f"({b['system_power_mw']:g} mW system + {b['inference_power_mw']:.3f} mW inference, "
        f"{b['battery_mwh']:.0f} mWh). {b['assumption']}.",
        "",
    ]
    return "\n".join(lines)
