"""The generated int8 C library on Arm Cortex-M: cross-compiled, run under QEMU, measured.

The library of :mod:`myovox.export.c_codegen` is compiled with Arm's GNU toolchain
(``arm-none-eabi-gcc``, Thumb-2, hard float, the same strict C99 flags as on the host) for a
Cortex-M4F (QEMU board ``mps2-an386``) and a Cortex-M7 (``mps2-an500``), linked with a minimal
start-up (vector table, FPU enabled, ``.data``/``.bss`` set up) and a harness that holds test
windows in flash, and run under ``qemu-system-arm`` with semihosting. What comes back is measured:

* **bit-exactness**: the harness prints the int8 logits and class of every test window (and its int8
  quantisation of float windows); they are compared with :mod:`myovox.export.reference` bit for bit;
* **flash and RAM** of the library: the sizes of the input sections of ``myovox_model.o`` (and of the
  libc/libgcc members it pulls in) in the linker map; the whole ELF (harness and test windows
  included) from ``arm-none-eabi-size``;
* **stack**: the harness paints the free stack with a pattern before the inferences and finds the
  lowest word they changed (the high-water mark below the call); GCC's ``-fstack-usage`` and
  ``-fcallgraph-info`` give the static worst path beside it;
* **instructions per inference**: QEMU runs with ``-icount shift=0``, so every executed instruction
  advances the virtual clock by exactly 1 ns; the harness reads the board's 25 MHz timer (CMSDK APB
  timer 0) before and after the loop of n inferences. A tick is 40 instructions: the mean per inference
  is exact to 40 / n instructions (plus the loop's own few instructions per call).

Instructions are not cycles: a Cortex-M4 issues one instruction per cycle at best (loads, multiplies
with 64-bit results, branches and flash wait states take more), a Cortex-M7 can dual-issue. Cycle,
latency and energy figures derived from these counts are estimates (:mod:`myovox.export.budget`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

import numpy as np

from .._checks import check_int, check_option
from .._logging import logger
from ..exceptions import ExportError
from .reference import QuantizedModel

__all__ = [
    "TARGETS",
    "ArmToolchain",
    "CortexTarget",
    "arm_toolchain_missing",
    "build_elf",
    "cortex_m_markdown",
    "find_arm_toolchain",
    "measure_cortex_m",
    "run_elf",
    "write_mcu_project",
]


@dataclass(frozen=True)
class CortexTarget:
    """A Cortex-M core, its GCC options and the QEMU board that runs it."""

    name: str
    cpu: str
    fpu: str
    machine: str
    description: str

    def cflags(self) -> tuple[str, ...]:
        return ("-mthumb", f"-mcpu={self.cpu}", f"-mfpu={self.fpu}", "-mfloat-abi=hard")


#: the targets the harness runs on (QEMU MPS2 boards: code at 0x0, data at 0x20000000, 4 MiB each)
TARGETS: dict[str, CortexTarget] = {
    "cortex-m4": CortexTarget("cortex-m4", "cortex-m4", "fpv4-sp-d16", "mps2-an386", "Cortex-M4F (QEMU mps2-an386)"),
    "cortex-m7": CortexTarget("cortex-m7", "cortex-m7", "fpv5-d16", "mps2-an500", "Cortex-M7 (QEMU mps2-an500)"),
}
#: strict C99, as on the host (c_codegen.CFLAGS, without its -O2); the optimisation level is chosen per build
ARM_CFLAGS = ("-std=c99", "-Wall", "-Wextra", "-Werror", "-ffunction-sections", "-fdata-sections")
#: instructions per tick of the 25 MHz board timer with ``-icount shift=0`` (1 ns per instruction)
INSTRUCTIONS_PER_TICK = 40
#: the library's two builds: as shipped (SIMD path where the core has the DSP extension) and plain C99
KERNELS: dict[str, tuple[str, ...]] = {"arm-dsp": (), "portable": ("-DMYOVOX_PORTABLE",)}
_STACK_BYTES = 32768
_INSTALL = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"


@dataclass(frozen=True)
class ArmToolchain:
    """Paths of the cross compiler, ``size`` and QEMU."""

    gcc: str
    size: str
    qemu: str

    def versions(self) -> dict[str, str]:
        """First line of ``--version`` of the compiler and of QEMU."""
        out = {}
        for key, exe in (("gcc", self.gcc), ("qemu", self.qemu)):
            res = subprocess.run([exe, "--version"], capture_output=True, text=True)
            out[key] = (res.stdout.strip().splitlines() or ["?"])[0]
        return out


def _which(env: str, name: str) -> str | None:
    cand = os.environ.get(env) or name
    return shutil.which(cand)


def arm_toolchain_missing() -> str | None:
    """Why the Cortex-M build cannot run here (a one-line reason), or ``None`` when it can.

    ``$MYOVOX_ARM_GCC`` and ``$MYOVOX_QEMU_ARM`` override ``arm-none-eabi-gcc`` and ``qemu-system-arm``.
    """
    gcc = _which("MYOVOX_ARM_GCC", "arm-none-eabi-gcc")
    if gcc is None:
        return f"arm-none-eabi-gcc not found (install: {_INSTALL})"
    if shutil.which(_size_for(gcc)) is None:
        return f"{_size_for(gcc)} not found (install: {_INSTALL})"
    spec = subprocess.run([gcc, "-print-file-name=nano.specs"], capture_output=True, text=True).stdout.strip()
    if not os.path.isabs(spec):
        return "newlib for arm-none-eabi not found (install: apt-get install libnewlib-arm-none-eabi)"
    qemu = _which("MYOVOX_QEMU_ARM", "qemu-system-arm")
    if qemu is None:
        return f"qemu-system-arm not found (install: {_INSTALL})"
    try:
        boards = subprocess.run([qemu, "-M", "help"], capture_output=True, text=True, timeout=60).stdout
    except (OSError, subprocess.TimeoutExpired) as err:
        return f"{qemu} does not run ({err})"
    lacking = [t.machine for t in TARGETS.values() if t.machine not in boards]
    if lacking:
        return f"{qemu} lacks the board(s) {', '.join(lacking)} (QEMU 6.0 or newer has them)"
    return None


def _size_for(gcc: str) -> str:
    base = os.path.basename(gcc)
    return os.path.join(os.path.dirname(gcc), base[: -len("gcc")] + "size") if base.endswith("gcc") else "size"


def find_arm_toolchain() -> ArmToolchain:
    """The cross toolchain and QEMU, or :class:`~myovox.exceptions.ExportError` saying what is missing."""
    why = arm_toolchain_missing()
    if why is not None:
        raise ExportError(f"Cannot build for Cortex-M: {why}.")
    gcc = _which("MYOVOX_ARM_GCC", "arm-none-eabi-gcc")
    qemu = _which("MYOVOX_QEMU_ARM", "qemu-system-arm")
    size = shutil.which(_size_for(gcc or ""))
    if gcc is None or qemu is None or size is None:  # checked above; a tool removed in between
        raise ExportError(f"Cannot build for Cortex-M: the toolchain changed while it was looked up ({_INSTALL}).")
    return ArmToolchain(gcc=gcc, size=size, qemu=qemu)


def _target(name: str) -> CortexTarget:
    check_option("target", name, list(TARGETS))
    return TARGETS[name]


def _template(name: str) -> str:
    return resources.files("myovox.export").joinpath("templates").joinpath(name).read_text(encoding="utf-8")


def _c_rows(values: np.ndarray, fmt: Any, per_line: int = 20) -> str:
    rows = []
    for v in values:
        flat = [fmt(x) for x in np.asarray(v).ravel()]
        lines = [", ".join(flat[i : i + per_line]) for i in range(0, len(flat), per_line)]
        rows.append("    {\n        " + ",\n        ".join(lines) + "\n    }")
    return ",\n".join(rows)


def _c_float(x: float) -> str:
    x = float(np.float32(x))
    if np.isnan(x):
        return "NAN"
    if np.isinf(x):
        return "INFINITY" if x > 0 else "-INFINITY"
    return f"{x.hex()}f"  # hexadecimal: exact for every float32


def write_mcu_project(
    c_dir: str | os.PathLike,
    out_dir: str | os.PathLike,
    Xq: np.ndarray,
    X_float: np.ndarray | None = None,
    *,
    stack_bytes: int = _STACK_BYTES,
) -> Path:
    """Write the Cortex-M harness project: the generated library, start-up, linker script, test windows.

    Parameters
    ----------
    c_dir : path
        Folder with ``myovox_model.c`` and ``myovox_model.h`` (:func:`~myovox.export.c_codegen.generate_c`).
    out_dir : path
        Project folder (created; existing files of the same names are replaced).
    Xq : int8 array (n, n_channels, n_times)
        Windows the harness runs through ``myovox_infer`` (stored in flash).
    X_float : float32 array (m, n_channels, n_times) | None
        Windows the harness quantises with ``myovox_quantize_input``.
    stack_bytes : int
        Stack reserved by the linker script (painted and measured by the harness).
    """
    c_dir, out = Path(c_dir), Path(out_dir)
    for f in ("myovox_model.c", "myovox_model.h"):
        if not (c_dir / f).exists():
            raise ExportError(f"{c_dir / f} is missing; run generate_c first.")
    Xq = np.asarray(Xq)
    if Xq.dtype != np.int8 or Xq.ndim != 3 or len(Xq) < 1:
        raise ExportError(f"Xq must be int8 windows (n >= 1, n_channels, n_times), got {Xq.dtype} {Xq.shape}.")
    stack_bytes = check_int("stack_bytes", stack_bytes, minimum=1024)
    out.mkdir(parents=True, exist_ok=True)
    for f in ("myovox_model.c", "myovox_model.h"):
        shutil.copyfile(c_dir / f, out / f)
    Xf = np.zeros((0, *Xq.shape[1:]), np.float32) if X_float is None else np.asarray(X_float, np.float32)
    if Xf.shape[1:] != Xq.shape[1:]:
        raise ExportError(f"X_float windows are {Xf.shape[1:]}, the int8 windows {Xq.shape[1:]}.")
    size = int(np.prod(Xq.shape[1:]))
    header = (
        "/* Test windows of the myovox MCU harness (generated by myovox). */\n"
        "#ifndef MYOVOX_VECTORS_H\n#define MYOVOX_VECTORS_H\n\n#include <stdint.h>\n\n"
        '#include "myovox_model.h"\n\n'
        f"#define MV_N_INFER {len(Xq)}\n#define MV_N_QUANT {len(Xf)}\n"
        f"#if MYOVOX_INPUT_SIZE != {size}\n#error the test windows do not match the input size of the model\n#endif\n\n"
        "extern const int8_t mv_infer_in[MV_N_INFER][MYOVOX_INPUT_SIZE];\n"
        "#if MV_N_QUANT > 0\nextern const float mv_quant_in[MV_N_QUANT][MYOVOX_INPUT_SIZE];\n#endif\n\n"
        "#endif /* MYOVOX_VECTORS_H */\n"
    )
    body = [
        "/* Test windows of the myovox MCU harness (generated by myovox). */",
        "#include <math.h>\n",
        '#include "myovox_vectors.h"\n',
        "const int8_t mv_infer_in[MV_N_INFER][MYOVOX_INPUT_SIZE] = {",
        _c_rows(Xq, lambda v: str(int(v)), per_line=32),
        "};",
    ]
    if len(Xf):
        body += ["\nconst float mv_quant_in[MV_N_QUANT][MYOVOX_INPUT_SIZE] = {", _c_rows(Xf, _c_float, 8), "};"]
    (out / "myovox_vectors.h").write_text(header, encoding="utf-8")
    (out / "myovox_vectors.c").write_text("\n".join(body) + "\n", encoding="utf-8")
    (out / "mcu_support.h").write_text(_template("mcu_support.h.in"), encoding="utf-8")
    (out / "mcu_startup.c").write_text(_template("mcu_startup.c.in"), encoding="utf-8")
    (out / "mcu_harness.c").write_text(_template("mcu_harness.c.in"), encoding="utf-8")
    ld = Template(_template("mcu.ld.in")).substitute(stack_bytes=stack_bytes)
    (out / "mcu.ld").write_text(ld, encoding="utf-8")
    return out


def _run(cmd: Sequence[str], what: str, timeout: float, cwd: Path | None = None) -> subprocess.CompletedProcess:
    try:
        res = subprocess.run(list(cmd), capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired:
        raise ExportError(f"{what} did not finish within {timeout:g} s ({' '.join(cmd)}).") from None
    if res.returncode != 0:
        err = (res.stderr.strip() or res.stdout.strip())[-2000:]
        raise ExportError(f"{what} failed (exit {res.returncode}; {' '.join(cmd)}): {err}")
    return res


def build_elf(
    project: str | os.PathLike,
    target: str = "cortex-m4",
    opt: str = "-O2",
    kernels: str = "arm-dsp",
    *,
    toolchain: ArmToolchain | None = None,
    extra_flags: Iterable[str] = (),
    timeout: float = 300.0,
) -> dict[str, Path]:
    """Cross-compile the project of :func:`write_mcu_project` into ``build-<target><opt>-<kernels>/app.elf``.

    Every source gets :data:`ARM_CFLAGS` (strict C99, warnings are errors), the target's CPU and
    hard-float options, ``opt`` and ``extra_flags``; the library also ``-fstack-usage`` and
    ``-fcallgraph-info=su``. Linked with newlib-nano (``memset``/``memcpy`` if the compiler calls them)
    and libgcc, without start files, with ``--gc-sections`` and a map file.

    ``kernels``: ``"arm-dsp"`` builds the library as shipped (its SIMD path on cores with the DSP
    extension, as the Cortex-M4 and M7 have), ``"portable"`` defines ``MYOVOX_PORTABLE`` (plain C99).

    Returns
    -------
    dict
        ``elf``, ``map``, ``su`` (stack usage of the library), ``ci`` (its call graph), ``dir``.
    """
    tc = toolchain or find_arm_toolchain()
    tgt = _target(target)
    check_option("opt", opt, ["-O0", "-O1", "-O2", "-O3", "-Os", "-Oz"])
    check_option("kernels", kernels, list(KERNELS))
    project = Path(project)
    bdir = project / f"build-{tgt.name}{opt}-{kernels}"
    bdir.mkdir(parents=True, exist_ok=True)
    flags = [*ARM_CFLAGS, *tgt.cflags(), opt, *KERNELS[kernels], *extra_flags]
    objs = []
    # the library first: libc/libgcc members are then attributed to it in the map's archive list
    for src in ("myovox_model.c", "mcu_harness.c", "mcu_startup.c", "myovox_vectors.c"):
        obj = bdir / (Path(src).stem + ".o")
        if src == "myovox_model.c":
            own = ["-fstack-usage", "-fcallgraph-info=su"]
        else:  # start-up and harness call no memset/memcpy of their own: every libc member is the library's
            own = ["-fno-tree-loop-distribute-patterns"]
        cmd = [tc.gcc, *flags, *own, "-I", str(project), "-c", str(project / src), "-o", str(obj)]
        _run(cmd, f"Compiling {src} for {tgt.name} ({opt})", timeout, cwd=bdir)
        objs.append(obj)
    elf, mapf = bdir / "app.elf", bdir / "app.map"
    link = [tc.gcc, *flags, "-nostartfiles", "--specs=nano.specs", "--specs=nosys.specs", "-T", str(project / "mcu.ld")]
    link += ["-Wl,--gc-sections", f"-Wl,-Map={mapf}", "-o", str(elf), *map(str, objs), "-lgcc"]
    _run(link, f"Linking for {tgt.name} ({opt})", timeout, cwd=bdir)
    return {"elf": elf, "map": mapf, "su": bdir / "myovox_model.su", "ci": bdir / "myovox_model.ci", "dir": bdir}


_LINE = re.compile(r"^L (\d+) (\d+) ([0-9a-f]*)$")
_QUANT = re.compile(r"^Q (\d+) ([0-9a-f]*)$")


def run_elf(
    elf: str | os.PathLike,
    target: str = "cortex-m4",
    *,
    toolchain: ArmToolchain | None = None,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Run the harness ELF under QEMU (``-icount shift=0``, semihosting); returns what it printed, parsed.

    Returns
    -------
    dict
        ``logits`` (int8 (n, n_classes)), ``classes`` (n,), ``quantized`` (int8 (m, input_size)),
        ``ticks``, ``n_infer``, ``stack_used``, ``stack_size``, ``errors`` (class/logit mismatches in
        the harness), ``first_label`` and ``first_name`` (``myovox_class_label``/``_name`` of window 0's
        class), ``instructions_per_inference``.
    """
    tc = toolchain or find_arm_toolchain()
    tgt = _target(target)
    cmd = [
        tc.qemu, "-M", tgt.machine, "-nographic", "-monitor", "none", "-serial", "none",
        "-semihosting-config", "enable=on,target=native", "-icount", "shift=0", "-kernel", str(elf),
    ]  # fmt: skip
    res = _run(cmd, f"QEMU ({tgt.machine})", timeout)
    logits: dict[int, tuple[int, bytes]] = {}
    quant: dict[int, bytes] = {}
    info: dict[str, int] = {}
    names: dict[str, str] = {}
    for line in (res.stdout + "\n" + res.stderr).splitlines():
        line = line.strip()
        if m := _LINE.match(line):
            logits[int(m[1])] = (int(m[2]), bytes.fromhex(m[3]))
        elif m := _QUANT.match(line):
            quant[int(m[1])] = bytes.fromhex(m[2])
        elif line[:2] in ("T ", "S ", "E "):
            parts = line.split()
            if parts[0] == "T":
                info["ticks"], info["n_infer"] = int(parts[1]), int(parts[2])
            elif parts[0] == "S":
                info["stack_used"], info["stack_size"] = int(parts[1]), int(parts[2])
            else:
                info["errors"] = int(parts[1])
        elif line.startswith("N "):
            parts = line.split(" ", 2)
            info["first_label"] = int(parts[1])
            names["first_name"] = parts[2] if len(parts) > 2 else ""
        elif line == "FAULT":
            raise ExportError(f"The harness faulted on {tgt.machine} ({elf}).")
    if not logits or {"ticks", "n_infer", "stack_used", "errors"} - set(info):
        raise ExportError(f"QEMU ({tgt.machine}) printed no complete harness output: {res.stdout[-500:]!r}")
    n = len(logits)
    order = sorted(logits)
    L = np.frombuffer(b"".join(logits[i][1] for i in order), dtype=np.int8).reshape(n, -1)
    Q = (
        np.frombuffer(b"".join(quant[i] for i in sorted(quant)), dtype=np.int8).reshape(len(quant), -1)
        if quant
        else np.zeros((0, 0), np.int8)
    )
    return {
        "logits": L,
        "classes": np.array([logits[i][0] for i in order]),
        "quantized": Q,
        **info,
        **names,
        "instructions_per_inference": info["ticks"] * INSTRUCTIONS_PER_TICK / max(info["n_infer"], 1),
    }


def _archive_members(text: str, obj: str) -> set[str]:
    """Archive members (``lib.a(member.o)``) pulled in, directly or through each other, by ``obj``."""
    start = text.find("Archive member included")
    if start < 0:
        return set()
    end = min(i for i in (text.find("\nDiscarded input sections", start), text.find("\nMemory Configuration", start))
              if i >= 0)  # fmt: skip
    by: dict[str, str] = {}
    member = None
    for line in text[start:end].splitlines()[1:]:
        if not line.strip():
            continue
        if not line[0].isspace():
            member = line.strip()
        elif member is not None:
            ref = line.strip()
            by[member] = ref[: ref.rfind(" (")] if ref.endswith(")") and " (" in ref else ref
            member = None
    ours = {m for m, ref in by.items() if ref.endswith(obj)}
    grew = True
    while grew:
        new = {m for m, ref in by.items() if ref in ours} - ours
        ours |= new
        grew = bool(new)
    return ours


_OUT_SECTION = re.compile(r"^(\.[\w.]+)(?:\s+0x[0-9a-f]+\s+0x[0-9a-f]+.*)?$")
_IN_SECTION = re.compile(r"^ (\.[\w.]+|COMMON)?\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)\s+(\S.*)$")


def map_sizes(map_path: str | os.PathLike, obj: str = "myovox_model.o") -> dict[str, int]:
    """Bytes of ``obj``'s input sections (and of the libc/libgcc members it pulled in) in a GNU ld map.

    Returns ``code``, ``rodata``, ``data`` (initialised: in flash and in RAM), ``bss``, ``flash``
    (code + rodata + data) and ``ram`` (data + bss).
    """
    text = Path(map_path).read_text(encoding="utf-8", errors="replace")
    members = _archive_members(text, obj)
    start = text.find("Linker script and memory map")
    if start < 0:
        raise ExportError(f"{map_path} is not a GNU ld map file.")
    sizes = {"code": 0, "rodata": 0, "data": 0, "bss": 0}
    out_sec = ""
    pending = ""
    for line in text[start:].splitlines():
        if m := _OUT_SECTION.match(line):
            out_sec, pending = m[1], ""
            continue
        if line.startswith(" .") and len(line.split()) == 1:  # a long input section name: numbers follow
            pending = line.strip()
            continue
        m = _IN_SECTION.match(line)
        if m is None:
            if line.strip() and not line.startswith("                "):
                pending = ""
            continue
        name = m[1] or pending
        pending = ""
        if not name:
            continue
        src = m[4].strip()
        if not (src.endswith(obj) or src in members):
            continue
        size = int(m[3], 16)
        if out_sec == ".text":
            sizes["rodata" if name.startswith(".rodata") else "code"] += size
        elif out_sec == ".data":
            sizes["data"] += size
        elif out_sec == ".bss":
            sizes["bss"] += size
        elif out_sec == ".ARM.exidx":
            sizes["code"] += size
    sizes["flash"] = sizes["code"] + sizes["rodata"] + sizes["data"]
    sizes["ram"] = sizes["data"] + sizes["bss"]
    return sizes


def elf_sizes(elf: str | os.PathLike, toolchain: ArmToolchain | None = None) -> dict[str, int]:
    """``arm-none-eabi-size`` (Berkeley format) of a whole ELF: ``text``, ``data``, ``bss``."""
    tc = toolchain or find_arm_toolchain()
    res = _run([tc.size, "-B", str(elf)], "arm-none-eabi-size", 60)
    fields = res.stdout.strip().splitlines()[-1].split()
    return {"text": int(fields[0]), "data": int(fields[1]), "bss": int(fields[2])}


_CI_NODE = re.compile(r'node: \{ title: "([^"]+)" label: "([^"]*)"')
_CI_EDGE = re.compile(r'edge: \{ sourcename: "([^"]+)" targetname: "([^"]+)"')


def static_stack(ci_path: str | os.PathLike, root: str = "myovox_infer") -> dict[str, Any]:
    """Worst-case stack of ``root`` from GCC's ``-fcallgraph-info=su`` graph (frames summed along the
    deepest call path); functions outside the file (libc) count 0 and are listed in ``external``."""
    text = Path(ci_path).read_text(encoding="utf-8")
    frame: dict[str, int | None] = {}
    for title, label in _CI_NODE.findall(text):
        m = re.search(r"(\d+) bytes \((\w+)", label)
        frame[title] = int(m[1]) if m else None
    calls: dict[str, set[str]] = {}
    for a, b in _CI_EDGE.findall(text):
        calls.setdefault(a, set()).add(b)
    if root not in frame:
        raise ExportError(f"{root} is not in the call graph {ci_path}.")
    external: set[str] = set()

    def depth(fn: str, seen: tuple[str, ...]) -> int:
        if fn in seen:
            raise ExportError(f"Recursion through {fn} in {ci_path}: no static stack bound.")
        own = frame.get(fn)
        if own is None:
            external.add(fn)
            own = 0
        return own + max((depth(c, (*seen, fn)) for c in calls.get(fn, ())), default=0)

    return {"bytes": depth(root, ()), "external": sorted(external)}


def measure_cortex_m(
    qmodel: QuantizedModel,
    Xq: np.ndarray,
    *,
    X_float: np.ndarray | None = None,
    targets: Iterable[str] = ("cortex-m4", "cortex-m7"),
    opts: Iterable[str] = ("-O2",),
    kernels: Iterable[str] = ("arm-dsp",),
    c_dir: str | os.PathLike | None = None,
    work_dir: str | os.PathLike | None = None,
    toolchain: ArmToolchain | None = None,
    timeout: float = 600.0,
) -> list[dict[str, Any]]:
    """Build and run the library on each Cortex-M target, optimisation level and kernel build; compare, measure.

    Parameters
    ----------
    qmodel : QuantizedModel
    Xq : int8 array (n, n_channels, n_times)
        Test windows run through ``myovox_infer`` on the target; its logits must equal
        ``qmodel.forward_int8(Xq)`` bit for bit (and its class the first largest logit).
    X_float : float array (m, n_channels, n_times) | None
        Windows quantised on the target (``myovox_quantize_input``, hard-float arithmetic), compared
        with ``qmodel.quantize_input``.
    targets : names in :data:`TARGETS`
    opts : GCC optimisation levels (``-O2``, ``-Os``, ...)
    kernels : names in :data:`KERNELS` (``"arm-dsp"``: as shipped; ``"portable"``: plain C99)
    c_dir : path | None
        The generated library (:func:`~myovox.export.c_codegen.generate_c`); generated when ``None``.
    work_dir : path | None
        Where the project and its builds go (kept); a temporary folder when ``None``.

    Returns
    -------
    list of dict
        One row per (target, opt, kernels): ``bit_exact`` (logits and classes), ``quantize_bit_exact``,
        ``flash_bytes`` and ``ram_bytes`` of the library (map file), ``stack_bytes`` (measured) and
        ``stack_bytes_static``, ``elf_bytes`` (whole harness ELF), ``instructions_per_inference``,
        ``instructions_per_mac``, ``macs`` and ``method`` (how each figure was obtained).
    """
    from .budget import count_model_macs
    from .c_codegen import generate_c

    tc = toolchain or find_arm_toolchain()
    targets, opts, kernels = list(targets), list(opts), list(kernels)
    for t in targets:
        _target(t)
    for k in kernels:
        check_option("kernels", k, list(KERNELS))
    Xq = np.asarray(Xq)
    ref = qmodel.forward_int8(Xq)
    ref_q = None if X_float is None else qmodel.quantize_input(X_float).reshape(len(X_float), -1)
    macs = count_model_macs(qmodel)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        if c_dir is None:
            c_dir = work / "c"
            generate_c(qmodel, c_dir, force=True, harness=False)
        project = write_mcu_project(c_dir, work / "mcu", Xq, X_float)
        for t in targets:
            for opt in opts:
                for k in kernels:
                    built = build_elf(project, t, opt, k, toolchain=tc, timeout=timeout)
                    out = run_elf(built["elf"], t, toolchain=tc, timeout=timeout)
                    row = _row(qmodel, t, opt, k, built, out, ref, ref_q, macs, tc)
                    if not row["bit_exact"] or row["quantize_bit_exact"] is False:
                        logger.error("Cortex-M build %s %s %s is NOT bit-exact with the reference", t, opt, k)
                    rows.append(row)
    return rows


def _row(
    qmodel: QuantizedModel,
    target: str,
    opt: str,
    kernels: str,
    built: dict[str, Path],
    out: dict[str, Any],
    ref: np.ndarray,
    ref_q: np.ndarray | None,
    macs: int,
    tc: ArmToolchain,
) -> dict[str, Any]:
    n = len(ref)
    same_shape = out["logits"].shape == ref.shape
    differing = int(np.sum(np.any(out["logits"] != ref, axis=1))) if same_shape else n
    classes_ok = out["classes"].shape == (n,) and bool(np.array_equal(out["classes"], np.argmax(ref, axis=1)))
    q_ok = None
    if ref_q is not None:
        q_ok = out["quantized"].shape == ref_q.shape and bool(np.array_equal(out["quantized"], ref_q))
    lib = map_sizes(built["map"])
    st = static_stack(built["ci"])
    ipi = float(out["instructions_per_inference"])
    tgt = TARGETS[target]
    return {
        "target": target,
        "board": tgt.description,
        "opt": opt,
        "kernels": kernels,
        "cflags": " ".join([*ARM_CFLAGS, *tgt.cflags(), opt, *KERNELS[kernels]]),
        "input_shape": list(qmodel.input_shape),
        "n_windows": n,
        "bit_exact": same_shape and differing == 0 and classes_ok and out["errors"] == 0,
        "n_windows_differing": differing,
        "quantize_bit_exact": q_ok,
        "n_quantize_windows": 0 if ref_q is None else len(ref_q),
        "flash_bytes": {"code": lib["code"], "rodata": lib["rodata"], "data": lib["data"], "total": lib["flash"]},
        "ram_bytes": {"data": lib["data"], "bss": lib["bss"], "static": lib["ram"]},
        "stack_bytes": int(out["stack_used"]),
        "stack_bytes_static": int(st["bytes"]),
        "stack_static_external": st["external"],
        "elf_bytes": elf_sizes(built["elf"], tc),
        "instructions_per_inference": ipi,
        "macs": macs,
        "instructions_per_mac": ipi / macs if macs else None,
        "method": {
            "bit_exact": f"measured: {n} windows run under QEMU, int8 logits and class equal to the reference",
            "flash_ram": "measured: input sections of myovox_model.o and of the libc/libgcc members it pulls in, "
            "from the linker map (.text/.rodata/.data: flash; .data/.bss: RAM)",
            "stack": "measured: painted-stack high-water mark below the call of myovox_infer; static worst path "
            "from GCC -fcallgraph-info beside it",
            "instructions": f"measured: QEMU -icount shift=0, the board's 25 MHz timer around {n} inferences "
            f"(a tick is {INSTRUCTIONS_PER_TICK} instructions: exact to {INSTRUCTIONS_PER_TICK / n:g} per inference)",
        },
    }


def _target_name(target: str) -> str:
    return TARGETS[target].description.split(" (")[0]


def cortex_m_markdown(rows: Iterable[dict[str, Any]], *, shape_column: bool = False) -> str:
    """The Markdown table of :func:`measure_cortex_m` rows (flash, RAM, stack, instructions, bit-exact)."""
    head = ["target", "opt", "kernels", "flash (B)", "RAM: static + stack (B)", "stack: measured / static (B)"]
    head += ["instructions / inference", "instructions / MAC", "bit-exact"]
    align = ["---", "---", "---", "---:", "---:", "---:", "---:", "---:", "---"]
    if shape_column:
        head, align = ["input", *head], ["---", *align]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join(align) + "|"]
    for r in rows:
        exact = "yes" if r["bit_exact"] and r.get("quantize_bit_exact") is not False else "**NO**"
        ram = r["ram_bytes"]["static"] + r["stack_bytes"]
        cells = [
            _target_name(r["target"]),
            f"`{r['opt']}`",
            r.get("kernels", "arm-dsp"),
            f"{r['flash_bytes']['total']:,}",
            f"{ram:,} ({r['ram_bytes']['static']:,} + {r['stack_bytes']:,})",
            f"{r['stack_bytes']:,} / {r['stack_bytes_static']:,}",
            f"{r['instructions_per_inference']:,.0f}",
            f"{r['instructions_per_mac']:.2f}" if r["instructions_per_mac"] else "-",
            f"{exact} ({r['n_windows']} windows)",
        ]
        if shape_column:
            cells.insert(0, " x ".join(map(str, r["input_shape"])))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
