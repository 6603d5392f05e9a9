"""The telemetry client the desktop app embeds: recording events (`client.py`, `writer.py`),
the durable outbox and the sender that drains it to a collector, consent and status, the
measurement rules the UI calls (visibility, tile actions, disclosure), and the viewer's requests
to the server (feed, test connection, deleting their data). Nothing here imports Qt or libVLC.
"""
