"""Read ELF files (objects and linked images) for size reports and the no-malloc check.

Works on relocatable objects (``.o``, sizes per section before linking), static images
(arm-none-eabi firmware) and dynamically linked host executables / shared libraries (where the
imports from the C library show up as undefined symbols in ``.dynsym``).

The no-malloc check (:func:`find_forbidden_symbols`) looks at every symbol a file *defines* or
*references*: in a statically linked image every function that can run is defined in it, so a
forbidden name absent from its symbol table cannot be reached; in a dynamically linked image a
call into the C library must go through an undefined (imported) symbol, so checking the undefined
symbols covers what the image itself can call.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from elftools.common.exceptions import ELFError
from elftools.elf.constants import SH_FLAGS
from elftools.elf.elffile import ELFFile
from elftools.elf.sections import SymbolTableSection

from microaot.errors import MicroaotError

DEFAULT_WEIGHT_SECTION = ".rodata.microaot"

ElfPath = str | Path


class ElfReadError(MicroaotError):
    """The file is not a readable ELF file."""


class ForbiddenSymbolError(MicroaotError):
    """A linked image defines or references malloc/free/printf (or a relative of theirs)."""


@dataclass(frozen=True)
class SectionInfo:
    name: str
    size: int
    addr: int
    kind: str  # "text", "rodata", "data", "bss" or "other" (not loaded: debug, symbols, notes ...)


@dataclass(frozen=True)
class Symbol:
    name: str  # without a "@VERSION" suffix
    value: int
    size: int
    type: str  # STT_FUNC, STT_OBJECT, STT_NOTYPE ...
    bind: str  # STB_GLOBAL, STB_LOCAL, STB_WEAK
    section: str | None  # defining section name; None when undefined; "ABS"/"COMMON" for special ones
    table: str  # ".symtab" or ".dynsym"

    @property
    def defined(self) -> bool:
        return self.section is not None


def _open(path: ElfPath) -> tuple[Path, bytes]:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ElfReadError(f"cannot read ELF file {p}: {e}") from None
    if data[:4] != b"\x7fELF":
        raise ElfReadError(f"{p} is not an ELF file (expected an object or a linked image from gcc)")
    return p, data


def _elffile(path: ElfPath) -> tuple[Path, ELFFile]:
    p, data = _open(path)
    try:
        return p, ELFFile(io.BytesIO(data))
    except ELFError as e:
        raise ElfReadError(f"{p}: malformed ELF file: {e}") from None


def _kind(sh_type: str, flags: int, name: str) -> str:
    if not flags & SH_FLAGS.SHF_ALLOC:
        return "other"
    if flags & SH_FLAGS.SHF_EXECINSTR:
        return "text"
    if sh_type == "SHT_NOBITS":
        # .tbss is thread-local template size; count it with bss
        return "bss"
    if name.startswith(".data.rel.ro"):
        # const data holding pointers in PIC/PIE code: relocated at load, then read-only (RELRO)
        return "rodata"
    if flags & SH_FLAGS.SHF_WRITE:
        return "data"
    return "rodata"


def read_sections(elf: ElfPath) -> list[SectionInfo]:
    """Every section of the file with its size and category (by flags, so it works on .o files)."""
    _, f = _elffile(elf)
    out = []
    for s in f.iter_sections():
        if not s.name:
            continue
        out.append(SectionInfo(s.name, int(s["sh_size"]), int(s["sh_addr"]),
                               _kind(s["sh_type"], int(s["sh_flags"]), s.name)))
    return out


def section_sizes(elf: ElfPath) -> dict[str, int]:
    """Section name -> size in bytes (sections of the same name, as in a .o with groups, are summed)."""
    sizes: dict[str, int] = {}
    for s in read_sections(elf):
        sizes[s.name] = sizes.get(s.name, 0) + s.size
    return sizes


def section_bytes(elf: ElfPath, name: str) -> bytes | None:
    """Contents of the (first) section called ``name``; None when absent; zeros for NOBITS."""
    _, f = _elffile(elf)
    s = f.get_section_by_name(name)
    if s is None:
        return None
    if s["sh_type"] == "SHT_NOBITS":
        return bytes(int(s["sh_size"]))
    return bytes(s.data())


def symbol_bytes(elf: ElfPath, name: str) -> tuple[bytes, int] | None:
    """The bytes of data symbol ``name`` (``.symtab``, defined in a section with contents) and the file's
    pointer size (4 or 8); None when there is no such symbol. Works on objects (relocations not applied:
    pointers read as 0) and linked images."""
    _, f = _elffile(elf)
    tab = f.get_section_by_name(".symtab")
    if tab is None:
        return None
    for sym in tab.iter_symbols():  # type: ignore[attr-defined]
        if sym.name != name or not isinstance(sym["st_shndx"], int):
            continue
        sec = f.get_section(sym["st_shndx"])
        if sec["sh_type"] == "SHT_NOBITS":
            return None
        base = int(sym["st_value"]) - (int(sec["sh_addr"]) if f["e_type"] != "ET_REL" else 0)
        data = bytes(sec.data())[base:base + int(sym["st_size"])]
        return data, (8 if f.elfclass == 64 else 4)
    return None


def read_symbols(elf: ElfPath) -> list[Symbol]:
    """Symbols of ``.symtab`` and ``.dynsym`` (section symbols and file symbols left out)."""
    _, f = _elffile(elf)
    sec_names = [s.name for s in f.iter_sections()]
    out: list[Symbol] = []
    for sec in f.iter_sections():
        if not isinstance(sec, SymbolTableSection):
            continue
        for sym in sec.iter_symbols():
            typ = sym["st_info"]["type"]
            if not sym.name or typ in ("STT_SECTION", "STT_FILE"):
                continue
            shndx = sym["st_shndx"]
            section: str | None
            if shndx == "SHN_UNDEF":
                section = None
            elif shndx == "SHN_ABS":
                section = "ABS"
            elif shndx == "SHN_COMMON":
                section = "COMMON"
            elif isinstance(shndx, int) and shndx < len(sec_names):
                section = sec_names[shndx]
            else:
                section = str(shndx)
            out.append(Symbol(
                name=sym.name.split("@", 1)[0],
                value=int(sym["st_value"]),
                size=int(sym["st_size"]),
                type=str(typ),
                bind=str(sym["st_info"]["bind"]),
                section=section,
                table=sec.name,
            ))
    return out


def defined_symbols(elf: ElfPath) -> list[Symbol]:
    return [s for s in read_symbols(elf) if s.defined]


def undefined_symbols(elf: ElfPath) -> list[Symbol]:
    return [s for s in read_symbols(elf) if not s.defined]


def external_references(objects: Iterable[ElfPath]) -> set[str]:
    """Names a set of objects references but does not define (what it needs from libc/libgcc).

    Local symbols are not visible across objects, so only global/weak definitions satisfy a
    reference."""
    defined: set[str] = set()
    undefined: set[str] = set()
    for o in objects:
        for s in read_symbols(o):
            if s.defined and s.bind != "STB_LOCAL":
                defined.add(s.name)
            elif not s.defined:
                undefined.add(s.name)
    return undefined - defined


# --- the no-malloc / no-printf check ---------------------------------------------------------------

# After removing a "@version" suffix, wrapper prefixes (__wrap_, __real_), glibc's __libc_ prefix,
# leading underscores and the reentrant "_r" / fortify "_chk" suffixes, these names are forbidden:
_FORBIDDEN_EXACT = frozenset({
    # heap
    "malloc", "free", "calloc", "realloc", "reallocarray", "reallocf", "cfree", "memalign",
    "aligned_alloc", "posix_memalign", "valloc", "pvalloc", "malloc_usable_size", "sbrk", "brk",
    "mallinfo", "mallopt", "malloc_trim", "malloc_stats", "strdup", "strndup",
    # printf family and the stdio writers gcc substitutes for printf
    "puts", "fputs", "putchar", "fputc", "putc", "fwrite", "perror",
})
# ...and any name containing one of these (printf: printf, vfprintf, __printf_chk, _svfprintf_r,
# _printf_float, iprintf, ...; malloc: _malloc_r, __malloc_lock, __libc_malloc, ...)
_FORBIDDEN_SUBSTRINGS = ("printf", "malloc", "calloc", "realloc", "memalign", "sbrk")
# C++ operator new / new[] / delete / delete[] (Itanium mangling)
_FORBIDDEN_RE = re.compile(r"^_Z(nw|na|dl|da)[jmy]|^_Z(dl|da)Pv")
_PREFIX_RE = re.compile(r"^(?:__wrap_|__real_|__libc_|_+)+")
_SUFFIX_RE = re.compile(r"(?:_r|_chk|_unlocked)$")


def normalize_symbol(name: str) -> str:
    """``__wrap__malloc_r@GLIBC_2.2`` -> ``malloc``: the base name used for the forbidden check."""
    base = name.split("@", 1)[0]
    base = _PREFIX_RE.sub("", base)
    return _SUFFIX_RE.sub("", base)


def is_forbidden(name: str) -> bool:
    """True for malloc/free/calloc/realloc/printf and their relatives, wrappers and reentrant forms."""
    if _FORBIDDEN_RE.match(name.split("@", 1)[0]):
        return True
    base = normalize_symbol(name)
    if base in _FORBIDDEN_EXACT:
        return True
    lowered = base.lower()
    return any(sub in lowered for sub in _FORBIDDEN_SUBSTRINGS)


def find_forbidden_symbols(elf: ElfPath | Sequence[ElfPath]) -> list[Symbol]:
    """Symbols (defined or referenced) of one or several ELF files that name a forbidden function."""
    paths = [elf] if isinstance(elf, str | Path) else list(elf)
    return [s for p in paths for s in read_symbols(p) if is_forbidden(s.name)]


def check_no_dynamic_memory(elf: ElfPath | Sequence[ElfPath], *, what: str | None = None) -> None:
    """Raise ForbiddenSymbolError naming each malloc/free/printf-family symbol found."""
    bad = find_forbidden_symbols(elf)
    if bad:
        label = what or (str(elf) if isinstance(elf, str | Path) else ", ".join(map(str, elf)))
        lines = sorted({f"{s.name} ({'defined in ' + s.section if s.defined else 'referenced'}, {s.table})"
                        for s in bad})
        raise ForbiddenSymbolError(
            f"{label}: {len(lines)} malloc/free/printf-family symbol(s) reachable: " + "; ".join(lines)
            + ". The exported library must not allocate or print: remove the call (or the object "
            "that makes it) from the link, and use a workspace buffer or an allocator hook instead."
        )


# --- size report ------------------------------------------------------------------------------------

def size_report(elf: ElfPath | Sequence[ElfPath], *,
                weight_section: str = DEFAULT_WEIGHT_SECTION) -> dict[str, int | bool | str]:
    """Bytes per category for one ELF file or the sum over several (e.g. a library's objects).

    Keys: ``text`` (code), ``rodata`` (read-only data other than the weight section), ``weights``
    (the named weight section, 0 when absent), ``data`` (initialised RAM, also stored in flash),
    ``bss`` (zeroed RAM), ``flash`` = text + rodata + weights + data, ``ram`` = data + bss,
    ``weight_section`` (the name) and ``weight_section_present``."""
    paths = [elf] if isinstance(elf, str | Path) else list(elf)
    totals = {"text": 0, "rodata": 0, "weights": 0, "data": 0, "bss": 0}
    present = False
    for p in paths:
        for s in read_sections(p):
            if s.name == weight_section or s.name.startswith(weight_section + "."):
                present = True
                totals["weights"] += s.size
            elif s.kind != "other":
                totals[s.kind] += s.size
    report: dict[str, int | bool | str] = dict(totals)
    report["flash"] = totals["text"] + totals["rodata"] + totals["weights"] + totals["data"]
    report["ram"] = totals["data"] + totals["bss"]
    report["weight_section"] = weight_section
    report["weight_section_present"] = present
    return report


def section_infos_as_dicts(elf: ElfPath) -> list[dict[str, object]]:
    """read_sections() as plain dicts (for JSON reports)."""
    return [asdict(s) for s in read_sections(elf)]
