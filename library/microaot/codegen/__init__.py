"""C code generation: ``emit.py`` writes model.c/.h; ``ops/`` holds one lowering module per op family."""
