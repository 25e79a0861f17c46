"""City-data fixtures: PostgreSQL with PostGIS (the running server, or one the tests start)."""

from __future__ import annotations

from support.postgres import own_postgres, postgis_url, postgres_server

__all__ = ["own_postgres", "postgis_url", "postgres_server"]
