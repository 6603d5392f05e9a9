"""The fleet simulation: many telemetry clients against a real collector under injected faults,
with ledgers that account for every event (`python -m tools.fleet`, `make fleet`).

- `generator`: a seeded viewer (browse and playback) as timed `track()` calls.
- `client_process`: one headless client process: the viewer, the client and its ledger.
- `ledger`: the append-only logs a client keeps, and their reconciliation with the store.
- `proxy`: the fault injector between the clients and the collector.
- `scenario`: the seeded timeline of faults.
- `processes`: starting, killing and watching the collector and client processes.
- `run`: the orchestrator: runs a scenario, drains, reconciles, prints the table.

See docs/fleet.md for what is simulated and how to read the table.
"""
