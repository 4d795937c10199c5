"""``station-sim app``: serve the page for policy teams on this machine."""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from sim.commands.options import EXIT_USAGE
from sim.config.errors import ConfigError

__all__ = ["DEFAULT_PORT", "add_app_commands", "app_command"]

DEFAULT_PORT = 8501
PAGE = Path(__file__).resolve().parents[1] / "app" / "page.py"


def add_app_commands(commands: Any) -> None:
    app = commands.add_parser(
        "app",
        help="serve the web page for policy teams on this machine",
        description="Start the local web page (Streamlit) that compares coverage models at "
        "one station and national programmes for France, without writing YAML. It serves "
        "on localhost only and prints its address; Ctrl-C stops it. Needs the app extra: "
        "pip install -e '.[app]'.",
    )
    app.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port to serve on (default {DEFAULT_PORT})"
    )
    app.set_defaults(handler=_app)


def app_command(port: int) -> list[str]:
    """The Streamlit command that serves the page on ``localhost:port``."""
    return [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(PAGE),
        "--server.address",
        "localhost",
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        "--browser.gatherUsageStats",
        "false",
        # A policy team reads the page; Streamlit's developer menu (deploy, rerun,
        # clear cache) is not for them.
        "--client.toolbarMode",
        "viewer",
    ]


def _app(args: argparse.Namespace) -> int:
    if not 1 <= args.port <= 65535:
        raise ConfigError(f"--port {args.port}: give a port from 1 to 65535")
    if importlib.util.find_spec("streamlit") is None:
        print(
            "station-sim: error: the web page needs the app extra; install it with\n"
            '  pip install -e ".[app]"',
            file=sys.stderr,
        )
        return EXIT_USAGE
    print(f"station-sim app: serving on http://localhost:{args.port} (Ctrl-C stops it)", flush=True)
    command = app_command(args.port)
    # Streamlit takes this process's place, so that a signal to stop the app (Ctrl-C,
    # a test's terminate) reaches the server itself and leaves no orphan behind.
    os.execv(command[0], command)
    return 0  # not reached
