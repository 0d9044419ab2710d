"""The websocket hub: frames (pure), connections, the per-process fan-out, the endpoint."""
