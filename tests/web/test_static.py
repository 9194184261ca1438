"""Static checks on the front end: logical CSS only, every visible template string marked
for translation, and message extraction that works."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STATIC = ROOT / "app" / "static"
TEMPLATES = ROOT / "app" / "templates"
WEB = ROOT / "app" / "web"

# --- CSS: logical properties only ---------------------------------------------------------

_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_BODY = re.compile(r"\{([^{}]*)\}")
_DECLARATION = re.compile(r"([-\w]+)\s*:\s*([^;]+)")
_PHYSICAL_WORD = re.compile(r"\b(left|right)\b")


def physical_declarations(css: str) -> list[str]:
    """Declarations that name a physical side: properties such as ``margin-left``,
    ``border-right-width``, ``left``, ``border-top-left-radius``, and values such as
    ``text-align: left`` or ``float: right``."""
    found = []
    for body in _BODY.findall(_COMMENT.sub("", css)):
        for prop, value in _DECLARATION.findall(body):
            prop = prop.strip().lower()
            if prop.startswith("--"):
                continue
            if {"left", "right"} & set(prop.split("-")) or _PHYSICAL_WORD.search(value.lower()):
                found.append(f"{prop}: {value.strip()}")
    return found


@pytest.mark.parametrize(
    "css",
    [
        ".a { margin-left: 1rem; }",
        ".a { padding-right: 0 }",
        ".a { border-left: 1px solid red; }",
        ".a { border-right-width: 2px; }",
        ".a { left: 0; }",
        ".a { right:0 }",
        ".a { text-align: left; }",
        ".a { text-align: RIGHT; }",
        ".a { float: left; }",
        ".a { border-top-left-radius: 2px; }",
        "@media (max-width: 40rem) { .a { scroll-margin-left: 1px; } }",
    ],
)
def test_the_css_check_catches_physical_properties(css: str) -> None:
    assert physical_declarations(css), css


def test_the_css_check_accepts_logical_properties() -> None:
    css = """/* margin-left is what we avoid */
    @media (max-width: 40rem) { .a { margin-inline-start: 1rem; padding-inline: 0 1rem;
      border-inline-end: 1px solid; inset-inline-start: 0; text-align: start; float: inline-end;
      border-start-end-radius: 2px; --left-over: 1; } }"""
    assert physical_declarations(css) == []


def test_stylesheets_use_logical_properties_only() -> None:
    sheets = sorted(STATIC.glob("*.css"))
    assert sheets, "no stylesheet found"
    for sheet in sheets:
        assert physical_declarations(sheet.read_text(encoding="utf-8")) == [], sheet.name


# --- templates: every visible string goes through _() -------------------------------------

_JINJA = re.compile(r"\{#.*?#\}|\{\{.*?\}\}|\{%.*?%\}", re.S)
_TEXT_ATTRIBUTE = re.compile(
    r"""\b(placeholder|title|aria-label|alt|label)\s*=\s*(["'])(.*?)\2""", re.S
)
_TAG = re.compile(r"<[^>]*>", re.S)
_LETTER = re.compile(r"[^\W\d_]")
# Literal text that is not language: a file name a link points at.
_NOT_LANGUAGE = {"api/docs.html": {"openapi.json", "v"}}


def untranslated_text(source: str, allowed: set[str] | frozenset[str] = frozenset()) -> list[str]:
    """Words a template shows that do not come from an expression such as ``_()``."""
    stripped = _JINJA.sub(" ", source)
    found = [
        value.strip() for _, _, value in _TEXT_ATTRIBUTE.findall(stripped) if _LETTER.search(value)
    ]
    for chunk in _TAG.sub("\n", stripped).split("\n"):
        chunk = chunk.strip()
        if chunk and _LETTER.search(chunk) and chunk not in allowed:
            found.append(chunk)
    return found


def test_the_template_check_catches_unmarked_text() -> None:
    source = """<h1>{{ _("Fine") }}</h1><p>Not marked</p>
    <input placeholder="Type here">
    <span aria-label="{{ _('Fine') }}">{% if x %}--{% endif %} 42</span>"""
    assert untranslated_text(source) == ["Type here", "Not marked"]


def test_templates_mark_every_visible_string_for_translation() -> None:
    templates = sorted(TEMPLATES.rglob("*.html"))
    assert len(templates) >= 10
    problems = {}
    for template in templates:
        name = template.relative_to(TEMPLATES).as_posix()
        found = untranslated_text(
            template.read_text(encoding="utf-8"), _NOT_LANGUAGE.get(name, set())
        )
        if found:
            problems[name] = found
    assert problems == {}


def test_view_messages_are_marked_for_translation() -> None:
    for module in sorted(WEB.glob("*.py")):
        source = module.read_text(encoding="utf-8")
        assert not re.search(r"""\bflash\(\s*f?["']""", source), module.name
        assert not re.search(r"""message\s*=\s*["']""", source), module.name


def test_message_extraction_works(tmp_path: Path) -> None:
    output = tmp_path / "messages.pot"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "_l",
            "-k",
            "lazy_gettext",
            "-o",
            str(output),
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    catalog = output.read_text(encoding="utf-8")
    for message in (
        "Wrong email or password.",  # gettext in a view
        "Remember me",  # lazy_gettext in a form
        "No contacts yet",  # a template
        "No contact matches “%(q)s”",  # a template with a placeholder
        "Sales rep",
    ):
        assert f'msgid "{message}"' in catalog, message
