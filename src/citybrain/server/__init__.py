"""The operations-centre server: settings, the services it wires, and ``citybrain serve``."""
