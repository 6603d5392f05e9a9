"""The scale-out path's warehouse: the loader drains Kafka into ClickHouse. The collector
produces the records (`telemetry.contracts.kafka_records`); the report reads the warehouse
(`telemetry.report.warehouse_source`). Imports the contracts only. See docs/scale-out.md.
"""
