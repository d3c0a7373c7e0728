"""The X-Series API client: auth, pagination, rate budget, retries, payload parsing."""
