"""The local MongoDB-wire server (nx-27017, SQLite-backed), as the runner and the tests start it.

``python -m services.runner.mongo_wire <nx-27017 arguments>`` (``stores.mongo_command`` builds the command line)
runs nx-27017 in its threaded mode, with its own log lines at WARNING and above. Why:

- threaded: one thread per client connection, commands run in that thread. The asyncio mode hands every command
  to a worker thread (``asyncio.to_thread``) and back, which cost about 10 % more CPU per order placed
  (docs/benchmarks.md). Both modes run commands one at a time behind the same handler lock.
- WARNING: the threaded server logs one INFO line per command ("Command response: ..."): CPU for every database
  call and a log that grows by a few hundred bytes per order, without end.
"""

from __future__ import annotations

import logging
import sys


def main() -> None:
    try:
        from nx_27017.nx_27017 import main as nx_main
    except ImportError:
        sys.exit("nx-27017 is not installed: pip install -e '.[dev]' (bash scripts/setup.sh does it)")
    logging.getLogger("nx_27017").setLevel(logging.WARNING)
    sys.argv[0] = "nx-27017"
    nx_main()


if __name__ == "__main__":
    main()
