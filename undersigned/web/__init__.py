"""Web plumbing: middleware, error and health views, sessions, caching, HTTP helpers."""
