"""The C kernels' prototypes, each declared once, and the keyword calls built from them.

Every exported function of ``kernels.c`` is declared in :data:`PROTOTYPES` as in its C
prototype: the return type, then the parameters in order as ``(name, C type)`` pairs spelled as
in the source (``"const float *"``, ``"int64_t"``, ``"double"``, ...). From that one declaration
come

* the ctypes ``restype`` and ``argtypes`` of the loaded library (:func:`declare`), and
* the Python callables (:data:`first_fwd`, :data:`pool_bwd`, ...), which take **keywords only**,
  one per C parameter, so that no call site passes a positional list whose order could drift
  from the C code. A missing or unknown keyword raises ``TypeError``; a tensor passed for a
  pointer must be contiguous, on the CPU and of the pointee's type (``float`` -> float32,
  ``double`` -> float64, ``int32_t`` -> int32, ``int64_t`` -> int64), since C reads and writes
  its memory as such. Outputs are written in place, so a silent copy would lose them.

``tests/unit/models/test_c_prototypes.py`` parses ``kernels.c`` and checks that its exported
functions and their parameters (names, count, types, order) are exactly the ones declared here.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from typing import Any

from . import kernels, sync_threads  # the package: build and load (bindings.declare is called from there)

__all__ = ["PROTOTYPES", "Kernel", "Prototype", "declare"]

# scalar C types -> ctypes; pointer parameters are passed as addresses (c_void_p)
_SCALARS: dict[str, Any] = {"int64_t": ctypes.c_int64, "int": ctypes.c_int, "double": ctypes.c_double}
# pointee C type -> torch dtype name
_POINTEES = {"float": "float32", "double": "float64", "int32_t": "int32", "int64_t": "int64"}
_RESTYPES: dict[str, Any] = {"int": ctypes.c_int, "void": None}


@dataclass(frozen=True)
class Prototype:
    """One C function: ``restype name(params)``, each parameter a ``(name, C type)`` pair.

    ``status``: the ``int`` it returns is a status code (0: success, -1: out of memory, -2: a
    first-block kernel longer than 64 samples), which :class:`Kernel` turns into an exception.
    """

    name: str
    restype: str
    params: tuple[tuple[str, str], ...]
    status: bool = True

    def __post_init__(self) -> None:
        if self.restype not in _RESTYPES:
            raise ValueError(f"{self.name}: unknown return type {self.restype!r}")
        for pname, ctype in self.params:
            if ctype.endswith("*"):
                pointee = ctype.removeprefix("const ").removesuffix("*").strip()
                if pointee not in _POINTEES:
                    raise ValueError(f"{self.name}: unknown pointer type {ctype!r} of {pname!r}")
            elif ctype not in _SCALARS:
                raise ValueError(f"{self.name}: unknown type {ctype!r} of {pname!r}")

    @property
    def argtypes(self) -> list[Any]:
        """The ctypes argument types, in the C order."""
        return [ctypes.c_void_p if ctype.endswith("*") else _SCALARS[ctype] for _, ctype in self.params]


_I, _D = "int64_t", "double"
_CF, _F, _CD, _DP = "const float *", "float *", "const double *", "double *"
#: the signed max-pool's arguments, which myovox_pool_fwd extends with the arg-max and the statistics
_POOLED = (("z", _CF), ("N", _I), ("F", _I), ("n", _I), ("sign", _CF), ("pool", _I), ("tp", _I), ("zsel", _F))

#: A spatial block's input and weight, as its kernels take them: the input x indexed (window, time, electrode,
#: filter) with element strides (sb, st, sr, sc), and the weight (O, C, k).
_SPATIAL_INPUT = (
    ("x", _CF),
    ("B", _I),
    ("T", _I),
    ("R", _I),
    ("C", _I),
    ("sb", _I),
    ("st", _I),
    ("sr", _I),
    ("sc", _I),
    ("w", _CF),
)

#: Every function that ``kernels.c`` exports, by C name.
PROTOTYPES: dict[str, Prototype] = {
    p.name: p
    for p in (
        Prototype(
            "myovox_first_fwd",
            "int",
            (
                ("x", _CF),
                ("n_rows", _I),
                ("T", _I),
                ("w", _CF),
                ("bias", _CF),
                ("sign", _CF),
                ("F", _I),
                ("k", _I),
                ("pad", _I),
                ("pool", _I),
                ("tp", _I),
                ("zsel", _F),
                ("idx", "int32_t *"),
                ("s1", _DP),
                ("s2", _DP),
                ("mean", _DP),
                ("var", _DP),
                ("crow", _F),
            ),
        ),
        Prototype(
            "myovox_first_dw",
            "int",
            (
                ("x", _CF),
                ("n_rows", _I),
                ("T", _I),
                ("g", _CF),
                ("idx", "const int32_t *"),
                ("F", _I),
                ("k", _I),
                ("pad", _I),
                ("pool", _I),
                ("tp", _I),
                ("s1", _CD),
                ("s2", _CD),
                ("w", _CF),
                ("bias", _CF),
                ("crow", _CF),
                ("mean", _CD),
                ("c3", _CF),
                ("dw", _F),
            ),
        ),
        Prototype("myovox_max_pool", "void", _POOLED),
        Prototype("myovox_pool_fwd", "int", (*_POOLED, ("idx", "int32_t *"), ("mean", _DP), ("var", _DP))),
        Prototype(
            "myovox_bn_train_stats",
            "void",
            (
                ("mean_d", _CD),
                ("var_d", _CD),
                ("F", _I),
                ("m", _I),
                ("gamma", _CF),
                ("eps", _D),
                ("momentum", _D),
                ("running_mean", _F),
                ("running_var", _F),
                ("num_batches", "int64_t *"),
                ("mean", _F),
                ("invstd", _F),
                ("a", _F),
            ),
        ),
        Prototype(
            "myovox_pool_bwd",
            "void",
            (
                ("z", _CF),
                ("n_rows", _I),
                ("F", _I),
                ("Tz", _I),
                ("idx", "const int32_t *"),
                ("g", _CF),
                ("c2", _CF),
                ("c3", _CF),
                ("pool", _I),
                ("tp", _I),
                ("dz", _F),
                ("margin", _I),
                ("extra", _I),
            ),
        ),
        Prototype(
            "myovox_conv_dw",
            "int",
            (
                ("h", _CF),
                ("dz", _CF),
                ("dz_stride", _I),
                ("dz_offset", _I),
                ("N", _I),
                ("C", _I),
                ("T", _I),
                ("F", _I),
                ("Tz", _I),
                ("k", _I),
                ("pad", _I),
                ("dw", _F),
            ),
        ),
        Prototype(
            "myovox_conv1d",
            "int",
            (
                ("x", _CF),
                ("N", _I),
                ("C", _I),
                ("x_stride", _I),
                ("T", _I),
                ("pad", _I),
                ("w", _CF),
                ("bias", _CF),
                ("F", _I),
                ("k", _I),
                ("Tout", _I),
                ("out", _F),
                ("out_stride", _I),
            ),
        ),
        Prototype(
            "myovox_bn_relu",
            "void",
            (("zsel", _CF), ("N", _I), ("F", _I), ("tp", _I), ("mean", _CF), ("a", _CF), ("beta", _CF), ("out", _F)),
        ),
        Prototype(
            "myovox_bn_relu_bwd",
            "int",
            (
                ("go", _CF),
                ("out", _CF),
                ("zsel", _CF),
                ("N", _I),
                ("F", _I),
                ("tp", _I),
                ("mean", _CF),
                ("invstd", _CF),
                ("gamma", _CF),
                ("m", _I),
                ("g", _F),
                ("dbeta", _F),
                ("dgamma", _F),
                ("c2", _F),
                ("c3", _F),
                ("db", _F),
            ),
        ),
        Prototype(
            "myovox_spatial_fwd",
            "int",
            (
                *_SPATIAL_INPUT,
                ("bias", _CF),
                ("O", _I),
                ("k", _I),
                ("z", _F),
                ("mean", _DP),
                ("var", _DP),
            ),
        ),
        Prototype(
            "myovox_spatial_bwd",
            "int",
            (
                *_SPATIAL_INPUT,
                ("O", _I),
                ("k", _I),
                ("dz", _CF),
                ("dw", _F),
                ("dx", _F),
                ("db", _I),
                ("dt", _I),
                ("dr", _I),
                ("dc", _I),
            ),
        ),
        Prototype(
            "myovox_spatial_bn_relu",
            "void",
            (
                ("z", _CF),
                ("n", _I),
                ("O", _I),
                ("mean", _CF),
                ("a", _CF),
                ("beta", _CF),
                ("y", _F),
            ),
        ),
        Prototype(
            "myovox_spatial_bn_bwd",
            "int",
            (
                ("go", _CF),
                ("y", _CF),
                ("z", _CF),
                ("B", _I),
                ("npos", _I),
                ("O", _I),
                ("mean", _CF),
                ("invstd", _CF),
                ("gamma", _CF),
                ("dz", _F),
                ("dbeta", _F),
                ("dgamma", _F),
                ("db", _F),
            ),
        ),
        Prototype(
            "myovox_spatial_mean",
            "void",
            (("y", _CF), ("B", _I), ("npos", _I), ("O", _I), ("out", _F)),
        ),
        Prototype(
            "myovox_spatial_mean_bwd",
            "void",
            (("go", _CF), ("B", _I), ("npos", _I), ("O", _I), ("dy", _F)),
        ),
        Prototype("myovox_net_fwd", "int", (("geo", "const int64_t *"), ("hyper", _CD), ("tab", "const int64_t *"))),
        Prototype("myovox_net_eval", "int", (("geo", "const int64_t *"), ("hyper", _CD), ("tab", "const int64_t *"))),
        Prototype("myovox_net_bwd", "int", (("geo", "const int64_t *"), ("tab", "const int64_t *"))),
        Prototype("myovox_head_step", "int", (("dims", "const int64_t *"), ("tab", "const int64_t *"))),
        Prototype(
            "myovox_adam",
            "void",
            (
                ("param", _F),
                ("grad", _CF),
                ("exp_avg", _F),
                ("exp_avg_sq", _F),
                ("step", _F),
                ("n", _I),
                ("lr", _D),
                ("beta1", _D),
                ("beta2", _D),
                ("weight_decay", _D),
                ("eps", _D),
            ),
        ),
        Prototype("myovox_max_threads", "int", (), status=False),
        Prototype("myovox_set_threads", "void", (("n", "int"),), status=False),
    )
}


def declare(lib: Any) -> None:
    """Set ``restype`` and ``argtypes`` of every declared function of the loaded library ``lib``."""
    for proto in PROTOTYPES.values():
        fn = getattr(lib, proto.name)
        fn.restype, fn.argtypes = _RESTYPES[proto.restype], proto.argtypes


_ERRORS = {
    -1: " could not allocate its work buffers.",
    -2: " failed with code -2 (first temporal kernel longer than 64 samples).",
    -3: " failed with code -3 (more than 64 blocks).",
    -4: " failed with code -4 (a target outside [0, n_classes), not the ignored -100).",
}


class Kernel:
    """A C kernel called by keyword, one keyword per parameter of its :class:`Prototype`.

    Tensors are passed by address and stay referenced until the call returns. A non-zero status
    raises (``MemoryError`` when the kernel could not allocate, ``RuntimeError`` otherwise).
    """

    __slots__ = ("_fn", "_lib", "_names", "_params", "_pointees", "_torch", "proto")

    def __init__(self, proto: Prototype) -> None:
        self.proto = proto
        self._names = frozenset(name for name, _ in proto.params)
        # (name, pointee dtype name or None for scalars), in the C order
        self._pointees = tuple(
            (name, _POINTEES[ctype.removeprefix("const ").removesuffix("*").strip()] if ctype.endswith("*") else None)
            for name, ctype in proto.params
        )
        self._params: tuple[tuple[str, Any], ...] | None = None  # the same with torch dtypes, at the first call
        self._torch: Any = None
        self._lib: Any = None
        self._fn: Any = None

    def __repr__(self) -> str:
        params = ", ".join(f"{ctype}{'' if ctype.endswith('*') else ' '}{name}" for name, ctype in self.proto.params)
        return f"<C kernel {self.proto.restype} {self.proto.name}({params})>"

    def _bad_names(self, args: dict[str, Any]) -> TypeError:
        missing = sorted(self._names - args.keys())
        unknown = sorted(args.keys() - self._names)
        return TypeError(
            f"{self.proto.name}: "
            + "; ".join(
                ([f"missing argument(s) {', '.join(missing)}"] if missing else [])
                + ([f"unknown argument(s) {', '.join(unknown)}"] if unknown else [])
            )
        )

    def _bad_tensor(self, pname: str, value: Any, dtype: Any) -> Exception:
        if not isinstance(value, self._torch.Tensor):
            return TypeError(f"{self.proto.name}: {pname!r} must be a tensor, got {type(value).__name__}")
        if value.dtype != dtype or not value.is_cpu:
            return TypeError(
                f"{self.proto.name}: {pname!r} must be a {str(dtype).removeprefix('torch.')} tensor "
                f"on the CPU, got {value.dtype} on {value.device}"
            )
        return ValueError(f"{self.proto.name}: tensor arguments must be contiguous ({pname!r} is not)")

    def __call__(self, **args: Any) -> int | None:
        if args.keys() != self._names:
            raise self._bad_names(args)
        params = self._params
        if params is None:
            import torch

            self._torch = torch
            params = self._params = tuple((n, None if p is None else getattr(torch, p)) for n, p in self._pointees)
        values = []
        for pname, dtype in params:
            value = args[pname]
            if dtype is None:
                values.append(value)
            elif value.dtype is dtype and value.is_cpu and value.is_contiguous():
                values.append(value.data_ptr())
            else:
                raise self._bad_tensor(pname, value, dtype)
        lib = kernels()
        if lib is not self._lib:  # first call, or the library was rebuilt (another -march)
            if lib is None:
                raise RuntimeError(f"{self.proto.name}: myovox's C kernels are not available (see myovox.models._c)")
            self._lib, self._fn = lib, getattr(lib, self.proto.name)
        sync_threads(self._torch.get_num_threads())
        rc = self._fn(*values)  # args (the tensors) stay referenced until it returns
        if rc and self.proto.status:  # kernels that can fail return 0 on success
            name = self.proto.name
            if rc == -1:
                raise MemoryError(f"myovox's C kernel {name}{_ERRORS[-1]}")
            raise RuntimeError(f"myovox's C kernel {name}{_ERRORS.get(rc, f' failed with code {rc}.')}")
        return rc


first_fwd = Kernel(PROTOTYPES["myovox_first_fwd"])
first_dw = Kernel(PROTOTYPES["myovox_first_dw"])
max_pool = Kernel(PROTOTYPES["myovox_max_pool"])
pool_fwd = Kernel(PROTOTYPES["myovox_pool_fwd"])
bn_train_stats = Kernel(PROTOTYPES["myovox_bn_train_stats"])
pool_bwd = Kernel(PROTOTYPES["myovox_pool_bwd"])
conv_dw = Kernel(PROTOTYPES["myovox_conv_dw"])
conv1d = Kernel(PROTOTYPES["myovox_conv1d"])
bn_relu = Kernel(PROTOTYPES["myovox_bn_relu"])
bn_relu_bwd = Kernel(PROTOTYPES["myovox_bn_relu_bwd"])
spatial_fwd = Kernel(PROTOTYPES["myovox_spatial_fwd"])
spatial_bwd = Kernel(PROTOTYPES["myovox_spatial_bwd"])
spatial_bn_relu = Kernel(PROTOTYPES["myovox_spatial_bn_relu"])
spatial_bn_bwd = Kernel(PROTOTYPES["myovox_spatial_bn_bwd"])
spatial_mean = Kernel(PROTOTYPES["myovox_spatial_mean"])
spatial_mean_bwd = Kernel(PROTOTYPES["myovox_spatial_mean_bwd"])
net_fwd = Kernel(PROTOTYPES["myovox_net_fwd"])
net_eval = Kernel(PROTOTYPES["myovox_net_eval"])
net_bwd = Kernel(PROTOTYPES["myovox_net_bwd"])
head_step = Kernel(PROTOTYPES["myovox_head_step"])
adam = Kernel(PROTOTYPES["myovox_adam"])
