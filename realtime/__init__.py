"""Live connections: the registry of sockets per user and the bus that delivers frames to them."""
