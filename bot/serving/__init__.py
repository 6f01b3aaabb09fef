"""The serving path: where answers come from (`backends`: the protocol, and the engine in a
thread; `workers`: the engine in processes, talking over `pipe`), and the `batcher` that feeds
them questions in batches."""
