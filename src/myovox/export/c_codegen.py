"""Generate a C99 library (``myovox_model.h/.c``) from a :class:`QuantizedModel`.

Weights live in ``const`` arrays (flash), activations in two statically sized ping-pong
buffers (no ``malloc``), and the integer arithmetic is that of :mod:`myovox.export.reference`,
bit for bit. A host harness (``myovox_harness.c``) and a sidecar ``model.json`` come with it.

Two sets of kernels are generated: compact row-at-a-time ones (microcontrollers; an Arm DSP path where the
core has it) and, for host CPUs, fast ones (``templates/myovox_fast.c.inc``: int16-pair polyphase layout,
one blocked matrix product per convolution, SSE2 / AVX2 / AVX-512 paths and plain C), chosen by ``#if``.
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


#: outputs per block of the fast kernels (MV_MR) and the widest vector of positions (AVX-512: 16 int32)
_FAST_MR, _FAST_MAX_L = 4, 16


def _ceil(a: int, b: int) -> int:
    return -(-a // b)


def _fast_conv(op: Any, p: str, src: str, dst: str, shape: tuple[int, ...], layout: tuple[int, int]) -> dict:
    """The fast kernel's plan for one convolution (``mv_fconv`` in ``myovox_fast.c.inc``): the int16 weight
    pairs, the offset table, the call and the sizes of its scratch and output."""
    o, c, kh, kw = op.weight.shape
    _, h, w = shape
    ph_, pw_ = op.padding
    q, pk = op.pool
    mode = 1 if (c == 1 and kw >= 2) else 0  # pairs of columns of a one-channel input, else pairs of channels
    kwe = kw + (kw % 2) if mode else kw
    hp, wpp = h + 2 * ph_, w + 2 * pw_ + (kwe - kw)
    hc, wc = h + 2 * ph_ - kh + 1, w + 2 * pw_ - kw + 1
    ho, wo = hc // q, wc // pk
    hq, up = _ceil(hp, q), _ceil(wpp, pk)
    ps = hq * up
    n = ho * up
    ocs = _ceil(max(n, 1), _FAST_MAX_L) * _FAST_MAX_L
    n_pairs = 1 if mode else _ceil(c, 2)
    taps: list[tuple[int, int, int]] = []  # (pair, kernel row, kernel column of the pair's first element)
    if mode:
        taps = [(0, i, j) for i in range(kh) for j in range(0, kwe, 2)]
    else:
        taps = [(pp, i, j) for pp in range(n_pairs) for i in range(kh) for j in range(kw)]
    t_len = len(taps)
    if t_len * 2 * 255 * 127 >= 2**31:
        raise ExportError(f"{op.name}: {t_len} tap pairs overflow the fast kernels' int32 partial sums.")
    offs = np.empty((q * pk, t_len), dtype=np.int64)
    for a in range(q):
        for k in range(pk):
            for ti, (pp, i, j) in enumerate(taps):
                plane = (pp * q + (a + i) % q) * pk + (k + j) % pk
                offs[a * pk + k, ti] = plane * ps + ((a + i) // q) * up + (k + j) // pk
    o_pad = _ceil(o, _FAST_MR) * _FAST_MR
    wt = op.weight.astype(np.int16)
    w2 = np.zeros((o_pad // _FAST_MR, t_len, _FAST_MR, 2), dtype=np.int16)
    for ti, (pp, i, j) in enumerate(taps):
        for s_ in range(2):
            if mode:
                if j + s_ < kw:
                    w2[:, ti, :, s_] = np.pad(wt[:, 0, i, j + s_], (0, o_pad - o)).reshape(-1, _FAST_MR)
            elif 2 * pp + s_ < c:
                w2[:, ti, :, s_] = np.pad(wt[:, 2 * pp + s_, i, j], (0, o_pad - o)).reshape(-1, _FAST_MR)
    lo = op.out_zp if op.relu else -128
    ics, irs = layout
    call = (
        f"    mv_fconv({src}, {c}, {h}, {w}, {ics}, {irs}, {dst}, {ocs}, {o}, {n}, {hp}, {wpp}, {ph_}, {pw_}, "
        f"{q}, {pk}, {hq}, {up}, {mode}, {p}_W2, {p}_OFF, {t_len}, {p}_B, {p}_M, {p}_S, {op.in_zp}, "
        f"{op.out_zp}, {lo});"
    )
    consts = [_c_array("int16_t", f"{p}_W2", w2), _c_array("int32_t", f"{p}_OFF", offs)]
    x2_len = 2 * max(n_pairs * q * pk * ps, int(offs.max()) + ocs + _FAST_MAX_L)
    return dict(
        call=call,
        consts=consts,
        x2_len=x2_len,
        row_len=2 * (wpp + 2),
        out_bytes=o * ocs,
        layout=(ocs, up),
        shape=(o, ho, wo),
    )


def _fast_plan(qmodel: QuantizedModel) -> dict:
    """Body, constants and buffer sizes of the fast kernels (host CPUs; ``MYOVOX_FAST`` in the template)."""
    from .fold import op_output_shape
    from .reference import _FloatView

    bufs = ("myovox_buf_a", "myovox_buf_b")
    src = "in"
    shape: tuple[int, ...] = (1, *qmodel.input_shape)
    layout = (shape[1] * shape[2], shape[2])  # channel stride, row stride
    body: list[str] = ["    (void)mv_conv;", "    (void)mv_compact;"]
    consts: list[str] = []
    x2_len, arena, row_len = 2, 1, 4
    used_fast = False
    for i, op in enumerate(qmodel.ops):
        dst = bufs[i % 2]
        if op.kind == "conv":
            plan = _fast_conv(op, f"L{i}", src, dst, shape, layout)
            body.append(f"    /* {op.name or op.kind}: {shape} -> {plan['shape']}, rows of {plan['layout'][1]} */")
            body.append(plan["call"])
            consts += plan["consts"]
            x2_len = max(x2_len, plan["x2_len"])
            row_len = max(row_len, plan["row_len"])
            arena = max(arena, plan["out_bytes"])
            shape, layout = plan["shape"], plan["layout"]
            used_fast = True
        else:
            if len(shape) == 3 and layout != (shape[1] * shape[2], shape[2]):
                body.append(f"    mv_compact({src}, {shape[0]}, {shape[1]}, {shape[2]}, {layout[0]}, {layout[1]});")
            new_shape = op_output_shape(_FloatView(op), shape)
            body.append(f"    /* {op.name or op.kind}: {shape} -> {new_shape} */")
            body.append(_compact_call(op, f"L{i}", src, dst, shape))
            shape = new_shape
            layout = (int(np.prod(shape[1:])), shape[2] if len(shape) == 3 else 1)
            arena = max(arena, int(np.prod(shape)))
        src = dst
    if len(shape) == 3 and layout != (shape[1] * shape[2], shape[2]):
        body.append(f"    mv_compact({src}, {shape[0]}, {shape[1]}, {shape[2]}, {layout[0]}, {layout[1]});")
    if not used_fast:
        body.append("    (void)mv_fconv;")
    used = {op.kind for op in qmodel.ops}
    body += [f"    (void){fn};" for kind, fn in _KERNELS.items() if kind not in used and kind != "conv"]
    return dict(
        body="\n".join(body), consts="\n\n".join(consts), x2_len=x2_len, arena=arena, logits=src, row_len=row_len
    )


def _compact_call(op: Any, p: str, src: str, dst: str, shape: tuple[int, ...]) -> str:
    """The call of a compact kernel (avgpool, gap, dense) on a dense input."""
    if op.kind == "avgpool":
        return (
            f"    mv_avgpool({src}, {shape[0]}, {shape[1]}, {shape[2]}, {dst}, {op.kernel[0]}, "
            f"{op.kernel[1]}, {op.mult}, {op.shift}, {op.zp});"
        )
    if op.kind == "gap":
        return (
            f"    mv_gap({src}, {shape[0]}, {int(np.prod(shape[1:]))}, {dst}, {op.mult}, "
            f"{op.shift}, {op.in_zp}, {op.out_zp});"
        )
    o, n = op.weight.shape
    lo = op.out_zp if op.relu else -128
    return f"    mv_dense({src}, {n}, {dst}, {o}, {p}_W, {p}_B, {p}_M, {p}_S, {op.in_zp}, {op.out_zp}, {lo});"


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
                "#if !MYOVOX_FAST\n" + _c_array("int8_t", f"{p}_W", op.weight) + "\n#endif",
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
        else:
            if op.kind == "dense":
                consts += [
                    _c_array("int8_t", f"{p}_W", op.weight),
                    _c_array("int32_t", f"{p}_B", op.bias),
                    _c_array("int32_t", f"{p}_M", op.mult),
                    _c_array("int8_t", f"{p}_S", op.shift),
                ]
            body.append(_compact_call(op, p, src, dst, shape))
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
    fast = _fast_plan(qmodel)
    fast_kernels = (
        f"/* the zero-point-shifted input of the current convolution, in int16 pairs (polyphase planes) */\n"
        f"static int16_t mv_x2[{fast['x2_len']}];\n"
        f"/* two padded input rows */\nstatic int16_t mv_row[{fast['row_len']}];\n\n"
        + resources.files("myovox.export").joinpath("templates").joinpath("myovox_fast.c.inc").read_text("utf-8")
    )
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
        body_fast=fast["body"],
        logits_fast=fast["logits"],
        fast_constants=fast["consts"],
        fast_kernels=fast_kernels,
        fast_arena_bytes=max(arena, fast["arena"]),
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
        # host builds (the fast kernels): two larger activation buffers and the int16 scratch
        c_fast_ram_bytes=2 * max(arena, fast["arena"]) + 2 * (fast["x2_len"] + fast["row_len"]),
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
