"""Online signup: a company creates its own workspace from the apex host."""
