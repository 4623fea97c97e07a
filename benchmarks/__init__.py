"""Benchmarks of the running mesh: `python -m benchmarks --profile quick` (`make bench-quick`).

Each section (latency, batch, streaming, throughput, load, resources) measures the real mesh
(Triton + the six services on loopback ports) with fixed, documented workloads built from
samples/; results go to benchmarks/results/ as JSON, PNG plots and a Markdown summary.
See docs/performance.md for the method and how to read the numbers.
"""
