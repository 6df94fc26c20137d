"""The C training kernels built for other instruction sets, checked on one whole training step.

``kernels.c`` is C99 with GCC/Clang vector extensions, so it builds for any target those compilers have; this
script shows that a build for another target also computes the right thing. For each shape it draws a SpeechNet,
a batch and a gradient of the features, runs the fast path's training step in this process (``myovox_net_fwd`` +
``myovox_net_bwd`` of the library's own build, then ``myovox_net_eval`` on the parameters as they were), writes
the same inputs to a file, and runs ``benchmarks/net_step_driver.c`` (the same three calls outside Python) built
with kernels.c for

* ``native``: the library's own flags (this machine); it must give the in-process results **bit for bit**, which
  shows the driver makes the calls the library makes;
* ``x86-64-v2``: SSE4.2 without FMA, 8-lane vectors as pairs of SSE registers (the portable x86 baseline);
* ``x86-64-v3``: AVX2 + FMA, 8-lane vectors (what an AVX2-only x86 laptop builds);
* ``aarch64``: ``aarch64-linux-gnu-gcc`` for ARMv8-A (NEON; the 8-lane vectors are pairs of NEON registers), run
  under QEMU user mode (``qemu-aarch64``), two OpenMP threads.

and compares the features, the parameter gradients, the updated running statistics and the evaluation features
with the in-process ones: the largest difference relative to each array's largest magnitude, and whether they are
bitwise equal; and each build's whole output with the builds before it in the list ("same bits as"). Builds for
different vector widths sum in different orders, so they agree within float rounding, not bit for bit; two builds
of the same width may agree exactly. The QEMU run time is emulation, not a speed.

    python benchmarks/cross_arch.py [--shapes 4x200 14x700] [--batch 8] [--targets native x86-64-v2 x86-64-v3 aarch64]
                                    [--repeat R]

``--repeat R`` also times R more steps inside each x86 driver and reports the fastest: the kernels' time per step
without Python, per build, on this CPU (not under QEMU, whose speed is the emulator's).

Needs a C compiler; the aarch64 target needs ``aarch64-linux-gnu-gcc`` and ``qemu-aarch64`` (Debian:
``gcc-aarch64-linux-gnu qemu-user``), and is reported as skipped without them.
"""

# ruff: noqa: T201 (a script: it prints its table)
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

DRIVER = Path(__file__).with_name("net_step_driver.c")
_ALIGN = 64
#: slot kinds of the driver's table (net_step_driver.c)
_X, _FEATS, _GO, _FWD, _BWD, _PARAM, _GRAD = range(7)
#: the library's compile flags that concern the arithmetic (the others make a shared object)
_ARITH_FLAGS = ["-O3", "-std=c99", "-fno-math-errno", "-ffp-contract=fast", "-Wno-psabi"]
AARCH64_CC, AARCH64_QEMU, AARCH64_SYSROOT = "aarch64-linux-gnu-gcc", "qemu-aarch64", "/usr/aarch64-linux-gnu"


def _packed(arrays: list[np.ndarray]) -> tuple[bytes, list[int]]:
    """The arrays' bytes one after the other, each starting on a cache line, and their byte offsets."""
    blob, offsets = bytearray(), []
    for a in arrays:
        blob += b"\0" * (-len(blob) % _ALIGN)
        offsets.append(len(blob))
        blob += np.ascontiguousarray(a).tobytes()
    return bytes(blob), offsets


def reference(shape: tuple[int, int], batch: int, seed: int = 0) -> dict[str, Any]:
    """One training step and one evaluation pass of a random SpeechNet on the library's kernels, in this process.

    Returns the driver's input file contents (``case``) and the results: ``feats``, ``params`` (the block
    tensors' bytes after the step, as the driver writes them), ``grads`` and ``eval``.
    """
    import torch

    from myovox.models._blocks_torch import _PER_BLOCK, _block_tensors
    from myovox.models._network_c import _NetworkC, _plan, fits, network_eval
    from myovox.models.speechnet import SpeechNet

    c, t = shape
    torch.manual_seed(seed)
    net = SpeechNet(c, t, 9).train()
    with torch.no_grad():  # batch-norm parameters away from their initial 1 and 0, as after some training
        for bn in (blk[1] for blk in net.blocks):
            bn.weight.uniform_(-1.5, 1.5)
            bn.bias.normal_(0.0, 0.2)
            bn.running_mean.normal_(0.0, 0.1)
            bn.running_var.uniform_(0.5, 2.0)
    x = torch.randn(batch, c, t) * 3.0 + 0.5
    blocks = list(net.blocks)
    if not fits(blocks, x):
        raise SystemExit(f"{c}x{t}: the shape does not fit the C kernels")
    plan = _plan(batch, c, t, blocks)
    tensors, meta = _block_tensors(blocks)
    params, offsets = _packed([p.detach().numpy() for p in tensors])
    targets = [p for i in range(0, len(tensors), _PER_BLOCK) for p in tensors[i : i + 4]]
    _, grad_offsets = _packed([np.zeros(p.shape, np.float32) for p in targets])
    grad_bytes = grad_offsets[-1] + 4 * targets[-1].numel()
    with torch.no_grad():
        evaluated = network_eval(blocks, x).numpy().copy()
    xr = x.reshape(batch * c, t).contiguous()
    feats = _NetworkC.apply(xr, plan, meta, *tensors)
    go = torch.randn(feats.shape)
    feats.backward(go)
    grads, _ = _packed([p.grad.numpy() for p in targets])
    after, _ = _packed([p.detach().numpy() for p in tensors])
    kind = np.full(plan.tab_len, -1, np.int64)
    value = np.zeros(plan.tab_len, np.int64)
    kind[:4] = [_X, _FEATS, _FWD, _GO]  # slot 2 (the zeros region) is a forward region, overwritten below
    kind[plan.fwd_slots], value[plan.fwd_slots] = _FWD, plan.fwd_offsets
    kind[plan.bwd_slots], value[plan.bwd_slots] = _BWD, plan.bwd_offsets
    kind[plan.param_slots], value[plan.param_slots] = _PARAM, offsets
    kind[plan.grad_slots], value[plan.grad_slots] = _GRAD, grad_offsets
    assert (kind >= 0).all(), "a table slot the driver would not fill"
    geo, hyper = plan.geo.numpy(), plan.hyper(meta).numpy()
    head = [geo.size, hyper.size, plan.tab_len, plan.fwd.size, plan.bwd.size, len(params), grad_bytes]
    head += [xr.numel(), feats.numel(), go.numel()]
    case = b"".join(
        [
            np.asarray(head, np.int64).tobytes(),
            geo.astype(np.int64).tobytes(),
            hyper.astype(np.float64).tobytes(),
            kind.tobytes(),
            value.tobytes(),
            params,
            xr.numpy().astype(np.float32).tobytes(),
            go.numpy().astype(np.float32).tobytes(),
        ]
    )
    return dict(
        case=case,
        feats=feats.detach().numpy().copy(),
        params=np.frombuffer(after, np.uint8),
        grads=np.frombuffer(grads.ljust(grad_bytes, b"\0")[:grad_bytes], np.uint8),
        eval=evaluated,
        layout=(offsets, [p.numel() * p.element_size() for p in tensors], grad_offsets, targets),
    )


def _build(target: str, out: Path) -> list[str] | None:
    """Compile the driver with kernels.c for ``target``; the command that runs it, or ``None`` where the target's
    tools are missing."""
    from myovox.models import _c

    if target == "aarch64":
        if shutil.which(AARCH64_CC) is None or shutil.which(AARCH64_QEMU) is None:
            return None
        cmd = [AARCH64_CC, *_ARITH_FLAGS, "-fopenmp"]
        run = [AARCH64_QEMU, "-L", AARCH64_SYSROOT, str(out)]
    else:
        info = _c.build_info()
        if info is None:
            raise SystemExit("the library's C kernels are not built (no compiler, or MYOVOX_C_KERNELS=0)")
        flags = [f for f in info["flags"] if f not in {"-shared", "-fPIC"}]
        if target != "native":
            flags = [f for f in flags if not f.startswith("-march")] + [f"-march={target}"]
        cmd = [*shlex.split(info["compiler"]), *flags]
        run = [str(out)]
    proc = subprocess.run(
        [*cmd, str(_c._SOURCE), str(DRIVER), "-o", str(out), "-lm"], capture_output=True, text=True, timeout=300
    )
    if proc.returncode != 0:
        raise SystemExit(f"building the driver for {target} failed: {proc.stderr.strip()[:800]}")
    return run


def _compare(ours: np.ndarray, ref: np.ndarray) -> tuple[float, bool]:
    """Largest |difference| relative to the reference's largest magnitude, and bitwise equality."""
    a, b = np.asarray(ours, np.float64), np.asarray(ref, np.float64)
    scale = max(float(np.abs(b).max()), 1e-30)
    return float(np.abs(a - b).max()) / scale, bool(np.array_equal(ours.view(np.uint8), ref.view(np.uint8)))


def run_target(ref: dict[str, Any], target: str, tmp: Path, threads: int = 2, repeat: int = 0) -> dict[str, Any] | None:
    """Build and run the driver for ``target`` on ``ref``'s case; the comparison per output, ``None`` if skipped.

    ``repeat``: time that many more steps in the driver (``step_s``: the fastest, seconds); not under emulation
    (aarch64), whose speed is QEMU's, not the target's."""
    if target == "aarch64":
        repeat = 0
    exe = tmp / f"step-{target}"
    run = _build(target, exe)
    if run is None:
        return None
    (tmp / "case.bin").write_bytes(ref["case"])
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    t0 = time.perf_counter()
    proc = subprocess.run(
        [*run, str(tmp / "case.bin"), str(tmp / "out.bin"), *([str(repeat)] if repeat else [])],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"the {target} driver failed: {proc.stderr.strip()[:800]}")
    raw = (tmp / "out.bin").read_bytes()  # kept in the row: builds compared with each other bit for bit
    nf, np_, ng = ref["feats"].nbytes, ref["params"].nbytes, ref["grads"].nbytes
    feats = np.frombuffer(raw[:nf], np.float32).reshape(ref["feats"].shape)
    params = np.frombuffer(raw[nf : nf + np_], np.uint8)
    grads = np.frombuffer(raw[nf + np_ : nf + np_ + ng], np.uint8)
    evaluated = np.frombuffer(raw[nf + np_ + ng :], np.float32).reshape(ref["eval"].shape)
    offsets, sizes, grad_offsets, targets = ref["layout"]

    def floats(blob: np.ndarray, starts: list[int], counts: list[int]) -> np.ndarray:
        return np.concatenate([blob[s : s + n].view(np.float32) for s, n in zip(starts, counts, strict=True)])

    # the running statistics (float tensors 4 and 5 of each block) and the gradients, as float arrays
    stats = [i for i in range(len(offsets)) if i % 7 in (4, 5)]
    pick = lambda blob: floats(blob, [offsets[i] for i in stats], [sizes[i] for i in stats])  # noqa: E731
    gsizes = [4 * p.numel() for p in targets]
    return dict(
        target=target,
        seconds=seconds,
        raw=raw,
        step_s=float(proc.stdout.split("fastest ")[1].split()[0]) if repeat else None,
        features=_compare(feats, ref["feats"]),
        gradients=_compare(floats(grads, grad_offsets, gsizes), floats(ref["grads"], grad_offsets, gsizes)),
        running_stats=_compare(pick(params), pick(ref["params"])),
        eval=_compare(evaluated, ref["eval"]),
        counts_equal=_counts(params, ref["params"], offsets),
    )


def _counts(ours: np.ndarray, ref: np.ndarray, offsets: list[int]) -> bool:
    """The batch-norm step counters (int64 tensor 6 of each block) equal."""
    return all(
        np.array_equal(ours[offsets[i] : offsets[i] + 8], ref[offsets[i] : offsets[i] + 8])
        for i in range(6, len(offsets), 7)
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shapes", nargs="+", default=["4x200", "14x700"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--targets", nargs="+", default=["native", "x86-64-v2", "x86-64-v3", "aarch64"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeat", type=int, default=0, help="also time this many steps in each driver (fastest)")
    args = p.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    print(
        "| shape | target | features | gradients | running statistics | evaluation | same bits as | run time "
        "| kernel step (fastest) |"
    )
    print("|---|---|---|---|---|---|---|---:|---:|")
    with tempfile.TemporaryDirectory() as tmp:
        for shape in args.shapes:
            c, t = (int(v) for v in shape.split("x"))
            ref = reference((c, t), args.batch)
            done: list[dict[str, Any]] = []
            for target in args.targets:
                row = run_target(ref, target, Path(tmp), args.threads, args.repeat)
                if row is None:
                    print(f"| {shape} | {target} | skipped: {AARCH64_CC} or {AARCH64_QEMU} missing | | | | | | |")
                    continue
                step = "-" if row["step_s"] is None else f"{1e3 * row['step_s']:.3f} ms"
                cells = [
                    "bitwise" if row[k][1] else f"{row[k][0]:.1e}"
                    for k in ("features", "gradients", "running_stats", "eval")
                ]
                same = ", ".join(d["target"] for d in done if d["raw"] == row["raw"]) or "-"
                print(f"| {shape} | {target} | {' | '.join(cells)} | {same} | {row['seconds']:.1f} s | {step} |")
                done.append(row)


if __name__ == "__main__":
    main()
