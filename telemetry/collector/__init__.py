"""Reelscope's ingestion server: authenticated, deduplicating, size-limited, durable.

Started with `reelscope-collector serve` (see `cli.py`); readers open what it stores with
`telemetry.contracts.stored.open_store_readonly`. Imports the contracts and the feed service
(`telemetry.recommend`) only; nothing here imports Qt or libVLC.
"""
