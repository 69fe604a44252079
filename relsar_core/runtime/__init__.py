"""relsar_core.runtime."""
