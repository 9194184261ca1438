"""Companies: the organisations a tenant sells to, with their people and deals."""
