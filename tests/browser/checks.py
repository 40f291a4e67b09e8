"""What a page must get right in a real browser: names, focus, keyboard order, phone width.

Each function inspects the rendered page (computed styles, layout boxes,
the focused element) and returns what it found, so tests can assert with
readable failures.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from playwright.sync_api import Page

#: Elements a keyboard reaches with Tab on the gate's pages.
FOCUSABLE = 'a[href], button, input:not([type="hidden"]), select, textarea'

_DESCRIBE = """
el => {
  if (!el || el === document.body) return "body";
  const name = el.id ? "#" + el.id : (el.name ? `[name=${el.name}]` : "");
  const text = (el.innerText || el.value || "").trim().slice(0, 40);
  return `${el.tagName.toLowerCase()}${name}${text ? " '" + text + "'" : ""}`;
}
"""

_VISIBLE = """
el => {
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return style.visibility !== "hidden" && style.display !== "none" && box.width > 0
    && box.height > 0;
}
"""


def _all(page: Page, script: str, arg: Any = None) -> Any:
    """Run ``script`` (a JS function of one argument) with the helpers above in scope."""
    source = (
        f"arg => {{ const describe = {_DESCRIBE}; const visible = {_VISIBLE};"
        f" return ({script})(arg); }}"
    )
    return page.evaluate(source, arg)


def unlabelled_fields(page: Page) -> list[str]:
    """Visible inputs, selects and textareas without a label[for], wrapping label or aria name."""
    found: list[str] = _all(
        page,
        """() => [...document.querySelectorAll('input:not([type="hidden"]), select, textarea')]
          .filter(visible)
          .filter(el => {
            const byFor = el.id && [...document.querySelectorAll("label")]
              .some(l => l.htmlFor === el.id && l.textContent.trim());
            const wrapped = el.closest("label") && el.closest("label").textContent.trim();
            const aria = (el.getAttribute("aria-label") || "").trim()
              || (el.getAttribute("aria-labelledby") || "").split(/\\s+/)
                   .some(id => id && document.getElementById(id)
                         && document.getElementById(id).textContent.trim());
            return !(byFor || wrapped || aria);
          })
          .map(describe)""",
    )
    return found


def unnamed_buttons(page: Page) -> list[str]:
    """Buttons (and submit inputs) whose accessible name would be empty."""
    found: list[str] = _all(
        page,
        """() => [...document.querySelectorAll('button, input[type="submit"], [role="button"]')]
          .filter(el => !((el.innerText || "").trim() || (el.value || "").trim()
                          || (el.getAttribute("aria-label") || "").trim()
                          || (el.getAttribute("aria-labelledby") || "").trim()))
          .map(describe)""",
    )
    return found


def focusables(page: Page) -> list[str]:
    """The visible, enabled elements Tab can reach, in document order."""
    found: list[str] = _all(
        page,
        """sel => [...document.querySelectorAll(sel)]
          .filter(el => visible(el) && !el.disabled && el.tabIndex >= 0)
          .map(describe)""",
        FOCUSABLE,
    )
    return found


def first_field(page: Page) -> str | None:
    """The first visible form control (input, select, textarea or button), if any."""
    found = _all(
        page,
        """() => [...document.querySelectorAll(
              'input:not([type="hidden"]), select, textarea, button')]
          .filter(el => visible(el) && !el.disabled)
          .map(describe)""",
    )
    return found[0] if found else None


@dataclass(frozen=True)
class Focused:
    """The focused element and how it looks."""

    name: str
    top: float
    left: float
    outline_style: str
    outline_width: float
    outline_color: str

    @property
    def ring_visible(self) -> bool:
        transparent = self.outline_color in ("transparent", "rgba(0, 0, 0, 0)")
        return self.outline_style != "none" and self.outline_width >= 2 and not transparent


def focused(page: Page) -> Focused:
    data = _all(
        page,
        """() => {
          const el = document.activeElement;
          const box = el.getBoundingClientRect();
          const style = getComputedStyle(el);
          return {name: describe(el), top: box.top + scrollY, left: box.left + scrollX,
                  outline_style: style.outlineStyle,
                  outline_width: parseFloat(style.outlineWidth) || 0,
                  outline_color: style.outlineColor};
        }""",
    )
    return Focused(**data)


def tab_through(page: Page, count: int) -> list[Focused]:
    """Click the heading, then press Tab ``count`` times; what had focus after each press.

    The click moves the browser's starting point for Tab to the top of the
    content, whichever field the page focused on load.
    """
    page.locator("h1").click()
    seen: list[Focused] = []
    for _ in range(count):
        page.keyboard.press("Tab")
        seen.append(focused(page))
    return seen


@dataclass(frozen=True)
class Overflow:
    """Something wider than the viewport, or cut off at its edges."""

    name: str
    left: float
    right: float


def page_width(page: Page) -> int:
    return int(page.evaluate("document.scrollingElement.scrollWidth"))


def controls_outside(page: Page, width: int) -> list[Overflow]:
    """Visible inputs, buttons and links whose box leaves ``[0, width]`` or clips its text."""
    found = _all(
        page,
        """width => [...document.querySelectorAll('input:not([type="hidden"]), button, a')]
          .filter(visible)
          .filter(el => {
            const box = el.getBoundingClientRect();
            const clipped = el.tagName !== "A" && el.scrollWidth > el.clientWidth + 1;
            return box.left < 0 || box.right > width || clipped;
          })
          .map(el => { const box = el.getBoundingClientRect();
                       return {name: describe(el), left: box.left, right: box.right}; })""",
        width,
    )
    return [Overflow(**item) for item in found]


def small_targets(page: Page, minimum: float = 44) -> list[str]:
    """Visible inputs and buttons shorter than ``minimum`` CSS pixels (hard to tap)."""
    found: list[str] = _all(
        page,
        """minimum => [...document.querySelectorAll('input:not([type="hidden"]), button, .button')]
          .filter(visible)
          .filter(el => el.getBoundingClientRect().height < minimum)
          .map(describe)""",
        minimum,
    )
    return found
