"""Which glibc a shared object needs: the `GLIBC_2.x` entries of its ELF version needs
(`.gnu.version_r`, what `readelf -V` lists), read with the standard library only.

Lambda's python3.11 runtime runs on Amazon Linux 2, whose glibc is 2.26: a `.so` that needs a newer
symbol version fails to load there ("version `GLIBC_2.34' not found"), although it loads on the
machine that built the package. deploy.callbacks.check_package refuses such a package.

Kept free of project imports: Zappa loads deploy/callbacks.py by path, which loads this file
the same way.
"""
from __future__ import annotations

import re
import struct

LAMBDA_GLIBC = (2, 26)  # Amazon Linux 2, under Lambda's python3.9 ... python3.11 runtimes
SHT_GNU_VERNEED = 0x6FFFFFFE
_GLIBC = re.compile(r"^GLIBC_(\d+)\.(\d+)(?:\.(\d+))?$")


class NotElf(ValueError):
    pass


def _cstring(data: bytes, offset: int) -> str:
    end = data.index(b"\0", offset)
    return data[offset:end].decode("ascii", "replace")


def version_needs(data: bytes) -> set[str]:
    """Every version name the object needs from its libraries (e.g. {"GLIBC_2.14", ...})."""
    if data[:4] != b"\x7fELF":
        raise NotElf("not an ELF file")
    elf_class, byte_order = data[4], data[5]
    if elf_class != 2:
        raise NotElf("not a 64-bit ELF file (Lambda x86_64/arm64 load only those)")
    endian = "<" if byte_order == 1 else ">"
    # ELF64 header: e_shoff at 0x28, e_shentsize at 0x3A, e_shnum at 0x3C
    (shoff,) = struct.unpack_from(endian + "Q", data, 0x28)
    shentsize, shnum = struct.unpack_from(endian + "HH", data, 0x3A)
    sections = []
    for index in range(shnum):
        # sh_name, sh_type, sh_flags, sh_addr, sh_offset, sh_size, sh_link, sh_info, ...
        fields = struct.unpack_from(endian + "IIQQQQII", data, shoff + index * shentsize)
        sections.append(fields)
    needs: set[str] = set()
    for _name, sh_type, _flags, _addr, offset, _size, link, count in sections:
        if sh_type != SHT_GNU_VERNEED:
            continue
        strings = sections[link][4]  # the linked string table's file offset
        entry = offset
        for _ in range(count):
            # Verneed: vn_version, vn_cnt, vn_file, vn_aux, vn_next
            _version, aux_count, _file, aux, next_entry = struct.unpack_from(
                endian + "HHIII", data, entry)
            aux_at = entry + aux
            for _ in range(aux_count):
                # Vernaux: vna_hash, vna_flags, vna_other, vna_name, vna_next
                _hash, _flags2, _other, name, aux_next = struct.unpack_from(
                    endian + "IHHII", data, aux_at)
                needs.add(_cstring(data, strings + name))
                if not aux_next:
                    break
                aux_at += aux_next
            if not next_entry:
                break
            entry += next_entry
    return needs


def glibc_needed(data: bytes) -> tuple[int, ...] | None:
    """The newest glibc version the object needs, e.g. (2, 34); None when it needs none."""
    versions = [tuple(int(part) for part in match.groups() if part is not None)
                for match in map(_GLIBC.match, version_needs(data)) if match]
    return max(versions) if versions else None


def too_new(data: bytes, limit: tuple[int, ...] = LAMBDA_GLIBC) -> tuple[int, ...] | None:
    """The glibc version the object needs when it is newer than `limit`, else None."""
    needed = glibc_needed(data)
    return needed if needed is not None and needed > limit else None
