"""Analytics: persons, metrics, tiers and predictions computed from the stored facts."""
