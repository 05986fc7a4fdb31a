"""Placeholder: written by the registry work (import and search benchmarks)."""


def run(args) -> dict:
    return {}
