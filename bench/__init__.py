"""Benchmarks of pwless-gate: ``make bench`` runs them all and writes ``bench/results.md``.

Not a test suite: nothing here asserts on time. Every server is started on
127.0.0.1 by the benchmark that needs it and stopped by its pid.
"""
