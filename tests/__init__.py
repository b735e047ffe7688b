"""The kit's tests: one folder per area of buildlib, shared helpers in ``tests.helpers``."""
