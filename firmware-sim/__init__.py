"""The sensor fleet simulator: speaks only the wire protocol, imports nothing of linli."""
