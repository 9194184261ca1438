"""Plans, limits and usage counters, and the billing gateway (Stripe or manual)."""
