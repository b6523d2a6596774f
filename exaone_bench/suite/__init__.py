"""The pytest face: plugin hooks, the session that sequences a run, collection of experiment files, item order, preflight, devices, live progress."""
