"""Load generators for the websocket hub and the bare baseline they are compared with.

``python -m bench.hub_bench`` is the one harness; bench/README.md says how to run it and
docs/benchmarks.md holds the results.
"""
