"""Generate a C99 library (``myovox_model.h/.c``) from a :class:`QuantizedModel`.

Weights live in ``const`` arrays (flash), activations in two statically sized ping-pong
buffers (no ``malloc``), and the integer arithmetic is that of :mod:`myovox.export.reference`,
bit for bit. A host harness (``myovox_harness.c``) and a sidecar ``model.json`` come with it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np

from .._logging import logger
from ..exceptions import ExportError, ValidationError
from .reference import QuantizedModel, input_inv_scales

CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-O2")
_KERNELS = {"conv": "mv_conv", "avgpool": "mv_avgpool", "gap": "mv_gap", "dense": "mv_dense"}


def _template(name: str) -> Template:
    # one name per joinpath: Traversable.joinpath takes a single child before Python 3.11
    return Template(resources.files("myovox.export").joinpath("templates").joinpath(name).read_text(encoding="utf-8"))


def _c_array(ctype: str, name: str, values: np.ndarray, per_line: int = 24) -> str:
    flat = [str(int(v)) for v in np.asarray(values).ravel()]
    lines = [", ".join(flat[i : i + per_line]) for i in range(0, len(flat), per_line)]
    body = ",\n    ".join(lines)
    return f"static const {ctype} {name}[{len(flat)}] = {{\n    {body}\n}};"


def _f32(v: float) -> str:
    """A C float literal (without the f suffix) that parses back to the same float32."""
    s = f"{float(np.float32(v)):.9e}"
    return s


def _c_string(s: str) -> str:
    return '"' + "".join(c if (c.isalnum() or c in " _-.:/+()") else f"\\{ord(c):03o}" for c in str(s)) + '"'


def sidecar(qmodel: QuantizedModel, **extra: Any) -> dict:
    """The JSON sidecar describing the exported model (preprocessing, quantisation, labels)."""
    from .._version import __version__

    names = qmodel.label_names or {}
    d = {
        "format": "myovox-int8-c",
        "myovox_version": __version__,
        "input_shape": list(qmodel.input_shape),
        "input_layout": "channel-major [channel][time], int8",
        "input_scale": float(qmodel.input_scale),
        "input_zero_point": int(qmodel.input_zero_point),
        "output_scale": float(qmodel.output_scale),
        "output_zero_point": int(qmodel.output_zero_point),
        "input_mean": None if qmodel.input_mean is None else [float(v) for v in qmodel.input_mean],
        "input_std": None if qmodel.input_std is None else [float(v) for v in qmodel.input_std],
        "classes": [c.item() if hasattr(c, "item") else c for c in qmodel.classes],
        "label_map": {str(k): str(v) for k, v in names.items()},
        "arithmetic": "myovox.export.reference: int32 accumulators, requant floor((acc*m + 2^(n-1))/2^n), "
        "int8 saturation",
        "layers": [{"name": op.name, "kind": op.kind} for op in qmodel.ops],
    }
    for key, value in (qmodel.meta or {}).items():
        d.setdefault(key, value)
    d.update(extra)
    return d


def generate_c(
    qmodel: QuantizedModel,
    out_dir: str | os.PathLike,
    *,
    name: str = "myovox_model",
    harness: bool = True,
    force: bool = False,
) -> dict[str, Path]:
    """Write ``myovox_model.h``, ``myovox_model.c``, ``model.json`` (and ``myovox_harness.c``).

    Parameters
    ----------
    qmodel : QuantizedModel
    out_dir : path
        Output folder (created; must be absent or empty unless ``force``).
    name : str
        Model name written into the file headers.
    harness : bool
        Also write the host test harness.
    force : bool
        Overwrite files in an existing, non-empty folder.

    Returns
    -------
    dict
        ``{"header", "source", "sidecar", ("harness")}`` -> path.
    """
    from .._version import __version__

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ExportError(f"Output path {out} exists and is not a folder.")
    if out.exists() and any(out.iterdir()) and not force:
        raise ExportError(f"Output folder {out} exists and is not empty; pass force=True (--force) to overwrite.")
    out.mkdir(parents=True, exist_ok=True)

    sizes = qmodel.activation_sizes()
    arena = max(sizes[1:])
    consts: list[str] = []
    body: list[str] = []
    bufs = ("myovox_buf_a", "myovox_buf_b")
    src = "in"
    shape: tuple[int, ...] = (1, *qmodel.input_shape)
    used = set()
    from .fold import op_output_shape
    from .reference import _FloatView

    for i, op in enumerate(qmodel.ops):
        dst = bufs[i % 2]
        new_shape = op_output_shape(_FloatView(op), shape)
        p = f"L{i}"
        used.add(op.kind)
        body.append(f"    /* {op.name or op.kind}: {shape} -> {new_shape} */")
        if op.kind == "conv":
            o, c, kh, kw = op.weight.shape
            consts += [
                _c_array("int8_t", f"{p}_W", op.weight),
                _c_array("int32_t", f"{p}_B", op.bias),
                _c_array("int32_t", f"{p}_M", op.mult),
                _c_array("int8_t", f"{p}_S", op.shift),
            ]
            lo = op.out_zp if op.relu else -128
            body.append(
                f"    mv_conv({src}, {c}, {shape[1]}, {shape[2]}, {dst}, {o}, {kh}, {kw}, "
                f"{op.padding[0]}, {op.padding[1]}, {op.pool[0]}, {op.pool[1]}, {p}_W, {p}_B, "
                f"{p}_M, {p}_S, {op.in_zp}, {op.out_zp}, {lo});"
            )
        elif op.kind == "avgpool":
            body.append(
                f"    mv_avgpool({src}, {shape[0]}, {shape[1]}, {shape[2]}, {dst}, {op.kernel[0]}, "
                f"{op.kernel[1]}, {op.mult}, {op.shift}, {op.zp});"
            )
        elif op.kind == "gap":
            body.append(
                f"    mv_gap({src}, {shape[0]}, {int(np.prod(shape[1:]))}, {dst}, {op.mult}, "
                f"{op.shift}, {op.in_zp}, {op.out_zp});"
            )
        else:
            o, n = op.weight.shape
            consts += [
                _c_array("int8_t", f"{p}_W", op.weight),
                _c_array("int32_t", f"{p}_B", op.bias),
                _c_array("int32_t", f"{p}_M", op.mult),
                _c_array("int8_t", f"{p}_S", op.shift),
            ]
            lo = op.out_zp if op.relu else -128
            body.append(
                f"    mv_dense({src}, {n}, {dst}, {o}, {p}_W, {p}_B, {p}_M, {p}_S, {op.in_zp}, {op.out_zp}, {lo});"
            )
        src, shape = dst, new_shape
    acc_len = 1
    pad_len = max_kw = 4  # the padded row and the widest kernel of the Arm DSP path (myovox_model.c.in)
    shape_: tuple[int, ...] = (1, *qmodel.input_shape)
    for op in qmodel.ops:
        if op.kind == "conv":
            acc_len = max(acc_len, shape_[2] + 2 * op.padding[1] - op.weight.shape[3] + 1)
            pad_len = max(pad_len, shape_[2] + 2 * op.padding[1] + 1)  # + 1: the odd output read ahead
            max_kw = max(max_kw, op.weight.shape[3])
        shape_ = op_output_shape(_FloatView(op), shape_)
    if "conv" not in used:
        body.append("    (void)mv_acc;")
    for kind, fn in _KERNELS.items():
        if kind not in used:
            body.append(f"    (void){fn};")
    names = qmodel.label_names or {}
    labels = []
    for c in qmodel.classes:
        try:
            labels.append(int(c))
        except (TypeError, ValueError):
            labels.append(len(labels))
    label_names = [names.get(int(c) if str(c).lstrip("-").isdigit() else c, str(c)) for c in qmodel.classes]
    sfreq = (qmodel.meta or {}).get("sfreq")
    fields = dict(
        name=name,
        version=__version__,
        n_channels=qmodel.input_shape[0],
        n_times=qmodel.input_shape[1],
        n_classes=qmodel.n_classes,
        sfreq=_f32(sfreq) if sfreq else "0.0",
        input_scale=_f32(qmodel.input_scale),
        input_inv=", ".join(
            _f32(v) + "f" for v in input_inv_scales(qmodel.input_shape[0], qmodel.input_scale, qmodel.input_std)
        ),
        input_mean=", ".join(
            _f32(v) + "f" for v in (np.zeros(qmodel.input_shape[0]) if qmodel.input_mean is None else qmodel.input_mean)
        ),
        input_zero_point=int(qmodel.input_zero_point),
        output_scale=_f32(qmodel.output_scale),
        output_zero_point=int(qmodel.output_zero_point),
        arena_bytes=arena,
        acc_len=acc_len,
        pad_len=pad_len,
        max_kw=max_kw,
        constants="\n\n".join(consts),
        body="\n".join(body),
        logits_buffer=src,
        labels=", ".join(map(str, labels)),
        names=", ".join(_c_string(s) for s in label_names),
    )
    paths = {"header": out / "myovox_model.h", "source": out / "myovox_model.c", "sidecar": out / "model.json"}
    paths["header"].write_text(_template("myovox_model.h.in").substitute(fields), encoding="utf-8")
    paths["source"].write_text(_template("myovox_model.c.in").substitute(fields), encoding="utf-8")
    if harness:
        paths["harness"] = out / "myovox_harness.c"
        paths["harness"].write_text(_template("myovox_harness.c.in").substitute(fields), encoding="utf-8")
    meta = sidecar(
        qmodel,
        c_arena_bytes_per_buffer=arena,
        c_activation_buffers=2,
        c_accumulator_bytes=4 * acc_len,
        c_arm_dsp_row_bytes=pad_len,  # the padded input row of the Arm DSP path (Cortex-M4/M7 builds only)
        flash_bytes=qmodel.flash_bytes(),
    )
    paths["sidecar"].write_text(json.dumps(meta, indent=2, default=_json_default), encoding="utf-8")
    logger.info("Wrote C library to %s (flash %d B, RAM 2 x %d B)", out, qmodel.flash_bytes()["total"], arena)
    return paths


def _json_default(o: Any) -> Any:
    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    return str(o)


def find_compiler(cc: str | None = None) -> str:
    """Path of a C compiler (``cc``, ``$CC``, gcc, cc, clang) or ``ExportError``."""
    for cand in ([cc] if cc else []) + [os.environ.get("CC"), "gcc", "cc", "clang"]:
        found = shutil.which(cand) if cand else None
        if found:
            return found
    raise ExportError("No C compiler found (tried $CC, gcc, cc, clang); install gcc to build the harness.")


def compile_harness(
    c_dir: str | os.PathLike,
    *,
    cc: str | None = None,
    extra_flags: tuple[str, ...] = (),
    exe: str | os.PathLike | None = None,
) -> Path:
    """Compile ``myovox_model.c`` + ``myovox_harness.c`` with strict C99 flags; returns the executable."""
    c_dir = Path(c_dir)
    for f in ("myovox_model.c", "myovox_harness.c"):
        if not (c_dir / f).exists():
            raise ExportError(f"{c_dir / f} is missing; run generate_c(..., harness=True) first.")
    exe = Path(exe) if exe else c_dir / "myovox_harness"
    cmd = [
        find_compiler(cc),
        *CFLAGS,
        *extra_flags,
        "-o",
        str(exe),
        str(c_dir / "myovox_model.c"),
        str(c_dir / "myovox_harness.c"),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise ExportError(f"C compilation failed ({' '.join(cmd)}): {res.stderr.strip()[:2000]}")
    return exe


def run_harness(exe: str | os.PathLike, Xq: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Run the compiled harness on int8 windows; returns ``(logits int8 (n, n_classes), classes (n,))``."""
    Xq = np.ascontiguousarray(Xq, dtype=np.int8)
    with tempfile.TemporaryDirectory() as tmp:
        fin, fout = Path(tmp) / "in.i8", Path(tmp) / "out.i8"
        Xq.tofile(fin)
        res = subprocess.run([str(exe), "infer", str(fin), str(fout)], capture_output=True, text=True)
        if res.returncode != 0:
            raise ExportError(f"Harness failed: {res.stderr.strip()}")
        rec = np.fromfile(fout, dtype=np.int8).reshape(-1, n_classes + 1)
    return rec[:, :n_classes], rec[:, n_classes].astype(np.int64)


def run_harness_quantize(exe: str | os.PathLike, X: np.ndarray) -> np.ndarray:
    """Quantise float windows with the compiled ``myovox_quantize_input``; returns int8 of X's shape."""
    X = np.ascontiguousarray(X, dtype=np.float32)
    with tempfile.TemporaryDirectory() as tmp:
        fin, fout = Path(tmp) / "in.f32", Path(tmp) / "out.i8"
        X.tofile(fin)
        res = subprocess.run([str(exe), "quant", str(fin), str(fout)], capture_output=True, text=True)
        if res.returncode != 0:
            raise ExportError(f"Harness failed: {res.stderr.strip()}")
        return np.fromfile(fout, dtype=np.int8).reshape(X.shape)


def time_harness(exe: str | os.PathLike, xq: np.ndarray, reps: int = 200) -> dict[str, float]:
    """Median and minimum host latency (seconds) of ``reps`` single-window inferences."""
    if reps < 1:
        raise ValidationError(f"Invalid value for 'reps': expected a positive integer, got {reps!r}.")
    xq = np.ascontiguousarray(xq, dtype=np.int8).ravel()
    with tempfile.TemporaryDirectory() as tmp:
        fin = Path(tmp) / "in.i8"
        xq.tofile(fin)
        res = subprocess.run([str(exe), "bench", str(fin), str(int(reps))], capture_output=True, text=True)
        if res.returncode != 0:
            raise ExportError(f"Harness failed: {res.stderr.strip()}")
        med, mn = (int(v) for v in res.stdout.split())
    return {"median_s": med * 1e-9, "min_s": mn * 1e-9, "reps": int(reps)}
