"""Organizer pages: their letters (write, publish, watch, export) and their keys."""
