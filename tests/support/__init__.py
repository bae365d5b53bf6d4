"""Helpers shared by every suite: one isolated ``World``, the CLI's text readers, one host program
and the tools that run it and watch what it sent.

Imported as a normal package (``from tests.support.world import World``): pytest's ``pythonpath``
puts the repository root first on ``sys.path``, and subprocesses get it through ``PYTHONPATH``
(``World.env``), so helper programs run as ``python -m tests.support.host``.
"""
