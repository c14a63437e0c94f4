"""Calls of the performance routes; see ../run.py."""


def run(api, ctx):
    pass
