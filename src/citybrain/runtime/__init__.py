"""The camera runtime: the ``analyze`` runner, and the server's camera workers and supervisor.

- :mod:`~citybrain.runtime.supervisor`: keeps worker processes running the store's cameras;
- :mod:`~citybrain.runtime.worker`: one worker process, cameras as threads, one shared detector;
- :mod:`~citybrain.runtime.camera`: one camera's thread (reader, pipeline, messages up);
- :mod:`~citybrain.runtime.messages`: the typed messages between server and workers.

Nothing is imported here, so that importing the messages stays cheap.
"""

__all__: list[str] = []
