"""citybrain: an open-source operations centre for city video."""

__version__ = "0.1.0"
