"""The command line: help, one-line errors for user mistakes, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def _run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("ARCONNECT_")}
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "arconnect.cli", *args], env=full_env,
                          capture_output=True, text=True, timeout=60)


def test_help_lists_the_commands() -> None:
    out = _run("--help")
    assert out.returncode == 0
    for command in ("demo", "sync", "tenants", "sandbox", "mappings", "db"):
        assert command in out.stdout


@pytest.mark.parametrize("args, env, message", [
    (("tenants", "list"), {"ARCONNECT_DATABASE_URL": "mysql://localhost/x"},
     "ARCONNECT_DATABASE_URL: unknown scheme 'mysql'"),
    (("tenants", "add", "xero", "--client-id", "a", "--client-secret", "b",
      "--refresh-token", "c"), {}, "ARCONNECT_SECRET_KEY is not set"),
    (("sync", "nope"), {}, "no tenant 'nope'"),
])
def test_user_errors_are_one_line(args: tuple[str, ...], env: dict[str, str],
                                  message: str) -> None:
    out = _run(*args, **env)
    assert out.returncode == 2, out.stdout + out.stderr
    assert message in " ".join(out.stderr.split())
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) <= 3  # one message, wrapped at most
