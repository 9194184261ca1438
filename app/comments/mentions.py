"""@mentions inside a comment's text: one stable token, parsed, rewritten and rendered.

A mention is stored in the body as ``@[Ann Lee](user:42)``: the user id is what counts
(it survives a rename and two members with the same name), the name is only what a
reader sees. People never type the token: the card's comment box (``mentions.js``)
shows ``@Ann Lee`` and writes the token when the form is sent; API clients write
tokens themselves. The service rewrites every token's name to the member's current
display name (:func:`canonical`), so a writer can not make ``user:42`` read "CEO".

Rendering (:func:`render_html`) escapes everything, names included, and wraps each
mention in a ``<span class="mention">``: neither a body nor a member's name can bring
markup onto a page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from markupsafe import Markup, escape

from app.input_rules import MAX_BIGINT

# The name part may hold anything but brackets and line breaks (a display name never
# has them after :func:`token_name`); the id has no leading zero, so one user has one
# spelling.
TOKEN = re.compile(r"@\[(?P<name>[^\[\]\r\n]{1,200})\]\(user:(?P<id>[1-9][0-9]{0,18})\)")
_UNSAFE_IN_NAME = re.compile(r"[\[\]\r\n\t]+")
MAX_NAME = 200


@dataclass(frozen=True, slots=True)
class Mention:
    """One token found in a body: where it is, the name it shows and the user it names
    (``user_id`` may be beyond bigint: such an id names nobody)."""

    start: int
    end: int
    name: str
    user_id: int


def find(body: str) -> Iterator[Mention]:
    """Every mention token of ``body``, in order."""
    for match in TOKEN.finditer(body):
        yield Mention(match.start(), match.end(), match["name"], int(match["id"]))


def mentioned_ids(body: str) -> list[int]:
    """The user ids ``body`` mentions, each once, in order of first mention."""
    return list(dict.fromkeys(m.user_id for m in find(body)))


def token_name(name: str) -> str:
    """``name`` as it can sit inside a token: no brackets or line breaks, trimmed,
    never empty, at most :data:`MAX_NAME` characters."""
    cleaned = _UNSAFE_IN_NAME.sub(" ", name).strip()[:MAX_NAME].strip()
    return cleaned or "?"


def token(name: str, user_id: int) -> str:
    """The token that mentions ``user_id`` showing ``name``."""
    if not 1 <= user_id <= MAX_BIGINT:
        raise ValueError(f"not a user id: {user_id}")
    return f"@[{token_name(name)}](user:{user_id})"


def canonical(body: str, names: Mapping[int, str]) -> str:
    """``body`` with each token's name replaced by ``names[user_id]`` (tokens of ids
    missing from ``names`` are left as they are; the caller has refused those)."""

    def rewrite(match: re.Match[str]) -> str:
        user_id = int(match["id"])
        return token(names[user_id], user_id) if user_id in names else match[0]

    return TOKEN.sub(rewrite, body)


def plain_text(body: str) -> str:
    """``body`` as people read it: each token becomes ``@Name`` (mail text, excerpts)."""
    return TOKEN.sub(lambda m: "@" + m["name"], body)


def excerpt(body: str, limit: int = 200) -> str:
    """The start of :func:`plain_text` on one line, cut at ``limit`` characters."""
    text = " ".join(plain_text(body).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def render_html(body: str) -> Markup:
    """``body`` as safe HTML: text escaped, each mention a highlighted ``@Name``
    (line breaks stay characters: the page shows them with ``white-space: pre-wrap``)."""
    parts: list[str] = []
    position = 0
    for mention in find(body):
        parts.append(escape(body[position : mention.start]))
        parts.append(
            Markup('<span class="mention" data-user-id="{}">@{}</span>').format(
                mention.user_id, mention.name
            )
        )
        position = mention.end
    parts.append(escape(body[position:]))
    return Markup("").join(parts)
