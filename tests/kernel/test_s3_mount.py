"""The backend contract against a real S3 API: ``FsspecBackend`` over s3fs, served by a local
``moto_server``."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

s3fs = pytest.importorskip("s3fs", reason="s3fs is not installed (dev extra)")
boto3 = pytest.importorskip("boto3", reason="boto3 is not installed (dev extra)")
pytest.importorskip("moto.server", reason="moto[server] is not installed (dev extra)")

from pocketos.kernel.fs.api import Backend  # noqa: E402
from pocketos.kernel.fs.fsspecfs import FsspecBackend  # noqa: E402
from tests.kernel.test_backend_contract import BackendContract, expect_errno  # noqa: E402

BUCKET = "pocketos-contract"
CREDENTIALS = {
    "aws_access_key_id": "testing",
    "aws_secret_access_key": "testing",
    "region_name": "us-east-1",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _server_command(port: int) -> list[str]:
    exe = shutil.which("moto_server")
    if exe:
        return [exe, "-H", "127.0.0.1", "-p", str(port)]
    return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]


def _start_moto(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    """A moto_server accepting connections, and its port. moto cannot be handed a bound socket,
    so the port is picked here and bound by moto later: another process may take it in between,
    then moto exits and a new port is tried. The bound on the wait is one only a failure reaches
    (moto imports a lot; a loaded machine takes many seconds)."""
    last = ""
    for _ in range(3):
        port = _free_port()
        with tempfile.TemporaryFile() as err:  # a file: moto logs every request to stderr
            proc = subprocess.Popen(
                _server_command(port), stdout=subprocess.DEVNULL, stderr=err, env=env
            )
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=1):
                        pass
                except OSError:
                    pass
                else:
                    if proc.poll() is None:  # moto's, not another process that took the port
                        return proc, port
                try:
                    proc.wait(timeout=0.1)
                except subprocess.TimeoutExpired:
                    continue
                break
            else:
                proc.kill()
                proc.wait()
                pytest.fail("moto_server did not accept connections within 180 s")
            err.seek(0)
            last = err.read().decode(errors="replace")[-2000:]
    pytest.fail(f"moto_server exited with status {proc.returncode}: {last}")


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    env = dict(os.environ, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    proc, port = _start_moto(env)
    url = f"http://127.0.0.1:{port}"
    try:
        client = boto3.client("s3", endpoint_url=url, **CREDENTIALS)
        client.create_bucket(Bucket=BUCKET)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def s3(s3_endpoint: str) -> Any:
    return s3fs.S3FileSystem(
        key="testing",
        secret="testing",
        endpoint_url=s3_endpoint,
        client_kwargs={"region_name": "us-east-1"},
        skip_instance_cache=True,
        use_listings_cache=False,
    )


@pytest.fixture
def backend(s3: Any) -> Iterator[Backend]:
    b = FsspecBackend(s3, f"{BUCKET}/t-{uuid.uuid4().hex}")
    yield b
    b.close()


class TestS3Contract(BackendContract):
    """The whole backend contract on S3."""

    many_entries = 40


def test_objects_land_in_the_bucket(s3_endpoint: str, s3: Any) -> None:
    prefix = f"seen-{uuid.uuid4().hex}"
    b = FsspecBackend(s3, f"{BUCKET}/{prefix}")
    b.mkdir("/dir")
    b.create("/dir/hello.txt")
    b.write("/dir/hello.txt", b"hello s3\n")
    client = boto3.client("s3", endpoint_url=s3_endpoint, **CREDENTIALS)
    body = client.get_object(Bucket=BUCKET, Key=f"{prefix}/dir/hello.txt")["Body"].read()
    assert body == b"hello s3\n"
    client.put_object(Bucket=BUCKET, Key=f"{prefix}/other/x.bin", Body=b"\0\1\2")
    s3.invalidate_cache()
    assert b.listdir("/") == ["dir", "other"]
    assert b.read("/other/x.bin") == b"\0\1\2"
    assert b.lstat("/other/x.bin").st_mtime_ns > 0


def test_readonly_s3(s3: Any) -> None:
    prefix = f"ro-{uuid.uuid4().hex}"
    s3.pipe_file(f"{BUCKET}/{prefix}/f", b"data")
    b = FsspecBackend(s3, f"s3://{BUCKET}/{prefix}", readonly=True)
    assert b.read("/f") == b"data"
    expect_errno(errno.EROFS, b.write, "/f", b"x", 0)
    expect_errno(errno.EROFS, b.unlink, "/f")
