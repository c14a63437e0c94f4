"""Calls of the devops routes; see ../run.py."""


def run(api, ctx):
    pass
