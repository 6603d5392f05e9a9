"""Reelscope's ingestion server: authenticated, deduplicating, size-limited, durable.

Run by the collector host (`reelscope-collector serve`, `telemetry.host`), which adds the feed
and whatever else it serves as `app.Service`s; readers open what it stores with
`telemetry.contracts.stored.open_store_readonly`. Imports the contracts only; nothing here
imports Qt or libVLC.
"""
