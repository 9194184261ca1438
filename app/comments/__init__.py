"""Comments on client cards, with @mentions."""
