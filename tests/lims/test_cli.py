"""The `lims` command as a person runs it: a real process, a real port."""

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

LIMS = str(Path(sys.executable).with_name("lims"))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def env(tmp_path):
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("LIMS_", "FLASK_"))}
    environment.update(LIMS_INSTANCE_PATH=str(tmp_path / "instance"),
                       LIMS_DATABASE_URL=f"sqlite:///{tmp_path / 'lims.sqlite3'}")
    return environment


def test_db_upgrade_then_serve_with_gunicorn(env):
    upgrade = subprocess.run([LIMS, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stderr
    assert "Database at revision" in upgrade.stdout
    again = subprocess.run([LIMS, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0 and again.stdout == upgrade.stdout  # idempotent

    port = _free_port()
    server = subprocess.Popen([LIMS, "serve", "--port", str(port), "--workers", "2"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
                    assert response.status == 200 and b'"ok"' in response.read()
                    break
            except OSError:
                assert server.poll() is None, server.stdout.read()
                assert time.monotonic() < deadline, "lims serve did not answer within 60 s"
                time.sleep(0.3)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=5) as response:
            page = response.read().decode()
            assert "Đăng nhập" in page
            assert response.headers["Content-Security-Policy"].startswith("default-src 'self'")
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "Booting worker" in output


def test_secret_key_file_is_created_private(env, tmp_path):
    result = subprocess.run([LIMS, "db", "upgrade"], env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    key = tmp_path / "instance" / "secret_key"
    assert key.exists() and key.stat().st_mode & 0o777 == 0o600
