"""relsar_core.data."""
