"""Run the benchmarks: ``python -m bench [NAME ...]`` (default: all). Figures go to stdout and bench/out/*.json."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from pathlib import Path

SUITES = {
    "engine": "bench.engine_bench",
    "registry": "bench.registry_bench",
    "certificates": "bench.certificates_bench",
    "public": "bench.public_bench",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", choices=[[], *SUITES], help="suites to run (default: all)")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args(argv)
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    for name in args.names or list(SUITES):
        module = importlib.import_module(SUITES[name])
        print(f"== {name} ==", flush=True)
        started = time.perf_counter()
        figures = module.run(args)
        figures["_meta"] = {"python": platform.python_version(), "machine": platform.machine(),
                            "seconds": round(time.perf_counter() - started, 1)}
        (out / f"{name}.json").write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
