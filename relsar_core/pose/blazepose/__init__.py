"""relsar_core.pose.blazepose."""
