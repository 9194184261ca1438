"""The client timeline: one time-ordered history per contact, company and deal."""
