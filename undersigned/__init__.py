"""Undersigned: open letters with verified, private signatures."""
