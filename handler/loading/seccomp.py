"""The seccomp filter of the model process: an allow-list of system calls (libseccomp, via pyseccomp).

Model code may compute, read and write files (Landlock decides which), use memory, threads and
clocks, and return its model. It may not open a socket of any family, start a process, leave
its session, trace or read other processes, or reach the kernel's larger attack surfaces
(io_uring, bpf, keyrings, userfaultfd, perf, mount, namespaces, personality...). Every system
call not listed below fails with EPERM (``clone3`` with ENOSYS, so the C library falls back to
``clone``, whose flags the filter can check). docs/sandbox.md lists the policy.
"""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass
from typing import Any

#: System calls the model process may make, unconditionally.
ALLOWED = (
    # files (Landlock decides which paths; no socket can exist to read or write)
    "read",
    "write",
    "readv",
    "writev",
    "pread64",
    "pwrite64",
    "preadv",
    "pwritev",
    "preadv2",
    "pwritev2",
    "lseek",
    "close",
    "close_range",
    "open",
    "openat",
    "openat2",
    "stat",
    "fstat",
    "lstat",
    "newfstatat",
    "statx",
    "fstatfs",
    "statfs",
    "access",
    "faccessat",
    "faccessat2",
    "readlink",
    "readlinkat",
    "getdents",
    "getdents64",
    "getcwd",
    "chdir",
    "fchdir",
    "mkdir",
    "mkdirat",
    "rmdir",
    "unlink",
    "unlinkat",
    "rename",
    "renameat",
    "renameat2",
    "symlink",
    "symlinkat",
    "link",
    "linkat",
    "ftruncate",
    "truncate",
    "fsync",
    "fdatasync",
    "fcntl",
    "dup",
    "dup2",
    "dup3",
    "pipe",
    "pipe2",
    "umask",
    "chmod",
    "fchmod",
    "fchmodat",
    "utimensat",
    "futimesat",
    "sendfile",
    "copy_file_range",
    "splice",
    "tee",
    "fadvise64",
    "flock",
    # memory
    "brk",
    "mmap",
    "munmap",
    "mremap",
    "mprotect",
    "madvise",
    "msync",
    "mincore",
    # signals to itself, and signal handling
    "rt_sigaction",
    "rt_sigprocmask",
    "rt_sigreturn",
    "sigaltstack",
    "rt_sigpending",
    # time
    "clock_gettime",
    "clock_getres",
    "gettimeofday",
    "time",
    "nanosleep",
    "clock_nanosleep",
    # facts about itself
    "getpid",
    "getppid",
    "gettid",
    "getuid",
    "geteuid",
    "getgid",
    "getegid",
    "getgroups",
    "getresuid",
    "getresgid",
    "getpgrp",
    "getpgid",
    "getsid",
    "uname",
    "sysinfo",
    "getrlimit",
    "getrusage",
    "times",
    "sched_getaffinity",
    "sched_yield",
    "getcpu",
    "getrandom",
    "getpriority",
    # threads (new ones only through clone with CLONE_THREAD, below)
    "futex",
    "set_robust_list",
    "get_robust_list",
    "set_tid_address",
    "rseq",
    "arch_prctl",
    "membarrier",
    "exit",
    "exit_group",
    # waiting on its own file descriptors
    "poll",
    "ppoll",
    "select",
    "pselect6",
)

_CLONE_THREAD = 0x00010000
_IOCTL_ALLOWED = (
    0x5401,  # TCGETS: isatty()
    0x5413,  # TIOCGWINSZ: terminal size
    0x541B,  # FIONREAD
    0x5450,  # FIONCLEX
    0x5451,  # FIOCLEX
)


@dataclass(frozen=True)
class LayerResult:
    applied: bool
    detail: str


class Filter:
    """The filter, built (libseccomp located and loaded) before Landlock forbids running the
    programs ``ctypes.util.find_library`` uses, and loaded last."""

    def __init__(self) -> None:
        self.policy: Any = None
        self.problem = ""
        self.skipped: list[str] = []
        try:
            import pyseccomp as sc  # type: ignore[import-untyped]
        except (ImportError, RuntimeError, OSError) as exc:  # pyseccomp raises RuntimeError without libseccomp
            self.problem = f"seccomp is not available (libseccomp not found: {exc})"
            return
        try:
            self.policy = sc.SyscallFilter(sc.ERRNO(errno.EPERM))
            self.policy.set_attr(sc.Attr.CTL_TSYNC, 1)  # every thread of the process, not only this one
            self.skipped = _add_rules(sc, self.policy, os.getpid())
        except OSError as exc:
            self.problem = f"the seccomp filter could not be built: {exc}"

    def load(self) -> LayerResult:
        """Apply the filter to this process and all its threads. Never raises for a missing feature."""
        if self.policy is None:
            return LayerResult(False, self.problem)
        try:
            self.policy.load()
        except OSError as exc:
            return LayerResult(False, f"the seccomp filter could not be loaded: {exc}")
        note = f" ({len(self.skipped)} unknown on this architecture)" if self.skipped else ""
        return LayerResult(True, f"seccomp allow-list of {len(ALLOWED) + 5} system calls{note}")


def _add_rules(sc: Any, policy: Any, pid: int) -> list[str]:
    """Add the allow-list; returns the names this architecture does not have."""
    skipped: list[str] = []

    def add(action: int, name: str, *args: Any) -> None:
        try:
            policy.add_rule(action, name, *args)
        except (ValueError, OSError, RuntimeError):  # the name does not exist on this architecture
            skipped.append(name)

    for name in ALLOWED:
        add(sc.ALLOW, name)
    add(sc.ALLOW, "clone", sc.Arg(0, sc.MASKED_EQ, _CLONE_THREAD, _CLONE_THREAD))  # threads only
    add(sc.ERRNO(errno.ENOSYS), "clone3")  # its flags cannot be checked: the C library falls back to clone
    for request in _IOCTL_ALLOWED:
        add(sc.ALLOW, "ioctl", sc.Arg(1, sc.EQ, request))
    add(sc.ALLOW, "kill", sc.Arg(0, sc.EQ, pid))  # signals to itself only
    add(sc.ALLOW, "tgkill", sc.Arg(0, sc.EQ, pid))
    add(sc.ALLOW, "prlimit64", sc.Arg(0, sc.EQ, 0), sc.Arg(2, sc.EQ, 0))  # reading its own limits
    return skipped
