"""relsar_core.pose.vitpose."""
