"""``python -m services.runner up|down|status [--root DIR] [--port NAME=PORT ...]`` (until shopctl wraps it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from services.runner import Progress, RunnerConfig, RunnerError, down, status, up


def _print(p: Progress) -> None:
    print(f"[{p.elapsed_s:6.2f}s] {p.component:<9} {p.phase:<8} {p.message}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.runner")
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--root", type=Path, default=Path.cwd() / ".work" / "platform")
    parser.add_argument("--port", action="append", default=[], metavar="NAME=PORT", help="0 = pick a free port")
    parser.add_argument("--no-seed", action="store_true")
    args = parser.parse_args(argv)
    ports = {k: int(v) for k, v in (item.split("=", 1) for item in args.port)}
    cfg = RunnerConfig(root=args.root, ports=ports, progress=_print, seed_demo=not args.no_seed)
    try:
        if args.command == "up":
            platform = up(cfg)
            for name, comp in platform.components.items():
                print(f"{name:<9} pid {comp.pid:<7} {comp.url}")
            for name, why in platform.skipped.items():
                print(f"{name:<9} skipped: {why}")
            print(f"up in {platform.up_seconds}s; logs in {cfg.logs_dir}")
            return 0
        if args.command == "status":
            st = status(cfg)
            if not st.components:
                print("not running")
                return 1
            for c in st.components:
                print(
                    f"{c.name:<9} {'running' if c.running else 'STOPPED':<8} pid {c.pid:<7} port {c.port:<6} "
                    f"{c.health:<12} since {c.started_at}"
                )
            return 0 if st.healthy else 1
        report = down(cfg)
        for leftover in report.leftovers:
            print(f"LEFT BEHIND: {leftover}")
        return 0 if report.clean else 1
    except RunnerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
