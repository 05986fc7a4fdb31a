"""Benchmarks (``make bench``): speed and memory targets of the issues, measured, never asserted in tests."""
