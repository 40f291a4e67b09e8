"""App strings: ``"pkg.mod:application"`` and ``"pkg.mod:create_app(debug=False)"``.

:func:`load_app` turns an app string into the WSGI app it names, as gunicorn
reads its own: a dotted attribute, or a call of a factory with literal
arguments. It never evaluates code of the string's own: names, calls and
operators among the arguments are refused. Every failure is a
:class:`~pwless_gate.errors.ConfigError` whose message fits on one line.

This module does not decide what a failure does to a server; see
:mod:`pwless_gate.boot`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
from typing import TYPE_CHECKING, Any

from .errors import ConfigError

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIApplication

_MISSING = object()


def load_app(spec: str) -> WSGIApplication:
    """Import ``"package.module:attribute"`` and return the WSGI app it names.

    As in gunicorn, the part after the colon may call a factory with literal
    arguments: ``"pkg.mod:create_app()"``,
    ``"pkg.mod:create_app(roots=['/srv'], debug=False)"``. Literals are
    strings, numbers, booleans, None, and lists, tuples, dicts and sets of them.

    Raises :class:`~pwless_gate.errors.ConfigError` (setting ``app``) naming
    what is wrong: the syntax, a missing module or attribute, a module or
    factory that raised, a result that is not callable.
    """
    module_name, _, expression = (part.strip() for part in spec.partition(":"))
    if not module_name or not expression:
        raise ConfigError("app", f"{spec!r} must look like 'package.module:application'")
    path, call = _parse(spec, expression)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError("app", f"{spec!r}: cannot import {module_name!r}: {_line(exc)}") from exc
    except Exception as exc:  # the module's own code failed at import
        raise ConfigError(
            "app", f"{spec!r}: importing {module_name!r} raised {_named(exc)}"
        ) from exc
    target: Any = module
    for part in path:
        target = getattr(target, part, _MISSING)
        if target is _MISSING:
            raise ConfigError(
                "app", f"{spec!r}: {module_name!r} has no attribute {'.'.join(path)!r}"
            )
    if call is not None:
        if not callable(target):
            raise ConfigError("app", f"{spec!r}: {'.'.join(path)!r} is not callable")
        args, kwargs = call
        try:
            target = target(*args, **kwargs)
        except ConfigError:
            raise
        except Exception as exc:
            raise ConfigError("app", f"{spec!r} raised {_named(exc)}") from exc
    if not callable(target):
        what = "None" if target is None else f"a {type(target).__name__}"
        raise ConfigError("app", f"{spec!r} is {what}, not a WSGI application")
    app: WSGIApplication = target
    return app


def describe_app(app: object) -> str:
    """What an app string led to, in words: ``function tests.apps.whoami``."""
    if isinstance(app, type):
        return f"class {app.__module__}.{app.__qualname__}"
    name = getattr(app, "__qualname__", None)
    if isinstance(name, str):
        kind = "function" if inspect.isfunction(app) else type(app).__name__
        return f"{kind} {getattr(app, '__module__', '?')}.{name}"
    return f"a {type(app).__module__}.{type(app).__qualname__} object"


def _parse(spec: str, expression: str) -> tuple[list[str], tuple[list[Any], dict[str, Any]] | None]:
    """``"a.b"`` → (["a", "b"], None); ``"make(1, x='y')"`` → (["make"], ([1], {"x": "y"})).

    Raises :class:`ConfigError` for anything but a dotted name, or a call of
    one with literal arguments.
    """
    not_a_target = ConfigError(
        "app", f"{spec!r}: {expression!r} is neither an attribute name nor a factory call"
    )
    try:
        node = ast.parse(expression, mode="eval").body
    except SyntaxError:
        raise not_a_target from None
    call = None
    if isinstance(node, ast.Call):
        try:
            args = [_literal(arg) for arg in node.args]
            kwargs = {_keyword(kw.arg): _literal(kw.value) for kw in node.keywords}
        except ValueError:
            raise ConfigError(
                "app",
                f"{spec!r}: a factory's arguments must be literals "
                "(strings, numbers, True, False, None, and lists, tuples, dicts of them)",
            ) from None
        if len(kwargs) != len(node.keywords):
            raise ConfigError("app", f"{spec!r}: a keyword argument is repeated")
        call = (args, kwargs)
        node = node.func
    path = _dotted(node)
    if path is None:
        raise not_a_target
    return path, call


def _literal(node: ast.expr) -> Any:
    if isinstance(node, ast.Starred):
        raise ValueError("*args")
    try:
        return ast.literal_eval(node)
    except (TypeError, SyntaxError, MemoryError, RecursionError) as exc:
        raise ValueError(str(exc)) from None


def _keyword(name: str | None) -> str:
    if name is None:
        raise ValueError("**kwargs")
    return name


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` → ``["a", "b", "c"]``; None for anything else."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _line(exc: BaseException) -> str:
    """The exception's message on one line."""
    return " ".join(str(exc).split())


def _named(exc: BaseException) -> str:
    """``KeyError: 'DATABASE_URL'``, on one line."""
    message = _line(exc)
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
