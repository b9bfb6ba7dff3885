"""The two ways prod-check stops short, each worded for one line on the terminal."""


class SetupError(RuntimeError):
    """A piece of the topology is missing or cannot start (no PostgreSQL, port taken, no Java...)."""


class CheckFailed(AssertionError):
    """A check ran and its promise does not hold."""
