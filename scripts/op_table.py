"""Print (or write into README.md) the table of ops pytensor-onnx converts, from the registry.

    python scripts/op_table.py           # print coverage and the markdown table
    python scripts/op_table.py --write   # replace the table between the README markers
    python scripts/op_table.py --check   # exit 1 if README.md's table is out of date
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import pytensor.scalar.math  # noqa: F401  (defines more scalar ops)
import pytensor.tensor
from pytensor.graph.fg import FunctionGraph
from pytensor.graph.op import Op
from pytensor.scalar.basic import ScalarOp

from pytensor_onnx.dispatch import onnx_funcify

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- op-table:start -->", "<!-- op-table:end -->"


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def concrete_scalar_ops() -> list[type]:
    """PyTensor's concrete scalar op classes (those with an ``impl``), by name."""
    found = {
        c for c in _subclasses(ScalarOp)
        if c.__module__.startswith("pytensor.scalar")
        and not inspect.isabstract(c)
        and "impl" in {name for k in c.__mro__[:-1] if k is not ScalarOp for name in vars(k)}
        and not c.__name__.startswith("_")
        # defined in the module's source, not made at run time (which depends on imports)
        and getattr(sys.modules[c.__module__], c.__name__, None) is c
    }
    return sorted(found, key=lambda c: c.__name__)


def _is_ours(converter) -> bool:
    # Users register converters of their own; the table lists what the package ships
    # (and not the converters that only explain why an op cannot be exported).
    return getattr(converter, "__module__", "").startswith("pytensor_onnx.") and getattr(
        converter, "converts", True
    )


# Tensor-op modules that need optional dependencies or are not graph ops users build.
_SKIPPED_TENSOR_MODULES = ("pytensor.tensor.random.rewriting", "pytensor.tensor.rewriting")


def concrete_tensor_ops() -> list[type]:
    """The Op classes defined in ``pytensor.tensor``'s modules (not scalar ops), by name."""
    for module in pkgutil.walk_packages(pytensor.tensor.__path__, "pytensor.tensor."):
        if not module.name.startswith(_SKIPPED_TENSOR_MODULES):
            try:
                importlib.import_module(module.name)
            except ImportError:  # an optional dependency (e.g. a BLAS or JAX helper)
                continue
    found = {
        c for c in _subclasses(Op)
        if c.__module__.startswith("pytensor.tensor.")
        and not c.__module__.startswith(_SKIPPED_TENSOR_MODULES)
        and not issubclass(c, ScalarOp)
        and not inspect.isabstract(c)
        and not c.__name__.startswith("_")
        and getattr(sys.modules[c.__module__], c.__name__, None) is c
    }
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


def registered_classes() -> list[type]:
    return [
        c for c, converter in onnx_funcify.registry.items()
        if c not in (object, FunctionGraph) and _is_ours(converter)
    ]


def is_supported(cls) -> bool:
    converter = onnx_funcify.dispatch(cls)
    return converter is not onnx_funcify.dispatch(object) and _is_ours(converter)


def table() -> str:
    scalar_ops = concrete_scalar_ops()
    covered = [c for c in scalar_ops if is_supported(c)]
    tensor_ops = sorted(
        (c for c in registered_classes() if not issubclass(c, ScalarOp)),
        key=lambda c: (c.__module__, c.__name__),
    )
    all_tensor_ops = concrete_tensor_ops()
    covered_tensor_ops = [c for c in all_tensor_ops if is_supported(c)]
    lines = [
        f"Scalar ops (inside `Elemwise`): {len(covered)} of PyTensor's {len(scalar_ops)} "
        "concrete scalar ops.",
        f"Tensor ops: {len(covered_tensor_ops)} of the {len(all_tensor_ops)} op classes "
        "defined in `pytensor.tensor` (some only appear in graphs of other backends, e.g. C "
        "BLAS ops, or are abstract bases).",
        "",
        "| op family | PyTensor ops converted |",
        "|---|---|",
        "| scalar (Elemwise) | " + ", ".join(f"`{c.__name__}`" for c in covered) + " |",
    ]
    by_module: dict[str, list[str]] = {}
    for c in tensor_ops:
        by_module.setdefault(c.__module__.removeprefix("pytensor."), []).append(c.__name__)
    for module, names in by_module.items():
        lines.append(f"| `{module}` | " + ", ".join(f"`{n}`" for n in names) + " |")
    missing = [c.__name__ for c in scalar_ops if not is_supported(c)]
    lines += ["", f"Not yet converted scalar ops ({len(missing)}): " + ", ".join(missing) + "."]
    missing_tensor = [c.__name__ for c in all_tensor_ops if not is_supported(c)]
    lines += [
        "",
        f"Not yet converted tensor ops ({len(missing_tensor)}): " + ", ".join(missing_tensor) + ".",
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md")
    parser.add_argument("--check", action="store_true", help="fail if README.md is stale")
    args = parser.parse_args()
    text = table()
    if not (args.write or args.check):
        print(text)
        return 0
    readme = README.read_text()
    head, rest = readme.split(START, 1)
    _, tail = rest.split(END, 1)
    updated = f"{head}{START}\n{text}\n{END}{tail}"
    if args.check:
        if updated != readme:
            print("README.md's op table is out of date: run python scripts/op_table.py --write")
            return 1
        return 0
    README.write_text(updated)
    return 0


if __name__ == "__main__":
    sys.exit(main())
