"""The camera runtime: the ``analyze`` runner, and the server's camera workers and supervisor.

- :mod:`~citybrain.runtime.loop`: the frame loop, the one ``analyze`` and every camera run;
- :mod:`~citybrain.runtime.analyze`: ``analyze``'s engine (the loop into files);
- :mod:`~citybrain.runtime.supervisor`: keeps worker processes running the store's cameras;
- :mod:`~citybrain.runtime.camera_plan`: a stored camera's validated config, as the supervisor
  plans it and a worker receives it;
- :mod:`~citybrain.runtime.worker_handle`: the server's side of one worker process (its queues);
- :mod:`~citybrain.runtime.worker_process`: what runs inside a worker process: cameras as
  threads, one shared detector;
- :mod:`~citybrain.runtime.camera`: one camera's thread (reader, loop, retries, health), and
  :mod:`~citybrain.runtime.camera_sink`, where its results go up;
- :mod:`~citybrain.runtime.messages`: the typed messages between server and workers.

Nothing is imported here, so that importing the messages stays cheap.
"""

__all__: list[str] = []
