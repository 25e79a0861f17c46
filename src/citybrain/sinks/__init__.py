"""Where analysis results go: files for the command line, the outbox for a server's camera.

:mod:`~citybrain.sinks.base` holds the interface between the frame loop and its outputs.
"""
