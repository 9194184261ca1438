"""Record lists: filters on any field, saved segments and bulk edits."""
