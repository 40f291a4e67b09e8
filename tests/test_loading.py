"""App strings: attributes and factory calls with literal arguments, and every way they fail."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from pwless_gate import ConfigError, gate
from pwless_gate.loading import describe_app, load_app

from .helpers import state_dir

#: A module of apps and factories, written to a temporary directory on sys.path.
APPS = """
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"plain"]


class Holder:
    app = application


def create_app(*roots, debug=True, **options):
    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [repr((roots, debug, options)).encode()]
    return app


def broken_factory():
    raise KeyError("DATABASE_URL")


def returns_none():
    return None


def returns_text():
    return "not an app"


def multi_line_failure():
    raise RuntimeError("first line\\nsecond line")


NOT_CALLABLE = 42
"""


@pytest.fixture
def apps_module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The name of a fresh module holding :data:`APPS`, importable for this test."""
    name = f"gate_apps_{tmp_path.name.replace('-', '_')}"
    (tmp_path / f"{name}.py").write_text(APPS)
    (tmp_path / f"{name}_raises.py").write_text("raise RuntimeError('no settings module')\n")
    (tmp_path / f"{name}_needs.py").write_text("import no_such_dependency_x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    return name


def body(app: Any) -> bytes:
    return b"".join(app({}, lambda status, headers: None))


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("application", b"plain"),
        ("Holder.app", b"plain"),
        ("create_app()", b"((), True, {})"),
        (
            "create_app('/srv', '/data', debug=False)",
            b"(('/srv', '/data'), False, {})",
        ),
        (
            "create_app(roots=['/srv'], limits={'size': -1, 'ratio': 0.5}, tags=('a',), x=None)",
            b"((), True, {'roots': ['/srv'], 'limits': {'size': -1, 'ratio': 0.5}, "
            b"'tags': ('a',), 'x': None})",
        ),
        (" create_app( debug = False ) ", b"((), False, {})"),
    ],
    ids=["attribute", "dotted", "factory", "positional", "literal-kwargs", "spaces"],
)
def test_an_app_string_names_an_attribute_or_calls_a_factory(
    apps_module: str, target: str, expected: bytes
) -> None:
    assert body(load_app(f"{apps_module}:{target}")) == expected


@pytest.mark.parametrize(
    "target",
    [
        "create_app(root)",  # a name
        "create_app(debug=DEBUG)",
        "create_app(open('/etc/passwd'))",  # a call inside
        "create_app(__import__('os').getcwd())",
        "create_app(*roots)",
        "create_app(**options)",
        "create_app(1 + 2)",
        "create_app(lambda: 1)",
        "create_app(f'{x}')",
        "create_app([x for x in 'ab'])",
        "create_app(roots=['/srv', root])",
    ],
    ids=[
        "name",
        "name-kwarg",
        "call",
        "dunder-call",
        "starred",
        "double-starred",
        "arithmetic",
        "lambda",
        "f-string",
        "comprehension",
        "name-in-list",
    ],
)
def test_only_literal_arguments_are_accepted(apps_module: str, target: str) -> None:
    spec = f"{apps_module}:{target}"
    with pytest.raises(ConfigError) as caught:
        load_app(spec)
    assert caught.value.setting == "app"
    assert repr(spec) in caught.value.problem


@pytest.mark.parametrize(
    ("target", "names"),
    [
        ("create_app(", "create_app("),  # bad syntax
        ("apps[0]", "apps[0]"),  # not a name
        ("create_app()()", "create_app()()"),
        ("Holder().app", "Holder().app"),
        ("missing_attribute", "missing_attribute"),
        ("Holder.missing", "Holder.missing"),
        ("broken_factory()", "KeyError"),
        ("create_app(1, 2, nope=3, debug=1, debug=2)", "repeated"),
        ("application(1, 2, 3)", "TypeError"),
        ("NOT_CALLABLE()", "NOT_CALLABLE"),
        ("NOT_CALLABLE", "int"),
        ("returns_none()", "None"),
        ("returns_text()", "str"),
        ("multi_line_failure()", "RuntimeError"),
    ],
    ids=[
        "syntax",
        "subscript",
        "call-of-call",
        "call-in-path",
        "no-attribute",
        "no-nested-attribute",
        "factory-raises",
        "repeated-keyword",
        "wrong-arguments",
        "not-callable-factory",
        "not-callable",
        "none",
        "text",
        "multi-line-message",
    ],
)
def test_a_wrong_app_string_is_one_line_naming_it(
    apps_module: str, target: str, names: str
) -> None:
    spec = f"{apps_module}:{target}"
    with pytest.raises(ConfigError) as caught:
        load_app(spec)
    assert caught.value.setting == "app"
    assert repr(spec) in caught.value.problem
    assert names in caught.value.problem
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("spec", "names"),
    [
        ("no_such_module_x:app", "no_such_module_x"),
        ("{module}_needs:app", "no_such_dependency_x"),
        ("{module}_raises:app", "RuntimeError"),
        ("{module}", "package.module:application"),
        ("{module}:", "package.module:application"),
        (":app", "package.module:application"),
    ],
    ids=[
        "no-module",
        "missing-dependency",
        "module-raises",
        "no-colon",
        "no-target",
        "no-module-name",
    ],
)
def test_a_module_that_cannot_be_imported_is_one_line(
    apps_module: str, spec: str, names: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        load_app(spec.format(module=apps_module))
    assert caught.value.setting == "app"
    assert names in caught.value.problem
    assert "\n" not in str(caught.value)


def test_gate_calls_the_factory_and_raises_config_errors_outside_gunicorn(
    apps_module: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PWLESS_GATE_AUTH0_DOMAIN", "http://127.0.0.1:9")
    monkeypatch.setenv("PWLESS_GATE_CLIENT_ID", "id")
    monkeypatch.setenv("PWLESS_GATE_CLIENT_SECRET", "secret")
    monkeypatch.setenv("PWLESS_GATE_ALLOWED_DOMAINS", "example.com")
    monkeypatch.setenv("PWLESS_GATE_STATE_DIR", state_dir())
    wrapped = gate(f"{apps_module}:create_app(debug=False)")
    assert body(wrapped.app) == b"((), False, {})"
    with pytest.raises(ConfigError) as caught:
        gate(f"{apps_module}:create_app(DEBUG)")
    assert caught.value.setting == "app"
    monkeypatch.delenv("PWLESS_GATE_CLIENT_SECRET")
    with pytest.raises(ConfigError) as caught:
        gate(f"{apps_module}:application")
    assert caught.value.setting == "PWLESS_GATE_CLIENT_SECRET"


def test_what_an_app_string_led_to_is_said_in_words(apps_module: str) -> None:
    assert describe_app(load_app(f"{apps_module}:application")) == (
        f"function {apps_module}.application"
    )
    assert describe_app(load_app(f"{apps_module}:create_app()")) == (
        f"function {apps_module}.create_app.<locals>.app"
    )
    assert describe_app(textwrap) == "a builtins.module object"
    assert describe_app(dict) == "class builtins.dict"
