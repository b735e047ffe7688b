"""Monitoring for the deployed service: Prometheus rules and scrape configuration from build.yaml.

- ``settings``: the ``monitoring:`` section (thresholds with the deployment guide's values);
- ``rules``: alerting and recording rules, the scrape configuration for the fleet, and the
  promtool unit tests that prove each alert fires above its threshold and stays silent below;
- ``check``: promtool on all of it, and the service's own /metrics for the metrics the rules read.
"""
