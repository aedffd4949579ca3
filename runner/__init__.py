"""dlrun: a command-line runner for the classic deep-learning studies."""

__version__ = "0.1.0"
