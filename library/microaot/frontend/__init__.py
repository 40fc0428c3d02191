"""Model importers: each turns a model file into an ``ir.Graph``."""
