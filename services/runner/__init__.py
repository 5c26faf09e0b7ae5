"""Local platform runner: the shop on this machine, without Docker.

Public API (what ``shopctl up/down/status`` in conformance/cli.py calls)::

    from services.runner import RunnerConfig, up, status, down, RunnerError

    cfg = RunnerConfig(root=Path(".work/platform"), progress=print)   # every field optional
    platform = up(cfg)              # -> Platform: .components[name].url/.port/.pid, .skipped, .up_seconds
    st = status(cfg)                # -> PlatformStatus: .components (running, listening, health), .healthy
    report = down(cfg)              # -> DownReport: .stopped, .leftovers, .clean
    stop_component(cfg, "catalog")  # one component down (resilience drills); its state entry stays
    start_component(cfg, "catalog") # the same component back on its port, healthy; callers reconnect

* ``up`` raises ``RunnerError`` with one readable message (which component, which log file, or which Debian
  package is missing) and, unless ``keep_on_failure=True``, stops whatever it had started.
* ``status``/``down`` read ``<root>/state.json``, so they work from another process than ``up``.
* Progress: ``RunnerConfig.progress`` receives ``Progress(component, phase, message, elapsed_s)`` events.
* Logs: ``<root>/logs/<component>.log``. Secrets: generated once into ``<root>/secrets`` (0600), stored in the
  AWS emulator's Secrets Manager under ``eks-shop/local/<service>/<name>``, read back into
  ``<root>/secrets/<service>/`` which is the service's ``SHOP_SECRETS_DIR``.

Also ``python -m services.runner up|down|status [--root DIR]``.
"""

from services.runner.components import start_component, stop_component
from services.runner.config import Progress, RunnerConfig
from services.runner.platform import DownReport, Platform, PlatformStatus, RunnerError, down, status, up

__all__ = [
    "DownReport",
    "Platform",
    "PlatformStatus",
    "Progress",
    "RunnerConfig",
    "RunnerError",
    "down",
    "start_component",
    "status",
    "stop_component",
    "up",
]
