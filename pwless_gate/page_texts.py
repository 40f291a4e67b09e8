"""Page texts translated once, when a language's templates are compiled.

Each language has a Jinja2 environment of its own (:mod:`pwless_gate.pages`),
so a fixed text (``{{ _("Sign in") }}``, or a ``{% trans %}`` block without
placeholders) reads the same on every page of that language: this extension
of Jinja2's i18n extension writes it into the compiled template as text,
instead of calling gettext for it on every page. What the page shows is
exactly what the runtime call returns (new-style gettext: the translation is
markup, ``%%`` reads ``%``).

Texts with placeholders, plurals and contexts are left to the runtime calls,
as Jinja2 compiles them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from jinja2 import nodes
from jinja2.ext import InternationalizationExtension
from jinja2.lexer import Token, TokenStream
from markupsafe import Markup

if TYPE_CHECKING:
    from jinja2.ext import _SupportedTranslations

#: ``_ ( "text" )``: the token types of a fixed text's call.
_CALL = ("name", "lparen", "string", "rparen")


class TranslatedTexts(InternationalizationExtension):
    """The i18n extension, with fixed texts translated at compile time."""

    _translations: _SupportedTranslations | None = None

    def _install(self, translations: _SupportedTranslations, newstyle: bool | None = None) -> None:
        self._translations = translations
        super()._install(translations, newstyle)

    def fixed(self, message: str) -> str | None:
        """``message`` as the page shows it, or None when it must be left to the page."""
        if self._translations is None or not self.environment.newstyle_gettext:  # type: ignore[attr-defined]
            return None
        try:
            # A translation is markup, as Jinja2's new-style gettext treats it.
            return str(Markup(self._translations.gettext(message)) % {})  # noqa: S704
        except (KeyError, TypeError, ValueError):  # a placeholder: filled in per page
            return None

    def filter_stream(self, stream: TokenStream) -> Iterator[Token]:
        """``_("text")`` becomes ``("translated text"|safe)``, a constant Jinja2 folds."""
        tokens = list(stream)
        i = 0
        while i < len(tokens):
            window = tokens[i : i + len(_CALL)]
            if (
                tuple(t.type for t in window) == _CALL
                and window[0].value == "_"
                and (text := self.fixed(window[2].value)) is not None
            ):
                line = window[0].lineno
                yield Token(line, "lparen", "(")
                yield Token(line, "string", text)
                yield Token(line, "pipe", "|")
                yield Token(line, "name", "safe")
                yield Token(line, "rparen", ")")
                i += len(_CALL)
                continue
            yield tokens[i]
            i += 1

    def _make_node(
        self,
        singular: str,
        plural: str | None,
        context: str | None,
        variables: dict[str, nodes.Expr],
        plural_expr: nodes.Expr | None,
        vars_referenced: bool,
        num_called_num: bool,
    ) -> nodes.Output:
        if plural is None and context is None and not variables:
            text = self.fixed(singular)
            if text is not None:
                return nodes.Output([nodes.TemplateData(text)])
        return super()._make_node(
            singular, plural, context, variables, plural_expr, vars_referenced, num_called_num
        )
