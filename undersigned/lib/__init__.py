"""Pure helpers, one small module each. Nothing here imports Django models."""
