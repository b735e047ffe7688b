"""Invoke collections. The root tasks.py assembles them; another project can import any one whole."""
