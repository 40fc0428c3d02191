"""Helpers for tests, fuzzing and examples (model generation). Not used by the compiler itself."""
