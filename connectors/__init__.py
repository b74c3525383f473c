"""Built-in connectors, one package per family. Each is registered in pyproject.toml under the
entry-point group `hub.connectors`, exactly like a third-party connector would be."""
