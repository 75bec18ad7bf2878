"""A small HTML-level checker for the main pages (no browser here): structure and basics of a11y.

It catches what breaks pages for screen readers and validators most often: unbalanced or
misnested elements, duplicate ids, images without ``alt``, form fields without a label, a page
without ``lang`` or without exactly one ``h1``.
"""

from __future__ import annotations

from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source",
        "track", "wbr"}  # fmt: skip
# Elements whose end tag HTML lets us omit; we never omit them, but tolerate the parser's view.
OPTIONAL_END = {"p", "li", "dt", "dd", "option", "tr", "td", "th", "thead", "tbody"}


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.problems: list[str] = []
        self.ids: set[str] = set()
        self.labels: set[str] = set()
        self.fields: list[tuple[str, str | None, dict]] = []
        self.h1 = 0
        self.html_lang = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        if "id" in a:
            if a["id"] in self.ids:
                self.problems.append(f"duplicate id {a['id']!r}")
            self.ids.add(a["id"])
        if tag == "img" and "alt" not in a:
            self.problems.append(f"img without alt: {a.get('src')}")
        if tag == "label" and a.get("for"):
            self.labels.add(a["for"])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.fields.append((tag, a.get("id"), a))
        if tag == "h1":
            self.h1 += 1
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.stack.pop()

    def handle_endtag(self, tag):
        if tag in VOID:
            self.problems.append(f"end tag for void element {tag}")
            return
        if not self.stack or self.stack[-1] != tag:
            self.problems.append(f"misnested </{tag}>; open: {self.stack[-3:]}")
            if tag in self.stack:
                while self.stack.pop() != tag:
                    pass
            return
        self.stack.pop()


def check_html(html: str) -> list[str]:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    problems = list(checker.problems)
    if not html.lstrip().lower().startswith("<!doctype html>"):
        problems.append("missing doctype")
    if checker.stack:
        problems.append(f"unclosed elements: {checker.stack}")
    if not checker.html_lang:
        problems.append("<html> without lang")
    if checker.h1 != 1:
        problems.append(f"{checker.h1} h1 elements (want exactly one)")
    for tag, field_id, attrs in checker.fields:
        if not (field_id and field_id in checker.labels) and "aria-label" not in attrs:
            problems.append(f"{tag} {field_id or attrs.get('name')} has no label")
    return problems
