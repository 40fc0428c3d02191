"""Autotuning: knob spaces (space.py), the tuner (tuner.py), the tuning log (log.py), ``microaot tune`` (cli.py)."""
