"""relsar_core.live."""
