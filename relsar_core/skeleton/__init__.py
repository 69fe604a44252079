"""relsar_core.skeleton."""
