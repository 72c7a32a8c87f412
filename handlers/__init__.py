"""HTTP and WebSocket handlers: thin (parse, authorise, call an action for a change or a rule for a read, answer); one root, handlers/base.py."""
