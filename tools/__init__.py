"""Tools run from the command line, never by a request: the demo market seeder (tools/demo.py,
`python main.py seed-demo`). They may use every room below the handlers."""
