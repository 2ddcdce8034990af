"""The _core.pyi stub lists exactly what the compiled module exports, with its parameters."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import quantcli
from quantcli import _core


def stub_functions() -> dict[str, list[str]]:
    path = Path(quantcli.__file__).with_name("_core.pyi")
    tree = ast.parse(path.read_text())
    return {node.name: [a.arg for a in node.args.args] for node in tree.body if isinstance(node, ast.FunctionDef)}


def core_functions() -> dict[str, list[str]]:
    out = {}
    for name, obj in vars(_core).items():
        if name.startswith("_") or not callable(obj):
            continue
        signature = (obj.__doc__ or "").splitlines()[0]  # "name(a: T, b: T = ...) -> R"
        params = signature[signature.index("(") + 1 : signature.rindex(")")]
        out[name] = [p.split(":")[0].strip() for p in params.split(", ") if p]
    return out


def test_stub_matches_module():
    assert stub_functions() == core_functions()


def test_public_api_is_documented():
    for name in quantcli.__all__:
        obj = getattr(quantcli, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"
