"""Integration hub for public-sector service desks."""

__version__ = "0.1.0"
