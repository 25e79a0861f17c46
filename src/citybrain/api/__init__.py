"""The HTTP API: ``citybrain.api.main.create_app(services)``.

Nothing is imported here, so that the server's services can import the hub and metrics
without importing the whole app.
"""

__all__: list[str] = []
