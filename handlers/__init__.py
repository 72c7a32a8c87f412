"""HTTP and WebSocket handlers: thin (parse, authorise, call a service, answer)."""
