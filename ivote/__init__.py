"""ivote: Estonian-style internet voting, universally verifiable."""

__version__ = "0.1.0"
