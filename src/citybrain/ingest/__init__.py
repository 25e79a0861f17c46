"""Video ingest: read files and camera streams, sample frames for analysis by timestamp."""

from citybrain.ingest.options import ReaderOptions
from citybrain.ingest.reader import Reader
from citybrain.ingest.sampler import Sampler
from citybrain.ingest.stats import ReaderStats
from citybrain.ingest.urls import redact_url

__all__ = ["Reader", "ReaderOptions", "ReaderStats", "Sampler", "redact_url"]
