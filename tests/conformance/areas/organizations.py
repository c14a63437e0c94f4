"""Calls of the organizations routes; see ../run.py."""


def run(api, ctx):
    pass
