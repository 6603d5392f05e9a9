"""The collector host: one server process serving ingestion (`telemetry.collector`), the
recommender's feed and scheduled training (`telemetry.recommend`) and whatever else an operator
runs beside them. It is the one package that composes the products; the collector and the
report import only `telemetry.contracts`, so each can be installed and reasoned about alone.
"""
