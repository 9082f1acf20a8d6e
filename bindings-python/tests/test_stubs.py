"""The hand-written type stub ``natsbridge/_natsbridge.pyi`` against the built
extension, by introspection: PyO3 gives every function, constructor and
method a ``__text_signature__``, which ``inspect.signature`` reads. The test
fails when the extension has a public function, class, method or property the
stub lacks, when the stub declares one the extension does not have, or when a
parameter is missing, extra, renamed or of another kind (positional /
keyword-only / ``*args`` / ``**kwargs``). Defaults are the option parity
test's business, not this one's.

(``mypy.stubtest`` does the same and more, but it also wants the stub written
in its conventions, ``__new__`` instead of ``__init__`` and ``@final`` on every
PyO3 class, which this stub does not follow today.)
"""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import natsbridge
from natsbridge import _natsbridge

STUB = Path(natsbridge.__file__).with_name("_natsbridge.pyi")
TREE = ast.parse(STUB.read_text(encoding="utf-8"))

KINDS = {
    "posonly": inspect.Parameter.POSITIONAL_ONLY,
    "args": inspect.Parameter.POSITIONAL_OR_KEYWORD,
    "vararg": inspect.Parameter.VAR_POSITIONAL,
    "kwonly": inspect.Parameter.KEYWORD_ONLY,
    "kwarg": inspect.Parameter.VAR_KEYWORD,
}


def stub_params(fn: ast.FunctionDef) -> list[tuple[str, object]]:
    a = fn.args
    params = [(p.arg, KINDS["posonly"]) for p in a.posonlyargs]
    params += [(p.arg, KINDS["args"]) for p in a.args]
    if a.vararg:
        params.append((a.vararg.arg, KINDS["vararg"]))
    params += [(p.arg, KINDS["kwonly"]) for p in a.kwonlyargs]
    if a.kwarg:
        params.append((a.kwarg.arg, KINDS["kwarg"]))
    if params and params[0][0] in ("self", "cls"):
        params = params[1:]
    # Positional-only in the stub (the __x convention or "/") and
    # positional-or-keyword at runtime are the same call shape for callers.
    return [(name, KINDS["args"] if kind == KINDS["posonly"] else kind) for name, kind in params]


def runtime_params(obj) -> list[tuple[str, object]] | None:
    try:
        signature = inspect.signature(obj)
    except (TypeError, ValueError):
        return None  # no __text_signature__: nothing to compare
    params = [(p.name, p.kind) for p in signature.parameters.values()]
    if params and params[0][0] in ("self", "cls", "$self", "$cls"):
        params = params[1:]
    return [(name, KINDS["args"] if kind == KINDS["posonly"] else kind) for name, kind in params]


def same_shape(runtime: list, stub: list) -> bool:
    """Equal parameter lists; except that where the extension takes
    ``**options`` (keywords parsed in Rust) and the stub spells them out as
    keyword-only parameters, only the rest is compared: which keywords the
    core accepts is the option parity test's to check."""
    var_kw = inspect.Parameter.VAR_KEYWORD
    if any(k == var_kw for _, k in runtime) and not any(k == var_kw for _, k in stub):
        runtime = [(n, k) for n, k in runtime if k != var_kw]
        stub = [(n, k) for n, k in stub if k != inspect.Parameter.KEYWORD_ONLY]
    return runtime == stub


def difference(runtime: list, stub: list) -> str:
    """What differs between two parameter lists, in words."""
    r, s = dict(runtime), dict(stub)
    parts = []
    if set(r) - set(s):
        parts.append(f"stub lacks {sorted(set(r) - set(s))}")
    if set(s) - set(r):
        parts.append(f"extension lacks {sorted(set(s) - set(r))}")
    kinds = [n for n in r if n in s and r[n] != s[n]]
    if kinds:
        parts.append(f"other kind: {[(n, str(r[n]), str(s[n])) for n in kinds]}")
    if not parts:
        parts.append(f"order: runtime {list(r)} vs stub {list(s)}")
    return "; ".join(parts)


def defs(body) -> dict[str, ast.FunctionDef]:
    return {n.name: n for n in body if isinstance(n, ast.FunctionDef)}


def is_property(fn: ast.FunctionDef) -> bool:
    return any(isinstance(d, ast.Name) and d.id == "property" for d in fn.decorator_list)


STUB_FUNCTIONS = defs(TREE.body)
STUB_CLASSES = {n.name: n for n in TREE.body if isinstance(n, ast.ClassDef)}
STUB_VALUES = {
    t.id
    for n in TREE.body
    if isinstance(n, (ast.Assign, ast.AnnAssign))
    for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
    if isinstance(t, ast.Name)
}


def is_error_class(obj) -> bool:
    return isinstance(obj, type) and issubclass(obj, _natsbridge.NatsBridgeError)


def test_every_runtime_name_is_in_the_stub_and_back():
    runtime = {name for name in dir(_natsbridge) if not name.startswith("_")}
    stub = set(STUB_FUNCTIONS) | set(STUB_CLASSES) | STUB_VALUES
    assert sorted(runtime - stub) == [], "in the extension, missing from the stub"
    # Names only the stub has must be type aliases (annotations), not values.
    only_in_stub = {
        name
        for name in stub - runtime
        if not name.startswith("_") and (name in STUB_FUNCTIONS or name in STUB_CLASSES)
    }
    assert sorted(only_in_stub) == [], "in the stub, missing from the extension"


def test_functions_take_the_parameters_the_stub_declares():
    drift = []
    for name, fn in STUB_FUNCTIONS.items():
        if name.startswith("_") or not hasattr(_natsbridge, name):
            continue
        got = runtime_params(getattr(_natsbridge, name))
        if got is not None and not same_shape(got, stub_params(fn)):
            drift.append(f"{name}: {difference(got, stub_params(fn))}")
    assert drift == []


def test_classes_have_the_members_and_parameters_the_stub_declares():
    drift = []
    for name, cls_node in STUB_CLASSES.items():
        cls = getattr(_natsbridge, name, None)
        if cls is None or is_error_class(cls):
            continue  # error classes are made from the error table, tested in test_error.py
        members = defs(cls_node.body)
        constructor = members.get("__init__") or members.get("__new__")
        if constructor is not None:
            got = runtime_params(cls)
            if got is not None and not same_shape(got, stub_params(constructor)):
                drift.append(f"{name}(): {difference(got, stub_params(constructor))}")
        for member, fn in members.items():
            if member.startswith("__") and member.endswith("__"):
                continue
            if not hasattr(cls, member):
                drift.append(f"{name}.{member}: in the stub, not in the extension")
                continue
            if is_property(fn):
                continue
            got = runtime_params(getattr(cls, member))
            if got is not None and not same_shape(got, stub_params(fn)):
                drift.append(f"{name}.{member}: {difference(got, stub_params(fn))}")
        stub_members = set(members) | {
            n.target.id
            for n in cls_node.body
            if isinstance(n, ast.AnnAssign) and isinstance(n.target, ast.Name)
        }
        for member in vars(cls):
            if not member.startswith("_") and member not in stub_members:
                drift.append(f"{name}.{member}: in the extension, not in the stub")
    assert drift == []


def test_the_check_sees_a_changed_signature():
    # The comparison itself must be able to fail.
    fn = ast.parse("def smartsend(subject, renamed, *, extra=1): ...").body[0]
    assert not same_shape(runtime_params(_natsbridge.smartsend), stub_params(fn))
    fn = ast.parse("def smartreceive(message, handler=None): ...").body[0]
    assert not same_shape(runtime_params(_natsbridge.smartreceive), stub_params(fn))
