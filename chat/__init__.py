"""Support chat server: websocket hub, widget, agent console, group support chats."""

__version__ = "0.1.0"
