"""Build the interop VM's initramfs from the host's installed Debian packages.

The image holds busybox, pppd and chat with the shared libraries ``ldd``
names, the PPP and virtio kernel modules of the chosen kernel (decompressed,
dependencies first), and the guest scripts of this package (``init.sh``,
``agent.sh``, ``spawn.sh``).  It is cached outside the repository, keyed by
a digest of every input file's path, size and mtime, so a package upgrade
rebuilds it and nothing else does.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import lzma
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hw.lab.vm.cpio import CpioArchive
from hw.lab.vm.errors import VmError, VmUnavailable

#: Bump when the image layout or the guest scripts' contract changes.
IMAGE_FORMAT = 3

CACHE_ENV = "WANCTL_VM_CACHE"
KERNEL_ENV = "WANCTL_VM_KERNEL"

#: Modules the rig cannot work without (PPP over a tty, the virtio control port).
REQUIRED_MODULES = ("ppp_generic", "ppp_async", "virtio_pci", "virtio_console")
#: Loaded when the kernel has them as modules; built-in or absent is fine.
OPTIONAL_MODULES = (
    "slhc",
    "crc_ccitt",
    "ppp_synctty",
    "ppp_deflate",
    "bsd_comp",
    "ppp_mppe",
    "8250_pci",
    "zlib_deflate",
    "zlib_inflate",
)

#: Guest programs and the Debian package that ships each.
REQUIRED_PROGRAMS = {"/usr/sbin/pppd": "ppp", "/usr/sbin/chat": "ppp"}
OPTIONAL_PROGRAMS = ("/usr/sbin/pppdump", "/usr/sbin/pppstats")
BUSYBOX_CANDIDATES = ("/bin/busybox", "/usr/bin/busybox")
GUEST_SCRIPTS = {
    "init.sh": "init",
    "agent.sh": "etc/wanctl-vm/agent.sh",
    "spawn.sh": "etc/wanctl-vm/spawn.sh",
}
GUEST_MODULE_DIR = "lib/modules/wanctl"

_MODULE_SUFFIXES = (".ko.xz", ".ko.zst", ".ko.gz", ".ko")


@dataclass(frozen=True)
class Kernel:
    """A bootable kernel image and the module tree of the same release."""

    release: str
    image: Path
    modules_dir: Path


def default_cache_dir() -> Path:
    """``$WANCTL_VM_CACHE`` or ``~/.cache/wanctl/vm`` (never inside the repository)."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "wanctl" / "vm"


def _release_key(release: str) -> list[tuple[int, str]]:
    return [
        (int(part), "") if part.isdigit() else (-1, part) for part in re.split(r"[.-]", release)
    ]


def find_kernel(
    release: str | None = None,
    boot_dir: Path = Path("/boot"),
    modules_root: Path = Path("/lib/modules"),
) -> Kernel:
    """The newest kernel with both ``/boot/vmlinuz-R`` and ``/lib/modules/R/modules.dep``.

    ``release`` (or ``$WANCTL_VM_KERNEL``) picks one release explicitly.
    """
    wanted = release or os.environ.get(KERNEL_ENV) or None
    candidates: list[Kernel] = []
    for image in sorted(boot_dir.glob("vmlinuz-*")):
        name = image.name.removeprefix("vmlinuz-")
        modules_dir = modules_root / name
        if (modules_dir / "modules.dep").is_file() and (wanted is None or name == wanted):
            candidates.append(Kernel(name, image, modules_dir))
    if not candidates:
        which = f"kernel {wanted}" if wanted else "a kernel"
        raise VmUnavailable(
            f"no {which} with modules found (/boot/vmlinuz-* and /lib/modules/*/modules.dep)",
            "linux-image-amd64",
        )
    kernel = max(candidates, key=lambda k: _release_key(k.release))
    if not os.access(kernel.image, os.R_OK):
        raise VmError(f"{kernel.image} is not readable by this user; the VM needs to read it")
    return kernel


@dataclass(frozen=True)
class _ModuleIndex:
    paths: dict[str, str]
    depends: dict[str, list[str]]
    builtin: frozenset[str]


def _module_name(relpath: str) -> str:
    base = relpath.rsplit("/", 1)[-1]
    for suffix in _MODULE_SUFFIXES:
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


def _read_module_index(modules_dir: Path) -> _ModuleIndex:
    paths: dict[str, str] = {}
    depends: dict[str, list[str]] = {}
    for line in (modules_dir / "modules.dep").read_text().splitlines():
        if ":" not in line:
            continue
        target, _, deps = line.partition(":")
        name = _module_name(target.strip())
        paths[name] = target.strip()
        depends[name] = [_module_name(dep) for dep in deps.split()]
    builtin_file = modules_dir / "modules.builtin"
    builtin = frozenset(
        _module_name(line.strip())
        for line in (builtin_file.read_text().splitlines() if builtin_file.exists() else [])
        if line.strip()
    )
    return _ModuleIndex(paths, depends, builtin)


def resolve_modules(
    modules_dir: Path,
    required: tuple[str, ...] = REQUIRED_MODULES,
    optional: tuple[str, ...] = OPTIONAL_MODULES,
) -> list[str]:
    """Relative paths of the loadable modules to insert, each after its dependencies."""
    index = _read_module_index(modules_dir)
    order: list[str] = []
    seen: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        if name in seen or name in index.builtin:
            return
        if name in chain:
            raise VmError(f"module dependency loop: {' -> '.join((*chain, name))}")
        if name not in index.paths:
            raise VmUnavailable(
                f"kernel module {name} (needed by {chain[-1] if chain else 'the VM'}) is missing"
                f" from {modules_dir}",
                "linux-image-amd64",
            )
        for dependency in index.depends[name]:
            visit(dependency, (*chain, name))
        seen.add(name)
        order.append(index.paths[name])

    for name in required:
        visit(name.replace("-", "_"), ())
    for name in optional:
        name = name.replace("-", "_")
        if name in index.paths:
            visit(name, ())
    return order


def _decompressed_module(path: Path) -> bytes:
    data = path.read_bytes()
    if path.name.endswith(".ko.xz"):
        return lzma.decompress(data)
    if path.name.endswith(".ko.gz"):
        return gzip.decompress(data)
    if path.name.endswith(".ko.zst"):
        zstd = shutil.which("zstd")
        if zstd is None:
            raise VmUnavailable(f"kernel module {path} is zstd-compressed", "zstd")
        return subprocess.run([zstd, "-dc", str(path)], check=True, capture_output=True).stdout
    return data


_LDD_LINE = re.compile(r"^\s*(?:(\S+) => )?(\S+) \(0x[0-9a-f]+\)$")


def shared_libraries(program: str) -> list[str]:
    """The absolute paths ``ldd`` gives for a program's libraries (empty when static)."""
    result = subprocess.run(["ldd", program], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        if "not a dynamic executable" in result.stdout + result.stderr:
            return []
        raise VmError(f"ldd {program} failed: {result.stderr.strip() or result.stdout.strip()}")
    libraries: list[str] = []
    for line in result.stdout.splitlines():
        if "=> not found" in line:
            raise VmError(f"{program} needs {line.split()[0]}, which is not installed")
        match = _LDD_LINE.match(line)
        if match and match.group(2).startswith("/"):
            libraries.append(match.group(2))
    return libraries


def find_busybox() -> str:
    for candidate in BUSYBOX_CANDIDATES:
        if os.access(candidate, os.X_OK):
            return candidate
    raise VmUnavailable("busybox is not installed", "busybox-static")


def _busybox_applets(busybox: str) -> list[str]:
    listing = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    return [name for name in listing.stdout.split() if name and "/" not in name]


@dataclass(frozen=True)
class ImagePlan:
    """Everything that goes into the image, known before anything is read in full."""

    kernel: Kernel
    busybox: str
    programs: tuple[str, ...]
    libraries: tuple[str, ...]
    modules: tuple[str, ...]

    def input_files(self) -> list[Path]:
        files = [Path(self.busybox), *map(Path, self.programs), *map(Path, self.libraries)]
        files += [self.kernel.modules_dir / module for module in self.modules]
        return [self.kernel.image, *files]

    def digest(self) -> str:
        digest = hashlib.sha256(f"format {IMAGE_FORMAT}\n".encode())
        for path in self.input_files():
            info = path.stat()
            digest.update(f"{path}\0{info.st_size}\0{info.st_mtime_ns}\n".encode())
        for script in GUEST_SCRIPTS:
            digest.update(_guest_script(script))
        return digest.hexdigest()[:16]


def _guest_script(name: str) -> bytes:
    return importlib.resources.files("hw.lab.vm").joinpath(name).read_bytes()


def plan_image(kernel: Kernel | None = None) -> ImagePlan:
    """Find every input on the host; raises VmUnavailable naming the missing package."""
    kernel = kernel or find_kernel()
    busybox = find_busybox()
    programs: list[str] = []
    for program, package in REQUIRED_PROGRAMS.items():
        if not os.access(program, os.X_OK):
            raise VmUnavailable(f"{program} is not installed", package)
        programs.append(program)
    programs += [program for program in OPTIONAL_PROGRAMS if os.access(program, os.X_OK)]
    libraries: list[str] = []
    for program in (busybox, *programs):
        for library in shared_libraries(program):
            if library not in libraries:
                libraries.append(library)
    modules = resolve_modules(kernel.modules_dir)
    return ImagePlan(kernel, busybox, tuple(programs), tuple(libraries), tuple(modules))


_ETC_FILES = {
    "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n",
    "etc/group": "root:x:0:\n",
    "etc/nsswitch.conf": "passwd: files\ngroup: files\nhosts: files\n",
    "etc/hosts": "127.0.0.1 localhost wanctl-vm\n",
    "etc/inittab": (
        "# busybox init: reaps orphans and keeps the command agent running.\n"
        "::respawn:/etc/wanctl-vm/agent.sh\n"
        "::ctrlaltdel:/bin/poweroff -f\n"
    ),
    # Empty on purpose: tests pass every pppd option explicitly, so the
    # compiled-in defaults apply rather than Debian's (auth, crtscts, lock...).
    "etc/ppp/options": "# wanctl interop VM: no system-wide pppd options\n",
}
_SECRETS_HEADER = "# client\tserver\tsecret\tIP addresses\n"


def render_image(plan: ImagePlan) -> bytes:
    """The uncompressed cpio archive for a plan."""
    archive = CpioArchive()
    for directory in (
        "bin",
        "sbin",
        "usr/bin",
        "usr/sbin",
        "proc",
        "sys",
        "dev",
        "run",
        "var/lock",
        "root",
        "etc/ppp/peers",
        "etc/wanctl-vm",
        GUEST_MODULE_DIR,
    ):
        archive.add_dir(directory)
    archive.add_dir("tmp", 0o1777)
    archive.add_symlink("var/run", "../run")
    archive.add_char_device("dev/console", 5, 1)
    archive.add_char_device("dev/null", 1, 3, 0o666)

    archive.add_file("bin/busybox", Path(plan.busybox).read_bytes(), 0o755)
    for applet in _busybox_applets(plan.busybox):
        if f"bin/{applet}" not in archive:
            archive.add_symlink(f"bin/{applet}", "busybox")
    for program in plan.programs:
        archive.add_file(program, Path(program).read_bytes(), 0o755)
    for library in plan.libraries:
        archive.add_file(library, Path(library).read_bytes(), 0o755)

    module_files: list[str] = []
    for module in plan.modules:
        file_name = _module_name(module) + ".ko"
        archive.add_file(
            f"{GUEST_MODULE_DIR}/{file_name}",
            _decompressed_module(plan.kernel.modules_dir / module),
        )
        module_files.append(file_name)

    for script, target in GUEST_SCRIPTS.items():
        archive.add_file(target, _guest_script(script), 0o755)
    library_dirs = sorted({os.path.dirname(library) for library in plan.libraries})
    archive.add_file(
        "etc/wanctl-vm/modules", "".join(f"{name}\n" for name in module_files).encode()
    )
    archive.add_file(
        "etc/wanctl-vm/env",
        f"export PATH=/bin:/sbin:/usr/bin:/usr/sbin\n"
        f"export LD_LIBRARY_PATH={':'.join(library_dirs)}\n".encode(),
    )
    for name, text in _ETC_FILES.items():
        archive.add_file(name, text.encode())
    for secrets in ("etc/ppp/pap-secrets", "etc/ppp/chap-secrets"):
        archive.add_file(secrets, _SECRETS_HEADER.encode(), 0o600)
    return archive.to_bytes()


def build_initramfs(kernel: Kernel | None = None, cache_dir: Path | None = None) -> Path:
    """The cached ``initramfs-<release>-<digest>.cpio.gz``, built first if needed."""
    plan = plan_image(kernel)
    return cached_image(plan, cache_dir, "initramfs", f"{plan.kernel.release}-{plan.digest()}")


def cached_image(plan: ImagePlan, cache_dir: Path | None, prefix: str, key: str) -> Path:
    """``<prefix>-<key>.cpio.gz`` in the cache, rendered from ``plan`` if absent;
    older images with the same prefix are removed."""
    cache_dir = cache_dir or default_cache_dir()
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / f"{prefix}-{key}.cpio.gz"
    if target.exists():
        return target
    image = gzip.compress(render_image(plan), compresslevel=6, mtime=0)
    # Write then rename, so a concurrent run never boots half a file.
    handle, temporary = tempfile.mkstemp(dir=cache_dir, prefix=f".{prefix}-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(image)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    for stale in cache_dir.glob(f"{prefix}-*.cpio.gz"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return target
    image = gzip.compress(render_image(plan), compresslevel=6, mtime=0)
    # Write then rename, so a concurrent run never boots half a file.
    handle, temporary = tempfile.mkstemp(dir=cache_dir, prefix=".initramfs-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(image)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    for stale in cache_dir.glob("initramfs-*.cpio.gz"):
        if stale != target:
            stale.unlink(missing_ok=True)
    return target
