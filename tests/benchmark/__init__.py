"""The benchmark: the real system against raw aiokafka, measured side by side (``make bench``).

Timings live here and never in the tests: see the README's Performance section.
"""
