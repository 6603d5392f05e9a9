"""What every telemetry product shares and none of them owns: the event vocabulary
(`events.py`) and the device-ownership proof (`device_proof.py`) that the client sends and the
collector checks. Imports nothing else of ours; nothing here imports Qt or libVLC.
"""
