"""House rules of the package, checked from the source (AST) and by importing it.

Each guard collects every offender and fails once, listing them all:

(a) no module over ``MAX_MODULE_LINES`` lines (physical lines of the file);
(b) no function over ``MAX_FUNCTION_LINES`` lines of code: the lines from ``def`` to the end
    of the body that are neither blank nor comment-only, minus the docstring's lines (nested
    functions count inside the function that holds them, and on their own);
(c) ``typing.get_type_hints`` resolves every public callable reachable from
    ``limitsolver.__all__`` and from each module's ``__all__`` (functions, and the public
    methods, ``__init__`` and properties a class defines itself), and every parameter but
    ``self``/``cls`` and the return carry an annotation;
(d) no import cycle among the package's modules, counting imports inside functions (a lazy
    import is still a dependency); ``from pkg import name`` depends on ``pkg.name`` when that
    is a module, else on ``pkg``; a module does not depend on its parent package implicitly;
(e) no unused import: a name bound by an import at module level must be used somewhere in
    the module (or listed in ``__all__``), one bound inside a function somewhere in that
    function; package ``__init__`` files (re-exports) are exempt;
(f) no ``warnings.simplefilter("ignore")`` / ``filterwarnings("ignore")`` without a
    category or a message;
(g) no module reaches a private name (``_x``, not a dunder) of another package module,
    neither by ``from .mod import _x`` nor by ``mod._x`` on an imported module.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import io
import pathlib
import tokenize
import typing

import limitsolver

PACKAGE = pathlib.Path(limitsolver.__file__).resolve().parent
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80
#: Modules that run something when imported (never imported by the guards).
NOT_IMPORTED = {"limitsolver.__main__"}


def _modules() -> dict[str, pathlib.Path]:
    """Dotted module name → source file, for every ``.py`` file of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()
TREES = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in MODULES.items()}


def _is_package(name: str) -> bool:
    return name in MODULES and MODULES[name].name == "__init__.py"


def _report(title: str, offenders: list[str]) -> str:
    return f"{len(offenders)} {title}:\n  " + "\n  ".join(offenders)


# (a) and (b): sizes ----------------------------------------------------------------------

def _code_lines(source: str) -> set[int]:
    """Line numbers that hold a token other than a comment or a line break."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
            tokenize.DEDENT, tokenize.ENDMARKER}
    lines = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in skip:
            lines.update(range(tok.start[0], tok.end[0] + 1))
    return lines


def _function_length(node: ast.AST, code: set[int]) -> int:
    """Code lines of a function from its ``def`` to its end, docstring excluded."""
    span = set(range(node.lineno, node.end_lineno + 1))
    body = node.body
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
            and isinstance(body[0].value.value, str):
        span -= set(range(body[0].lineno, body[0].end_lineno + 1))
    return len(span & code)


def test_module_length():
    long = [f"{name}: {len(path.read_text().splitlines())} lines"
            for name, path in MODULES.items()
            if len(path.read_text().splitlines()) > MAX_MODULE_LINES]
    assert not long, _report(f"modules over {MAX_MODULE_LINES} lines", long)


def test_function_length():
    long = []
    for name, tree in TREES.items():
        code = _code_lines(MODULES[name].read_text())
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = _function_length(node, code)
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{name}:{node.lineno} {node.name}: {size} lines of code")
    assert not long, _report(f"functions over {MAX_FUNCTION_LINES} lines of code", long)


# (c): annotations ------------------------------------------------------------------------

def _public_callables():
    """(where, object) for every public function and class reachable from an ``__all__``."""
    seen, out = set(), []
    sources = [importlib.import_module(name) for name in MODULES if name not in NOT_IMPORTED]
    for module in sources:
        for attr in getattr(module, "__all__", ()):
            obj = getattr(module, attr)
            if (inspect.isfunction(obj) or inspect.isclass(obj)) and id(obj) not in seen:
                seen.add(id(obj))
                # named where it is defined, so each offender points at its file
                out.append((f"{obj.__module__}.{obj.__qualname__}", obj))
    return out


def _members(where: str, obj):
    """The function itself, or a class's own public methods, ``__init__`` and properties."""
    if inspect.isfunction(obj):
        yield where, obj, True
        return
    if not (getattr(obj, "__module__", "") or "").startswith("limitsolver"):
        return
    for key, value in vars(obj).items():
        if key.startswith("_") and key != "__init__":
            continue
        if isinstance(value, (staticmethod, classmethod)):
            value = value.__func__
        if isinstance(value, property):
            yield f"{where}.{key}", value.fget, False
        elif inspect.isfunction(value) and value.__module__.startswith("limitsolver"):
            yield f"{where}.{key}", value, True


def _annotation_problems(where: str, func, check_params: bool) -> list[str]:
    """One line per callable: what ``get_type_hints`` cannot resolve, or what lacks a hint."""
    try:
        hints = typing.get_type_hints(func)
    except Exception as exc:    # any failure to resolve is the offence being reported
        return [f"{where}: get_type_hints fails ({type(exc).__name__}: {exc})"]
    missing = []
    if check_params:
        for i, param in enumerate(inspect.signature(func).parameters.values()):
            if not (i == 0 and param.name in ("self", "cls")) and param.name not in hints:
                missing.append(param.name)
    if "return" not in hints:
        missing.append("return")
    return [f"{where}: not annotated: {', '.join(missing)}"] if missing else []


def test_public_signatures_annotated():
    problems = []
    for where, obj in _public_callables():
        for name, func, params in _members(where, obj):
            problems += _annotation_problems(name, func, params)
    assert not problems, _report("annotation problems in public signatures", problems)


# (d): import cycles ----------------------------------------------------------------------

def _resolve(module: str, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names (relative imports resolved)."""
    if node.level == 0:
        return node.module or ""
    base = module.split(".")
    if not _is_package(module):
        base = base[:-1]
    base = base[:len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(module: str, tree: ast.AST):
    """(line, imported package module) for every import anywhere in ``tree``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES:
                    yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(module, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    yield node.lineno, sub
                elif target in MODULES:
                    yield node.lineno, target


def _import_graph() -> dict[str, dict[str, int]]:
    graph = {name: {} for name in MODULES}
    for name, tree in TREES.items():
        for line, target in _imports(name, tree):
            if target != name:
                graph[name].setdefault(target, line)
    return graph


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles():
    graph = _import_graph()
    problems = []
    for comp in _cycles(graph):
        edges = [f"{a} -> {b} (line {graph[a][b]})" for a in comp for b in graph[a]
                 if b in comp]
        problems.append("cycle among " + ", ".join(comp) + ":\n    " + "\n    ".join(edges))
    assert not problems, _report("import cycles", problems)


def test_cycle_finder_finds_a_lazy_cycle():
    """The guard itself: a two-module circle closed by a function-level import is found."""
    a = ast.parse("from .b import f\n")
    b = ast.parse("def g():\n    from .a import h\n")
    saved = dict(MODULES)
    try:
        MODULES.update({"limitsolver.a": PACKAGE / "a.py", "limitsolver.b": PACKAGE / "b.py"})
        graph = {"limitsolver.a": dict((t, ln) for ln, t in _imports("limitsolver.a", a)),
                 "limitsolver.b": dict((t, ln) for ln, t in _imports("limitsolver.b", b))}
    finally:
        MODULES.clear()
        MODULES.update(saved)
    assert _cycles(graph) == [["limitsolver.a", "limitsolver.b"]]


# (e): unused imports ---------------------------------------------------------------------

def _bound_names(node: ast.AST) -> list[str]:
    names = []
    for alias in node.names:
        if alias.name == "*" or (isinstance(node, ast.ImportFrom)
                                 and node.module == "__future__"):
            continue
        names.append(alias.asname or alias.name.split(".")[0])
    return names


def _annotations(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.arg) and node.annotation is not None:
            yield node.annotation
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.returns:
            yield node.returns
        elif isinstance(node, ast.AnnAssign):
            yield node.annotation


def _used_names(tree: ast.AST) -> set[str]:
    """Names read anywhere in ``tree``, including inside string annotations."""
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    for ann in _annotations(tree):
        for node in ast.walk(ann):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                try:
                    used |= _used_names(ast.parse(node.value, mode="eval"))
                except SyntaxError:
                    pass
    return used


def _imports_by_scope(node: ast.AST, scope: ast.AST, out: list) -> None:
    """(import node, innermost function or module holding it) pairs under ``node``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.Import, ast.ImportFrom)):
            out.append((child, scope))
        inner = child if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)) else scope
        _imports_by_scope(child, inner, out)


def _unused_imports(name: str, tree: ast.Module) -> list[str]:
    exported = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__"
                                                for t in node.targets):
            exported = set(ast.literal_eval(node.value))
    pairs, used = [], {}
    _imports_by_scope(tree, tree, pairs)
    out = []
    for node, scope in pairs:
        if id(scope) not in used:
            used[id(scope)] = _used_names(scope) | (exported if scope is tree else set())
        out += [f"{name}:{node.lineno} {b}" for b in _bound_names(node)
                if b not in used[id(scope)]]
    return out


def test_no_unused_imports():
    unused = []
    for name, tree in TREES.items():
        if not _is_package(name):
            unused += _unused_imports(name, tree)
    assert not unused, _report("unused imports", unused)


# (f): silenced warnings ------------------------------------------------------------------

def _silences_everything(call: ast.Call) -> bool:
    func = call.func
    kind = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if kind not in ("simplefilter", "filterwarnings") or not call.args:
        return False
    if not (isinstance(call.args[0], ast.Constant) and call.args[0].value == "ignore"):
        return False
    keywords = {k.arg for k in call.keywords}
    if kind == "simplefilter":
        return len(call.args) < 2 and "category" not in keywords
    message = call.args[1] if len(call.args) > 1 else next(
        (k.value for k in call.keywords if k.arg == "message"), None)
    has_message = message is not None and not (isinstance(message, ast.Constant)
                                               and not message.value)
    return not has_message and len(call.args) < 3 and "category" not in keywords


def test_warnings_never_silenced_wholesale():
    found = [f"{name}:{node.lineno}" for name, tree in TREES.items()
             for node in ast.walk(tree)
             if isinstance(node, ast.Call) and _silences_everything(node)]
    assert not found, _report("filters that ignore every warning", found)


# (g): private names across modules -------------------------------------------------------

def _private(attr: str) -> bool:
    return attr.startswith("_") and not (attr.startswith("__") and attr.endswith("__"))


def _private_reaches(name: str, tree: ast.AST) -> list[str]:
    out, module_aliases = [], {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            target = _resolve(name, node)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                if sub in MODULES:
                    module_aliases[alias.asname or alias.name] = sub
                elif target in MODULES and target != name and _private(alias.name):
                    out.append(f"{name}:{node.lineno} imports {target}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in MODULES and alias.asname:
                    module_aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in module_aliases and _private(node.attr):
            target = module_aliases[node.value.id]
            if target != name:
                out.append(f"{name}:{node.lineno} uses {target}.{node.attr}")
    return out


def test_no_private_names_across_modules():
    found = []
    for name, tree in TREES.items():
        found += _private_reaches(name, tree)
    assert not found, _report("private names reached from another module", found)


def test_detectors_find_planted_offences():
    """The guards themselves, on planted source: an unused import (module and function
    level), a wholesale ignore filter, a private name reached across modules, a long
    function and a missing annotation are each found; their correct forms are not."""
    src = ("import os\nimport sys\nfrom .grids import _KINDS\nfrom . import grids\n"
           "def f() -> None:\n    import json\n    sys.exit(grids._check_count, _KINDS)\n")
    tree = ast.parse(src)
    assert _unused_imports("limitsolver.x", tree) == ["limitsolver.x:1 os",
                                                       "limitsolver.x:6 json"]
    assert _private_reaches("limitsolver.x", tree) == [
        "limitsolver.x:3 imports limitsolver.grids._KINDS",
        "limitsolver.x:7 uses limitsolver.grids._check_count"]
    calls = [n for n in ast.walk(ast.parse(
        "w.simplefilter('ignore')\nw.filterwarnings('ignore', '')\n"
        "w.simplefilter('ignore', UserWarning)\nw.filterwarnings('ignore', message='x')\n"
        "w.filterwarnings('ignore', category=RuntimeWarning)\n")) if isinstance(n, ast.Call)]
    assert [_silences_everything(c) for c in calls] == [True, True, False, False, False]
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES + 1))
    long_src = f'def g():\n    """doc\n\n    more doc"""\n    # a comment\n\n{body}\n'
    node = ast.parse(long_src).body[0]
    assert _function_length(node, _code_lines(long_src)) == MAX_FUNCTION_LINES + 2

    def half(a: int, b) -> int:
        return a

    assert _annotation_problems("half", half, True) == ["half: not annotated: b"]
