"""The scale-out path: collectors produce to Kafka, the loader fills ClickHouse.

See docs/scale-out.md.
"""
