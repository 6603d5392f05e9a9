"""`reelscope-report`: quality-of-experience, engagement and data-quality figures computed from
the collector's store, as defined in `events-and-metrics.md`. See `docs/report.md`."""
