"""Reelscope's ingestion server: authenticated, deduplicating, size-limited, durable.

Started with `reelscope-collector serve` (see `cli.py`); the report opens what it stores with
`telemetry.collector.store.open_store_readonly`. Nothing here imports Qt or libVLC.
"""
