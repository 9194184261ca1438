"""Built-in roles seeded into every new workspace.

The matrix is resource -> action -> scope. The access-rights issue makes roles editable;
these are the starting point every tenant gets.
"""

from __future__ import annotations

from typing import Any

RESOURCES = (
    "contacts",
    "companies",
    "deals",
    "activities",
    "pipelines",
    "custom_fields",
    "users",
    "roles",
    "billing",
    "imports",
    "exports",
    "reports",
    "api_tokens",
    "settings",
)
ACTIONS = ("view", "create", "edit", "delete", "export")
SCOPES = ("none", "own", "team", "all")
RECORD_RESOURCES = ("contacts", "companies", "deals", "activities")


def _matrix(default: str, **overrides: dict[str, str]) -> dict[str, dict[str, str]]:
    matrix = {res: dict.fromkeys(ACTIONS, default) for res in RESOURCES}
    for res, actions in overrides.items():
        matrix[res].update(actions)
    return matrix


def _records(scope: str, export: str = "none") -> dict[str, dict[str, str]]:
    return {
        res: {"view": scope, "create": scope, "edit": scope, "delete": scope, "export": export}
        for res in RECORD_RESOURCES
    }


_VIEW_ALL = {"view": "all"}

BUILTIN_ROLES: dict[str, dict[str, Any]] = {
    "owner": {
        "name": "Owner",
        "description": "Everything, including billing. Can not be edited or removed.",
        "permissions": _matrix("all"),
    },
    "admin": {
        "name": "Admin",
        "description": "Manages the workspace, its people and settings.",
        "permissions": _matrix("all", billing=_VIEW_ALL),
    },
    "manager": {
        "name": "Manager",
        "description": "Sees and works the records of their team.",
        "permissions": _matrix(
            "none",
            **_records("team", export="team"),
            pipelines=_VIEW_ALL,
            custom_fields=_VIEW_ALL,
            users=_VIEW_ALL,
            reports={"view": "team", "export": "team"},
            api_tokens={"view": "own", "create": "own", "delete": "own"},
        ),
    },
    "sales_rep": {
        "name": "Sales rep",
        "description": "Works their own clients.",
        "permissions": _matrix(
            "none",
            **_records("own"),
            pipelines=_VIEW_ALL,
            custom_fields=_VIEW_ALL,
            users=_VIEW_ALL,
            reports={"view": "own"},
            api_tokens={"view": "own", "create": "own", "delete": "own"},
        ),
    },
    "viewer": {
        "name": "Viewer",
        "description": "Sees everything, changes nothing.",
        "permissions": _matrix(
            "none", **{res: _VIEW_ALL for res in (*RECORD_RESOURCES, "pipelines", "reports")}
        ),
    },
}
