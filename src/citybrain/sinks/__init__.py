"""Where analysis results go: files for the command line, the store for the server."""
