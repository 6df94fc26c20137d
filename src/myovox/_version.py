"""The version of myovox, in a module of its own so that deep modules need not import the package root."""

__version__ = "0.1.0"
