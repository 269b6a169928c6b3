"""`ivote demo`: a whole election on this machine (ivote/demo/command.py)."""

from ivote.demo.command import demo

__all__ = ["demo"]
