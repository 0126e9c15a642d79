"""A writer for the cpio "newc" format, the format the kernel unpacks as initramfs.

Pure Python so that building the VM image needs no ``cpio`` tool and no root
(device nodes such as ``/dev/console`` are plain header fields here).  Every
entry gets mtime 0 and owner root, so the same inputs give the same bytes.
"""

from __future__ import annotations

import stat
from dataclasses import dataclass, field

_MAGIC = b"070701"
_TRAILER = "TRAILER!!!"


def _pad4(length: int) -> bytes:
    return b"\0" * (-length % 4)


@dataclass
class CpioArchive:
    """An in-memory newc archive; parent directories are added on demand."""

    _chunks: list[bytes] = field(default_factory=list)
    _names: set[str] = field(default_factory=set)
    _next_inode: int = 1

    def __contains__(self, name: str) -> bool:
        return name.strip("/") in self._names

    def _entry(
        self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)
    ) -> None:
        name = name.strip("/")
        if not name:
            raise ValueError("a cpio entry needs a name")
        if name in self._names:
            raise ValueError(f"duplicate cpio entry {name!r}")
        self._add_parents(name)
        self._names.add(name)
        encoded = name.encode() + b"\0"
        nlink = 2 if stat.S_ISDIR(mode) else 1
        fields = (
            self._next_inode,
            mode,
            0,
            0,
            nlink,
            0,
            len(data),
            0,
            0,
            rdev[0],
            rdev[1],
            len(encoded),
            0,
        )
        self._next_inode += 1
        header = _MAGIC + b"".join(b"%08X" % value for value in fields)
        self._chunks.append(header + encoded + _pad4(len(header) + len(encoded)))
        self._chunks.append(data + _pad4(len(data)))

    def _add_parents(self, name: str) -> None:
        parts = name.split("/")[:-1]
        for depth in range(1, len(parts) + 1):
            parent = "/".join(parts[:depth])
            if parent not in self._names:
                self._entry(parent, stat.S_IFDIR | 0o755)

    def add_dir(self, name: str, mode: int = 0o755) -> None:
        if name.strip("/") not in self._names:
            self._entry(name, stat.S_IFDIR | mode)

    def add_file(self, name: str, data: bytes, mode: int = 0o644) -> None:
        self._entry(name, stat.S_IFREG | mode, data)

    def add_symlink(self, name: str, target: str) -> None:
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def add_char_device(self, name: str, major: int, minor: int, mode: int = 0o600) -> None:
        self._entry(name, stat.S_IFCHR | mode, rdev=(major, minor))

    def to_bytes(self) -> bytes:
        archive = CpioArchive(list(self._chunks), set(self._names), self._next_inode)
        archive._entry_trailer()
        return b"".join(archive._chunks)

    def _entry_trailer(self) -> None:
        encoded = _TRAILER.encode() + b"\0"
        fields = (0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, len(encoded), 0)
        header = _MAGIC + b"".join(b"%08X" % value for value in fields)
        self._chunks.append(header + encoded + _pad4(len(header) + len(encoded)))
