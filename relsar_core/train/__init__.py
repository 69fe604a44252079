"""relsar_core.train."""
