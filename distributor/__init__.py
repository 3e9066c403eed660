"""distributor: the newsletter and social distribution bot of an online magazine."""

__version__ = "0.1.0"
