"""Calls of the system routes; see ../run.py."""


def run(api, ctx):
    pass
