"""microaot: ahead-of-time compiler of small TFLite models into portable C for microcontrollers."""

__version__ = "0.1.0"
