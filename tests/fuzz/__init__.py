"""A seeded LSP fuzzer that speaks to the real `hearth serve` over stdio (docs/fuzzing.md)."""
