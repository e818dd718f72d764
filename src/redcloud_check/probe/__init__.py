"""The scheduled production health probe and its Prometheus metrics."""
