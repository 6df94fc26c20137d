"""MCU budget of an int8 model: what is exact, what is measured, what is estimated, and on what assumptions.

Every figure of :func:`budget_report` carries one of three labels (``report["figures"]``):

* **exact**: counted from the int8 model (parameters, constants, activation buffers, MACs);
* **measured**: host latency of the compiled C library on this machine; flash, RAM, stack and
  executed instructions per inference of the library cross-compiled for Arm Cortex-M4F/M7 and run
  under QEMU, with its bit-exactness against the NumPy reference (:mod:`myovox.export.cortex_m`;
  when ``arm-none-eabi-gcc`` and ``qemu-system-arm`` are installed);
* **estimated**: cycles, latency and energy on a Cortex-M (measured instructions times an assumed
  cycles-per-instruction, at an assumed clock and active power; without the measurement,
  CMSIS-NN's published cycles per MAC), GAP9 latency and energy (the reference's 2.47 ms and
  63.9 uJ for 2.14 M MACs, scaled by MACs), battery life (battery energy over system plus inference
  power). Each estimate states its assumptions.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from .._checks import check_positive
from .._logging import logger
from ..exceptions import ExportError
from .reference import QuantizedModel

#: the reference measurement on GAP9 (SilentWear): 14 x 400 input
GAP9_REF = {"macs": 2.14e6, "latency_ms": 2.47, "energy_uj": 63.9}
#: CMSIS-NN's published rate for small int8 CNNs on a Cortex-M7 (issue 15), the estimate without a measurement
CMSIS_NN_CYCLES_PER_MAC = 1.7
#: Arm Cortex-M assumptions of the estimates (cycles = instructions x cpi; energy = latency x active power)
CORTEX_M: dict[str, dict[str, Any]] = {
    "cortex-m4": {"label": "Cortex-M4F @ 168 MHz", "clock_mhz": 168.0, "cpi": 1.0, "active_mw": 40.0},
    "cortex-m7": {"label": "Cortex-M7 @ 480 MHz", "clock_mhz": 480.0, "cpi": 1.0, "active_mw": 230.0},
}
_CPI_NOTE = {
    "cortex-m4": "single issue; loads and taken branches cost extra cycles, zero-wait-state memory assumed",
    "cortex-m7": "dual issue can go below 1, cache and flash wait states above",
}


def count_model_macs(qmodel: QuantizedModel) -> int:
    """Multiply-accumulates of one inference of the int8 network (convolutions, padding included, and dense)."""
    from .fold import FoldedNet, count_macs
    from .reference import _FloatView

    return count_macs(FoldedNet([_FloatView(op) for op in qmodel.ops], qmodel.input_shape, qmodel.n_classes))


def resolve_cortex_targets(cortex_m: str | Sequence[str] | None) -> tuple[list[str], str | None]:
    """The targets to measure and, when none is measured, why not."""
    from .cortex_m import TARGETS, arm_toolchain_missing

    if cortex_m is None or cortex_m == "none" or (not isinstance(cortex_m, str) and len(cortex_m) == 0):
        return [], "not requested"
    if cortex_m == "auto":
        why = arm_toolchain_missing()
        return ([], why) if why else (list(TARGETS), None)
    names = [cortex_m] if isinstance(cortex_m, str) else list(cortex_m)
    from .._checks import check_option

    for n in names:
        check_option("cortex_m", n, [*TARGETS, "auto", "none"])
    if {"auto", "none"} & set(names):
        raise ExportError("cortex_m: 'auto' and 'none' stand alone; give them without target names.")
    return names, None


def _test_windows(qmodel: QuantizedModel, windows: Any, n: int = 4) -> tuple[np.ndarray, np.ndarray | None]:
    """int8 test windows for the Cortex-M run (and float windows for its quantiser check)."""
    if windows is not None:
        X = np.asarray(windows, dtype=np.float32)[:n]
        if len(X):
            return qmodel.quantize_input(X), X[:1]
    rng = np.random.default_rng(0)
    return rng.integers(-128, 128, size=(n, *qmodel.input_shape)).astype(np.int8), None


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
    cortex_m: str | Sequence[str] | None = "auto",
    windows: Any = None,
    cortex_m_opt: str = "-O2",
) -> dict:
    """Budget of one int8 model on a microcontroller, every figure labelled exact, measured or estimated.

    Parameters
    ----------
    qmodel : QuantizedModel
    c_dir : path | None
        Folder with the generated C library (:func:`generate_c`); generated in a temporary folder
        when ``None`` and something is to be compiled.
    measure_host : bool
        Compile the C library (gcc -O3) and time single-window inferences on this machine.
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
    cortex_m : "auto" | "none" | None | target name(s)
        Cortex-M targets to cross-compile for and run under QEMU (:mod:`myovox.export.cortex_m`):
        ``"auto"`` measures ``cortex-m4`` and ``cortex-m7`` when the toolchain is installed and says
        why not otherwise; names measure those (an ``ExportError`` without the toolchain).
    windows : float array (n, n_channels, n_times) | None
        Windows run on the Cortex-M targets (the first 4; the first also through its input
        quantiser), compared bit for bit with the reference; random int8 windows when ``None``.
    cortex_m_opt : str
        GCC optimisation level of the Cortex-M builds.

    Returns
    -------
    dict
        ``parameters``, ``flash_bytes`` (dict), ``ram_bytes`` (dict), ``macs``, ``host`` (measured
        latency or ``None``), ``cortex_m`` (``status``, ``reason``, ``rows``: the measurements),
        ``estimates`` (Cortex-M, GAP9, battery; each with its ``assumption``) and ``figures``: every
        figure as ``{"quantity", "value", "unit", "kind": "exact" | "measured" | "estimated", "how"}``.
    """
    rate = check_positive("inference_rate_hz", inference_rate_hz, "rate in Hz")
    p_sys = check_positive("system_power_mw", system_power_mw, "power in mW", allow_zero=True)
    cap = check_positive("battery_mah", battery_mah, "capacity in mAh")
    volt = check_positive("battery_v", battery_v, "voltage in V")
    targets, why_not = resolve_cortex_targets(cortex_m)
    sizes = qmodel.activation_sizes()
    arena = max(sizes[1:])
    pairs = max(a + b for a, b in pairwise(sizes))
    macs = count_model_macs(qmodel)
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
        "cortex_m": {"status": "not measured", "reason": why_not, "rows": []},
    }
    if measure_host or targets:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(c_dir) if c_dir is not None else Path(tmp) / "c"
            if c_dir is None:
                from .c_codegen import generate_c

                generate_c(qmodel, d)
            if measure_host:
                report["host"] = _measure_host(qmodel, d, Path(tmp), reps, macs)
            if targets:
                report["cortex_m"] = _measure_cortex(qmodel, d, Path(tmp), targets, windows, cortex_m_opt)
    report["estimates"] = _estimates(report, macs, rate, p_sys, cap, volt)
    report["figures"] = _figures(report)
    return report


def _measure_host(qmodel: QuantizedModel, c_dir: Path, tmp: Path, reps: int, macs: int) -> dict[str, Any]:
    from .c_codegen import compile_harness, time_harness

    exe = compile_harness(c_dir, exe=tmp / "harness", extra_flags=("-O3",))
    rng = np.random.default_rng(0)
    xq = rng.integers(-100, 100, size=int(np.prod(qmodel.input_shape)), dtype=np.int8)
    t = time_harness(exe, xq, reps=reps)
    return {
        "latency_ms_median": t["median_s"] * 1e3,
        "latency_ms_min": t["min_s"] * 1e3,
        "reps": reps,
        "what": "measured: compiled C (gcc -std=c99 -O3), one window, this CPU, one thread",
        "macs_per_s": macs / t["median_s"] if t["median_s"] > 0 else None,
    }


def _measure_cortex(
    qmodel: QuantizedModel, c_dir: Path, tmp: Path, targets: list[str], windows: Any, opt: str
) -> dict[str, Any]:
    from .cortex_m import find_arm_toolchain, measure_cortex_m

    tc = find_arm_toolchain()
    Xq, Xf = _test_windows(qmodel, windows)
    rows = measure_cortex_m(qmodel, Xq, X_float=Xf, targets=targets, opts=(opt,), c_dir=c_dir, work_dir=tmp / "mcu")
    if not all(r["bit_exact"] and r["quantize_bit_exact"] is not False for r in rows):
        logger.error("The Cortex-M build is not bit-exact with the NumPy reference; see budget.json (cortex_m.rows).")
    return {"status": "measured", "reason": None, "rows": rows, "toolchain": tc.versions()}


def _estimates(report: dict, macs: int, rate: float, p_sys: float, cap: float, volt: float) -> dict[str, Any]:
    f = macs / GAP9_REF["macs"]
    gap9: dict[str, Any] = {
        "latency_ms": GAP9_REF["latency_ms"] * f,
        "energy_uj": GAP9_REF["energy_uj"] * f,
        "assumption": f"ESTIMATE: reference GAP9 figures ({GAP9_REF['latency_ms']} ms, "
        f"{GAP9_REF['energy_uj']} uJ for {GAP9_REF['macs'] / 1e6:.2f} M MACs) scaled by MACs",
    }
    measured = {r["target"]: r for r in report["cortex_m"]["rows"]}
    cortex: dict[str, dict[str, Any]] = {}
    for name, a in CORTEX_M.items():
        row = measured.get(name)
        if row is not None:
            cycles = row["instructions_per_inference"] * a["cpi"]
            basis = (
                f"MEASURED {row['instructions_per_inference']:,.0f} instructions ({row['opt']}, QEMU) x "
                f"{a['cpi']:g} cycle per instruction ({_CPI_NOTE[name]})"
            )
        else:
            cycles = macs * CMSIS_NN_CYCLES_PER_MAC
            basis = f"{CMSIS_NN_CYCLES_PER_MAC} cycles/MAC (CMSIS-NN's published Cortex-M7 rate; no measurement here)"
        lat_ms = cycles / (a["clock_mhz"] * 1e6) * 1e3
        energy = lat_ms * a["active_mw"]
        cortex[a["label"]] = {
            "target": name,
            "cycles": cycles,
            "latency_ms": lat_ms,
            "energy_uj": energy,
            "battery_life_h": cap * volt / (p_sys + energy * rate * 1e-3),
            "from_measurement": row is not None,
            "assumption": f"ESTIMATE: {basis}; {a['clock_mhz']:.0f} MHz, {a['active_mw']:.0f} mW active",
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
    return {"gap9": gap9, "cortex_m": cortex, "battery": battery}


def _figures(report: dict) -> list[dict[str, Any]]:
    """Every figure of the report with its label (exact / measured / estimated) and how it was obtained."""
    fl, ram, est = report["flash_bytes"], report["ram_bytes"], report["estimates"]
    out: list[dict[str, Any]] = []

    def add(quantity: str, value: Any, unit: str, kind: str, how: str) -> None:
        out.append({"quantity": quantity, "value": value, "unit": unit, "kind": kind, "how": how})

    counted = "counted from the int8 model"
    add("parameters (BN folded)", report["parameters"], "", "exact", counted)
    if report.get("parameters_float_unfolded"):
        add("parameters (float, unfolded)", report["parameters_float_unfolded"], "", "exact", "the torch module")
    add("flash: constants (weights, biases, requantisation)", fl["total"], "B", "exact", counted)
    add("RAM: activation buffers", ram["activation_buffers"], "B", "exact", ram["activation_buffers_note"])
    add("RAM: int8 input window (the caller's)", ram["input_int8"], "B", "exact", counted)
    add("MACs per inference", report["macs"], "", "exact", "convolutions (padding included) and dense layers")
    if report.get("host"):
        h = report["host"]
        add("host latency, compiled C", h["latency_ms_median"], "ms", "measured", f"median of {h['reps']}; {h['what']}")
    cm = report["cortex_m"]
    for r in cm["rows"]:
        t = f"{r['board']}, {r['opt']}"
        m = r["method"]
        add(f"{t}: bit-exact with the reference", bool(r["bit_exact"]), "", "measured", m["bit_exact"])
        add(f"{t}: flash (library)", r["flash_bytes"]["total"], "B", "measured", m["flash_ram"])
        add(f"{t}: RAM (library, static)", r["ram_bytes"]["static"], "B", "measured", m["flash_ram"])
        add(f"{t}: stack of myovox_infer", r["stack_bytes"], "B", "measured", m["stack"])
        add(f"{t}: instructions per inference", r["instructions_per_inference"], "", "measured", m["instructions"])
        add(f"{t}: instructions per MAC", r["instructions_per_mac"], "", "measured", "instructions / MACs")
    if not cm["rows"]:
        add("Cortex-M flash, RAM, stack, instructions", None, "", "measured", f"not measured: {cm['reason']}")
    b = est["battery"]
    for label, e in est["cortex_m"].items():
        add(f"{label}: cycles per inference", e["cycles"], "", "estimated", e["assumption"])
        add(f"{label}: latency", e["latency_ms"], "ms", "estimated", e["assumption"])
        add(f"{label}: energy per inference", e["energy_uj"], "uJ", "estimated", e["assumption"])
        add(
            f"{label}: battery life at {b['inference_rate_hz']:g} inferences/s",
            e["battery_life_h"],
            "h",
            "estimated",
            f"{e['assumption']}; battery and system power as for GAP9",
        )
    g = est["gap9"]
    add("GAP9: latency", g["latency_ms"], "ms", "estimated", g["assumption"])
    add("GAP9: energy per inference", g["energy_uj"], "uJ", "estimated", g["assumption"])
    add(
        f"GAP9: battery life at {b['inference_rate_hz']:g} inferences/s", b["life_h"], "h", "estimated", b["assumption"]
    )
    return out


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "**NO**"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1000):
        s = f"{value:,.0f}"
    elif isinstance(value, float):
        s = f"{value:,.3g}" if abs(value) < 100 else f"{value:,.0f}"
    else:
        s = str(value)
    return f"{s} {unit}".strip()


def budget_markdown(report: dict) -> str:
    """A Markdown rendering of :func:`budget_report`'s dict: exact, measured and estimated figures apart."""
    if "estimates" not in report:
        raise ExportError("Not a budget report (no 'estimates').")
    figures = report.get("figures") or _figures(report)
    est, cm = report["estimates"], report.get("cortex_m") or {"rows": [], "reason": "not requested"}
    c, t = report["input_shape"]
    lines = [
        f"# MCU budget (input {c} x {t}, {report['n_classes']} classes)",
        "",
        "Each figure is **exact** (counted from the int8 model), **measured** (on this machine, or on the Arm",
        "Cortex-M instruction set under QEMU) or **estimated** (from measurements or published figures, on the",
        "stated assumptions).",
        "",
        "## Exact (from the model)",
        "",
        "| quantity | value | how |",
        "|---|---|---|",
    ]
    lines += [
        f"| {f['quantity']} | {_fmt(f['value'], f['unit'])} | {f['how']} |" for f in figures if f["kind"] == "exact"
    ]
    lines += ["", "## Measured", ""]
    h = report.get("host")
    if h:
        lines.append(
            f"- Host latency of the compiled C library: {h['latency_ms_median']:.3f} ms "
            f"(median of {h['reps']}; {h['what']})."
        )
    else:
        lines.append("- Host latency: not measured.")
    if cm["rows"]:
        from .cortex_m import cortex_m_markdown

        m = cm["rows"][0]["method"]
        lines += [
            "- Arm Cortex-M, the library cross-compiled with arm-none-eabi-gcc (hard float, strict C99) and run "
            f"under QEMU ({cm.get('toolchain', {}).get('gcc', '?')}; {cm.get('toolchain', {}).get('qemu', '?')}):",
            "",
            cortex_m_markdown(cm["rows"]),
            f"  bit-exact: {m['bit_exact']}; flash and RAM: {m['flash_ram']}; stack: {m['stack']}; "
            f"instructions: {m['instructions']}.",
        ]
    else:
        lines.append(f"- Arm Cortex-M flash, RAM, stack and instructions: not measured ({cm['reason']}).")
    lines += [
        "",
        "## Estimates (not measurements)",
        "",
        "| target | cycles | latency | energy / inference | battery life | assumptions |",
        "|---|---:|---:|---:|---:|---|",
    ]
    b = est["battery"]
    for label, e in est["cortex_m"].items():
        lines.append(
            f"| {label} | {e['cycles']:,.0f} | {e['latency_ms']:.2f} ms | {e['energy_uj']:,.0f} uJ | "
            f"{e['battery_life_h']:.1f} h | {e['assumption']} |"
        )
    g = est["gap9"]
    lines += [
        f"| GAP9 | - | {g['latency_ms']:.2f} ms | {g['energy_uj']:.1f} uJ | {b['life_h']:.1f} h | {g['assumption']} |",
        "",
        f"Battery life (ESTIMATE): {b['battery_mwh']:.0f} mWh over {b['system_power_mw']:g} mW system power "
        f"(acquisition + BLE) plus each target's inference energy x {b['inference_rate_hz']:g} inferences/s; no "
        "regulator losses or ageing.",
        "",
    ]
    return "\n".join(lines)
