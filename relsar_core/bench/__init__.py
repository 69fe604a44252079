"""Benchmarks behind `relsar-bench`. Each part is a module here with
`run(quick: bool) -> list[Measurement]`; the CLI runs them, prints one table and writes JSON."""

PARTS = ("classifier", "pose", "pipeline", "train")  # `relsar-bench all` runs these
EXTRA_PARTS = ("scaling", "teach", "tracking", "people", "byol-study")  # each only on its own
