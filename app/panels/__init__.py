"""The window's panels, one module each: results (headline, bars, timeline), source, model,
record_teach. Each builds its widgets and exposes signals; the window wires them to the work."""
