"""Platform operators: the people who run the fleet, separate from tenant users."""
