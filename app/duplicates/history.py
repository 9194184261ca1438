"""How a merge reads in people's words: on the kept record's timeline ("Ann merged
Anne Lee into this contact; brought over 3 activities and 1 deal") and on the merge
page ("will move: ...")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask_babel import gettext as _
from flask_babel import ngettext


def moved_phrases(moved: dict[str, Any]) -> list[str]:
    """``{"activities": 3, "deals": 1}`` as ``["3 activities", "1 deal"]``, per table in
    the order given; tables this code does not know by name are shown by their name."""
    phrases = []
    for table, count in moved.items():
        if type(count) is not int or count <= 0:
            continue
        if table == "activities":
            phrases.append(ngettext("%(num)d activity", "%(num)d activities", count))
        elif table == "deals":
            phrases.append(ngettext("%(num)d deal", "%(num)d deals", count))
        elif table == "timeline_events":
            phrases.append(ngettext("%(num)d history entry", "%(num)d history entries", count))
        elif table == "contacts":
            phrases.append(ngettext("%(num)d contact", "%(num)d contacts", count))
        elif table == "comments":
            phrases.append(ngettext("%(num)d comment", "%(num)d comments", count))
        else:
            phrases.append(f"{count} {table.replace('_', ' ')}")
    return phrases


def merged_lines(
    who: str, entity_word: str, data: dict[str, Any], field_label: Callable[[str], str]
) -> list[str]:
    """The lines of a "merged" timeline event (its data: ``merged`` {id, name},
    ``moved`` {table: count}, ``changes`` {field: [old, new]}); ``field_label`` names a
    field as the timeline does."""
    merged = data.get("merged") if isinstance(data.get("merged"), dict) else {}
    name = str((merged or {}).get("name") or "") or _("a duplicate")
    lines = [
        _("%(who)s merged %(name)s into this %(entity)s", who=who, name=name, entity=entity_word)
    ]
    moved = data.get("moved") if isinstance(data.get("moved"), dict) else {}
    phrases = moved_phrases(moved or {})
    if phrases:
        lines.append(_("Brought over: %(what)s", what=", ".join(phrases)))
    changes = data.get("changes") if isinstance(data.get("changes"), dict) else {}
    if changes:
        labels = ", ".join(field_label(str(name)) for name in changes)
        lines.append(_("Changed by the merge: %(fields)s", fields=labels))
    return lines
