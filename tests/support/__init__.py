"""Helpers the tests share: servers started for the duration of a test session."""
