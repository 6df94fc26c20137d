"""The C kernels' Python declarations (``_c/bindings.py``) match their prototypes in ``_c/kernels.c``.

ctypes trusts its ``argtypes``: a parameter added, dropped, reordered or retyped on one side
only would pass wrong values or read and write memory as the wrong type, silently. The source's
exported functions are parsed here and compared with :data:`bindings.PROTOTYPES`: the same
functions, the same return types, the same parameters (names, count, order, C types).
"""

from __future__ import annotations

import ctypes
import re
from pathlib import Path

import pytest

from myovox.models import _c
from myovox.models._c import bindings

SOURCE = Path(_c.__file__).with_name("kernels.c")


def _strip_comments(text: str) -> str:
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def _normalise(ctype: str) -> str:
    """``const float*`` / ``const  float  *`` -> ``const float *``."""
    ctype = " ".join(ctype.replace("*", " * ").split())
    return ctype.replace(" *", " *").replace("* *", "**")


def parse_prototypes(text: str) -> dict[str, list[tuple[str, tuple[tuple[str, str], ...]]]]:
    """Every non-static function definition: name -> [(return type, ((param, C type), ...)), ...]
    (a list: a function may be defined once per ``#ifdef`` branch)."""
    found: dict[str, list] = {}
    pattern = re.compile(
        r"^[ \t]*(static\s+)?(?:inline\s+)?([A-Za-z_][\w ]*?[\w*])\s*\b([A-Za-z_]\w*)\s*\(([^()]*)\)\s*\{", re.M
    )
    for match in pattern.finditer(_strip_comments(text)):
        if match.group(1):
            continue
        restype, name, params = match.group(2).strip(), match.group(3), match.group(4).strip()
        pairs = []
        if params not in ("", "void"):
            for param in params.split(","):
                pm = re.fullmatch(r"\s*(.*?[\s*])([A-Za-z_]\w*)\s*", param)
                assert pm, f"cannot parse parameter {param!r} of {name}"
                pairs.append((pm.group(2), _normalise(pm.group(1))))
        found.setdefault(name, []).append((restype, tuple(pairs)))
    return found


C_PROTOTYPES = parse_prototypes(SOURCE.read_text())


def test_the_parser_reads_a_prototype():
    src = "/* x */ int f(const float *x, int64_t n,\n   double  *out) {\n}\nstatic void g(int a) { }\nvoid h(void) { }"
    assert parse_prototypes(src) == {
        "f": [("int", (("x", "const float *"), ("n", "int64_t"), ("out", "double *")))],
        "h": [("void", ())],
    }


def test_every_exported_c_function_is_declared_and_nothing_else():
    assert set(C_PROTOTYPES) == set(bindings.PROTOTYPES)
    assert len(C_PROTOTYPES) >= 10


@pytest.mark.parametrize("name", sorted(bindings.PROTOTYPES))
def test_declaration_matches_the_c_prototype(name):
    declared = bindings.PROTOTYPES[name]
    for restype, params in C_PROTOTYPES[name]:  # every #ifdef branch defines the same prototype
        assert declared.restype == restype, f"{name}: return type"
        assert len(declared.params) == len(params), f"{name}: parameter count"
        for i, ((py_name, py_type), (c_name, c_type)) in enumerate(zip(declared.params, params, strict=True)):
            assert (py_name, py_type) == (c_name, c_type), f"{name}: parameter {i}"


@pytest.mark.parametrize("name", sorted(bindings.PROTOTYPES))
def test_argtypes_follow_the_declared_c_types(name):
    expected = {"int64_t": ctypes.c_int64, "int": ctypes.c_int, "double": ctypes.c_double}
    proto = bindings.PROTOTYPES[name]
    assert proto.argtypes == [ctypes.c_void_p if t.endswith("*") else expected[t] for _, t in proto.params]
    lib = _c.kernels()
    if lib is not None:  # the loaded library got exactly these
        fn = getattr(lib, name)
        assert fn.argtypes == proto.argtypes
        assert fn.restype == (ctypes.c_int if proto.restype == "int" else None)


def test_kernels_are_called_by_keyword_only():
    src = "\n".join(p.read_text() for p in Path(_c.__file__).parents[1].glob("*.py"))
    assert '_c("myovox_' not in src and "getattr(lib" not in src  # no positional call helper left
    for kernel in vars(bindings).values():
        if isinstance(kernel, bindings.Kernel):
            with pytest.raises(TypeError):
                kernel(*range(len(kernel.proto.params)))
