"""The _core.pyi stub lists exactly what the compiled module exports, with its parameters."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import quantcli
from quantcli import _core


def stub_tree() -> ast.Module:
    return ast.parse(Path(quantcli.__file__).with_name("_core.pyi").read_text())


def parameters(doc: str | None) -> list[str]:
    """Parameter names from pybind11's first docstring line, "name(a: T, b: T = ...) -> R"."""
    signature = (doc or "").splitlines()[0]
    params = signature[signature.index("(") + 1 : signature.rindex(")")]
    return [p.split(":")[0].strip() for p in params.split(", ") if p]


def stub_functions() -> dict[str, list[str]]:
    return {
        node.name: [a.arg for a in node.args.args] for node in stub_tree().body if isinstance(node, ast.FunctionDef)
    }


def core_functions() -> dict[str, list[str]]:
    return {
        name: parameters(obj.__doc__)
        for name, obj in vars(_core).items()
        if not name.startswith("_") and callable(obj) and not inspect.isclass(obj)
    }


def stub_classes() -> dict[str, dict[str, list[str] | None]]:
    """Class name -> {member: parameters of a method (self first), or None for a property}."""
    out: dict[str, dict[str, list[str] | None]] = {}
    for node in stub_tree().body:
        if isinstance(node, ast.ClassDef):
            members: dict[str, list[str] | None] = {}
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    is_property = any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list)
                    members[item.name] = None if is_property else [a.arg for a in item.args.args]
            out[node.name] = members
    return out


def core_classes() -> dict[str, dict[str, list[str] | None]]:
    out: dict[str, dict[str, list[str] | None]] = {}
    for name, cls in vars(_core).items():
        if name.startswith("_") or not inspect.isclass(cls):
            continue
        members: dict[str, list[str] | None] = {}
        for member, value in vars(cls).items():
            # A class without a constructor keeps object's __init__, whose doc is no signature.
            has_init = member == "__init__" and (value.__doc__ or "").startswith("__init__(")
            if member.startswith("_") and not has_init:
                continue
            members[member] = None if isinstance(value, property) else parameters(value.__doc__)
        out[name] = members
    return out


def test_stub_matches_module():
    assert stub_functions() == core_functions()


def test_stub_classes_match_module():
    assert stub_classes() == core_classes()


def test_public_api_is_documented():
    for name in quantcli.__all__:
        obj = getattr(quantcli, name)
        if inspect.isfunction(obj) or inspect.isclass(obj):
            assert inspect.getdoc(obj), f"{name} has no docstring"
