"""The collector host: what one collector process serves besides the collector's own API
(the operators' dashboard, `telemetry.host.dashboard`). It may import the collector, the report,
the recommender and the contracts; none of them imports it."""
