"""The gate's pages: Jinja2 templates (autoescaped, overridable, translated) and JSON errors.

Operators can point ``template_dir`` at their own copies of any template;
the packaged ones fill in the rest. A copy in ``<template_dir>/<lang>/``
(``de/login.html``) is used for that language only, before one in
``<template_dir>/`` itself; catalogs in ``<template_dir>/i18n/`` replace the
shipped texts they hold (see :mod:`pwless_gate.languages`). Each language has
a Jinja2 environment of its own with the i18n extension (``{% trans %}`` and
``_()``, new-style: placeholders are named and escaped). Branding comes from
the config. No page needs JavaScript.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from importlib.resources import files
from typing import Any
from urllib.parse import urlsplit

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    PackageLoader,
    Template,
    TemplateSyntaxError,
    pass_context,
    select_autoescape,
)
from jinja2.ext import InternationalizationExtension
from jinja2.runtime import Context
from markupsafe import Markup
from werkzeug.wrappers import Response

from .config import GateConfig
from .errors import ConfigError
from .languages import Languages, Translator, isolate
from .page_texts import TranslatedTexts

#: The ``Content-Type`` of each static file, by suffix.
STATIC_TYPES = {".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}
#: Context values views pass in English (message ids, or :class:`~pwless_gate.languages.Text`)
#: that are translated before a page shows them.
TRANSLATED = (
    "title",
    "message",
    "notice",
    "form_notice",
    "error",
    "back_label",
    "resend_label",
    "label",
)


class Pages:
    """Renders gate pages and JSON answers with the config's branding."""

    def __init__(self, config: GateConfig, languages: Languages | None = None) -> None:
        self.languages = languages or Languages(config.languages, config.template_dir)
        self._envs = {
            tag: _environment(config.template_dir, translator)
            for tag, translator in self.languages.translators.items()
        }
        if config.template_dir:
            compile_own_templates(config.template_dir, next(iter(self._envs.values())))
        for env in self._envs.values():
            env.globals["languages"] = self.languages.names()
            # The switcher's choices differ only by language: rendered once per language.
            options = env.get_template("_language_options.html").render()  # autoescaped
            env.globals["language_options"] = Markup(options.strip())  # noqa: S704
        # Single dict reads and writes are atomic in CPython: no lock needed.
        self._templates: dict[tuple[str, str], Template] = {}
        self._brand = {
            "name": config.brand_name,
            "color": config.brand_color,
            "logo_url": config.brand_logo_url,
            "support": config.support_contact,
        }
        self._prefix = config.prefix
        form_action = "'self'"
        if config.federated_logout:
            # Signing out posts to the gate, which sends the browser on to Auth0's
            # /v2/logout: form-action also bounds where a form's redirects may lead.
            tenant = urlsplit(config.issuer)
            form_action += f" {tenant.scheme}://{tenant.netloc}"
        csp = (
            "default-src 'none'; style-src 'self'; img-src 'self' https: data:; "
            f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'"
        )
        #: Every page's headers after its Content-Type and Content-Length, per language:
        #: built once, added to each page without looking for ones to replace.
        self._headers = {
            tag: (
                ("Content-Language", tag),
                ("Cache-Control", "no-store"),
                ("X-Frame-Options", "DENY"),
                ("Content-Security-Policy", csp),
                ("Referrer-Policy", "same-origin"),
                ("X-Content-Type-Options", "nosniff"),
            )
            for tag in self._envs
        }
        self._static = _load_static()
        on_accent = _readable_on(config.brand_color)
        brand_css = f":root {{ --accent: {config.brand_color}; --on-accent: {on_accent}; }}\n"
        self._static["brand.css"] = (brand_css.encode(), STATIC_TYPES[".css"])

    def render(
        self,
        template: str,
        *,
        status: int = 200,
        script_name: str = "",
        headers: Mapping[str, str] | None = None,
        language: str = "",
        **context: Any,
    ) -> Response:
        """The page ``template`` in ``language`` (a configured tag; the default if not)."""
        gate = script_name + self._prefix
        translator = self.languages.translator(language)
        for key in TRANSLATED:
            if isinstance(context.get(key), str):
                context[key] = translator.text(context[key])
        if isinstance(context.get("errors"), Mapping):
            context["errors"] = {k: translator.text(v) for k, v in context["errors"].items()}
        body = self._template(translator.tag, template).render(
            brand=self._brand, gate=gate, static=f"{gate}/static", **context
        )
        response = Response(body, status=status, mimetype="text/html")
        response.headers.extend(self._headers[translator.tag])
        if headers:
            response.headers.update(headers)
        return response

    def _template(self, tag: str, name: str) -> Template:
        """The template ``name`` of language ``tag``, its globals a plain dict.

        Jinja2 keeps a template's globals as a ``ChainMap`` over the environment's,
        which every page copies, key by key, into its context. Those are final once
        the pages are built, so each template gets them as one dict when first shown.
        """
        found = self._templates.get((tag, name))
        if found is None:
            found = self._envs[tag].get_template(name)
            found.globals = dict(found.globals)
            self._templates[(tag, name)] = found
        return found

    def static(self, name: str) -> Response | None:
        found = self._static.get(name)
        if found is None:
            return None
        body, content_type = found
        response = Response(body, content_type=content_type)  # as given: no second charset
        response.headers["Cache-Control"] = "public, max-age=3600"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def json_response(
    data: Mapping[str, Any], status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    response = Response(
        json.dumps(data, separators=(",", ":")), status=status, mimetype="application/json"
    )
    response.headers["Cache-Control"] = "no-store"
    # As every page of the gate: a browser never reads the JSON as anything else.
    response.headers["X-Content-Type-Options"] = "nosniff"
    if headers:
        response.headers.update(headers)
    return response


def _environment(
    template_dir: str | None,
    translator: Translator,
    i18n: type[InternationalizationExtension] = TranslatedTexts,
) -> Environment:
    """The Jinja2 environment of one language: its own templates first, then the shared ones.

    ``i18n`` is the gettext extension (Jinja2's own, for comparison in tests).
    """
    loaders: list[BaseLoader] = [PackageLoader("pwless_gate", "templates")]
    if template_dir:
        loaders[:0] = [
            FileSystemLoader(os.path.join(template_dir, translator.tag)),
            FileSystemLoader(template_dir),
        ]
    env = Environment(
        loader=ChoiceLoader(loaders),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
        # Templates are read once: no stat() of every file on every page.
        auto_reload=False,
        extensions=[i18n],
    )
    # Whitespace inside {% trans %} is collapsed, as the catalogs hold it (babel.cfg).
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_translations(translator.translations, newstyle=True)  # type: ignore[attr-defined]
    if translator.direction == "rtl":
        for name in ("gettext", "ngettext"):  # `_` calls the gettext global
            env.globals[name] = _isolating(env.globals[name])
    env.globals.update(lang=translator.tag, dir=translator.direction)
    env.filters.update(minute=translator.minute, duration=translator.duration, t=translator.text)
    return env


def compile_own_templates(template_dir: str, env: Environment) -> int:
    """Compile every ``.html`` file under ``template_dir`` (its language folders too) with
    ``env``'s extensions, so that a broken one stops start-up rather than answering each
    page with a 500; returns how many there are.

    Raises :class:`ConfigError` naming ``PWLESS_GATE_TEMPLATE_DIR``, the file and the line.
    """
    count = 0
    for folder, dirs, names in os.walk(template_dir):
        dirs.sort()
        for name in sorted(names):
            if not name.endswith(".html"):
                continue
            path = os.path.join(folder, name)
            relative = os.path.relpath(path, template_dir)
            try:
                with open(path, encoding="utf-8") as file:
                    source = file.read()
                env.compile(source, relative.replace(os.sep, "/"), path)
            except TemplateSyntaxError as exc:
                raise ConfigError(
                    "PWLESS_GATE_TEMPLATE_DIR", f"{path}, line {exc.lineno}: {exc.message}"
                ) from None
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError("PWLESS_GATE_TEMPLATE_DIR", f"{path}: {exc}") from None
            count += 1
    return count


def _isolating(translate: Any) -> Any:
    """A page's gettext that isolates each text filled into a right-to-left sentence."""

    @pass_context
    def translated(context: Context, *args: Any, **variables: Any) -> Any:
        return translate(context, *args, **{k: isolate(v) for k, v in variables.items()})

    return translated


def _load_static() -> dict[str, tuple[bytes, str]]:
    found: dict[str, tuple[bytes, str]] = {}
    for entry in files("pwless_gate").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in STATIC_TYPES:
            found[entry.name] = (entry.read_bytes(), STATIC_TYPES[suffix])
    return found


def _readable_on(colour: str) -> str:
    """Black or white, whichever reads better on ``colour`` (``#rgb`` or ``#rrggbb``)."""
    digits = colour.lstrip("#")
    if len(digits) in (3, 4):
        digits = "".join(c * 2 for c in digits[:3])
    red, green, blue = (int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4))

    def linear(c: float) -> float:
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    luminance = 0.2126 * linear(red) + 0.7152 * linear(green) + 0.0722 * linear(blue)
    # WCAG contrast against white is (1.05)/(L+0.05); against black (L+0.05)/0.05.
    return "#fff" if 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 else "#000"
