"""Ingest tests use the RTSP fixtures that tests/conftest.py provides (tests/support/rtsp.py)."""
