"""Sales pipelines and their stages (the funnel issue builds the board on these)."""
