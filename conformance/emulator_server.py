"""The embedded emulator's process: moto's server with the shims of :mod:`conformance.shims` applied first.

Run as ``python -m conformance.emulator_server -H 127.0.0.1 -p 4566``; the arguments are moto.server's own. The
shims patch moto's classes in this process only, so the moto that the rest of the project imports stays stock.
"""

from __future__ import annotations

import sys

from conformance.shims import apply_all


def main(argv: list[str] | None = None) -> None:
    apply_all()  # before moto builds any backend: some shims are read at backend creation
    from moto.server import main as moto_main

    moto_main(argv if argv is not None else sys.argv[1:])


if __name__ == "__main__":
    main()
