"""HTTP layer: thin handlers that parse, authorize (through the use cases), call, reply."""
