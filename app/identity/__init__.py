"""Platform identities (one per person), memberships in workspaces, and API tokens."""
