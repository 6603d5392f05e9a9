"""What every telemetry product shares and none of them owns: the event vocabulary
(`events.py`, and `event_types.py` for the readers), the device-ownership proof
(`device_proof.py`) that the client sends and the collector checks, the stored rows and how
readers open the store (`stored.py`), and the Kafka record format and URLs between the
collector and the loader (`kafka_records.py`, `kafka_url.py`). Imports nothing else of ours;
nothing here imports Qt or libVLC.
"""
