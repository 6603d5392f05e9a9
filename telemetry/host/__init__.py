"""The collector host: one server process serving ingestion (`telemetry.collector`), the
recommender's feed and scheduled training (`telemetry.recommend`), and the operators' live
dashboard of the report's figures (`dashboard.py`). It is the one package that composes the
products; the collector and the report import only `telemetry.contracts`, so each can be
installed and reasoned about alone, and none of them imports this package.
"""
