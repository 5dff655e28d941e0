//! The shared libraries an executable asks the dynamic loader for: the `DT_NEEDED` entries of its
//! ELF dynamic section, what `readelf -d` prints as `(NEEDED)`.
//!
//! Checks use it to see which system libraries a built binary depends on (a `libssl.so.3` that a
//! fresh machine or a slim container may lack), without running `ldd`, which executes the loader,
//! resolves against this machine's libraries and is not on every system.
//!
//! The reader follows the loader's own path: the program headers, the `PT_DYNAMIC` segment, and
//! the `DT_STRTAB` address mapped back to a file offset through the `PT_LOAD` segments. Section
//! headers are not needed, so stripped binaries read the same. ELF32 and ELF64, either byte order.

use std::path::Path;

const PT_LOAD: u32 = 1;
const PT_DYNAMIC: u32 = 2;
const DT_NULL: u64 = 0;
const DT_NEEDED: u64 = 1;
const DT_STRTAB: u64 = 5;

/// The `DT_NEEDED` library names of the ELF file at `path`, in file order (e.g. `libc.so.6`).
///
/// A statically linked executable has none. A file that is not ELF, or is malformed, is an error.
pub fn needed_libraries(path: impl AsRef<Path>) -> Result<Vec<String>, String> {
    let path = path.as_ref();
    let bytes =
        std::fs::read(path).map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    parse_needed(&bytes).map_err(|err| format!("{}: {err}", path.display()))
}

/// Whether `name` (a `DT_NEEDED` entry) is part of the C runtime that every Linux system has:
/// the C library and its loader, libm, libgcc_s, and glibc's older split-out pieces.
pub fn is_c_runtime(name: &str) -> bool {
    const RUNTIME: [&str; 11] = [
        "libc.so",
        "libc.musl-",
        "ld-linux",
        "ld-musl-",
        "libm.so",
        "libgcc_s.so",
        "libpthread.so",
        "libdl.so",
        "librt.so",
        "libutil.so",
        "libresolv.so",
    ];
    RUNTIME.iter().any(|prefix| name.starts_with(prefix))
}

/// Whether `name` is OpenSSL (`libssl.so.3`, `libcrypto.so.1.1`, ...).
pub fn is_openssl(name: &str) -> bool {
    name.starts_with("libssl.") || name.starts_with("libcrypto.")
}

/// Fixed-width little- or big-endian reads from the file, bounds-checked.
struct Reader<'a> {
    bytes: &'a [u8],
    wide: bool,
    big_endian: bool,
}

impl Reader<'_> {
    fn slice(&self, offset: u64, len: u64) -> Result<&[u8], String> {
        let start = usize::try_from(offset).map_err(|_| "offset out of range".to_string())?;
        let len = usize::try_from(len).map_err(|_| "length out of range".to_string())?;
        start
            .checked_add(len)
            .and_then(|end| self.bytes.get(start..end))
            .ok_or_else(|| format!("truncated: {len} bytes at offset {offset} are past the end"))
    }

    fn u16(&self, offset: u64) -> Result<u16, String> {
        let raw: [u8; 2] = self.slice(offset, 2)?.try_into().unwrap();
        Ok(if self.big_endian {
            u16::from_be_bytes(raw)
        } else {
            u16::from_le_bytes(raw)
        })
    }

    fn u32(&self, offset: u64) -> Result<u32, String> {
        let raw: [u8; 4] = self.slice(offset, 4)?.try_into().unwrap();
        Ok(if self.big_endian {
            u32::from_be_bytes(raw)
        } else {
            u32::from_le_bytes(raw)
        })
    }

    fn u64(&self, offset: u64) -> Result<u64, String> {
        let raw: [u8; 8] = self.slice(offset, 8)?.try_into().unwrap();
        Ok(if self.big_endian {
            u64::from_be_bytes(raw)
        } else {
            u64::from_le_bytes(raw)
        })
    }

    /// An address, offset or size: 8 bytes in ELF64, 4 in ELF32.
    fn word(&self, offset: u64) -> Result<u64, String> {
        if self.wide {
            self.u64(offset)
        } else {
            self.u32(offset).map(u64::from)
        }
    }

    fn c_string(&self, offset: u64) -> Result<String, String> {
        let rest = usize::try_from(offset)
            .ok()
            .and_then(|start| self.bytes.get(start..))
            .ok_or_else(|| format!("a library name at offset {offset} is past the end"))?;
        let end = rest
            .iter()
            .position(|&byte| byte == 0)
            .ok_or("a library name has no terminating NUL")?;
        Ok(String::from_utf8_lossy(&rest[..end]).into_owned())
    }
}

struct Segment {
    kind: u32,
    offset: u64,
    vaddr: u64,
    filesz: u64,
}

fn parse_needed(bytes: &[u8]) -> Result<Vec<String>, String> {
    if bytes.get(..4) != Some(b"\x7fELF") {
        return Err("not an ELF file".into());
    }
    let wide = match bytes.get(4) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err("unknown ELF class".into()),
    };
    let big_endian = match bytes.get(5) {
        Some(1) => false,
        Some(2) => true,
        _ => return Err("unknown ELF byte order".into()),
    };
    let elf = Reader {
        bytes,
        wide,
        big_endian,
    };
    // e_phoff, e_phentsize and e_phnum sit at different offsets in the two classes.
    let (phoff, phentsize, phnum) = if wide {
        (elf.u64(0x20)?, elf.u16(0x36)?, elf.u16(0x38)?)
    } else {
        (u64::from(elf.u32(0x1c)?), elf.u16(0x2a)?, elf.u16(0x2c)?)
    };
    let mut segments = Vec::new();
    for index in 0..u64::from(phnum) {
        let at = phoff + index * u64::from(phentsize);
        // Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, ...
        // Elf32_Phdr: type, offset, vaddr, paddr, filesz, ...
        let segment = if wide {
            Segment {
                kind: elf.u32(at)?,
                offset: elf.u64(at + 8)?,
                vaddr: elf.u64(at + 16)?,
                filesz: elf.u64(at + 32)?,
            }
        } else {
            Segment {
                kind: elf.u32(at)?,
                offset: u64::from(elf.u32(at + 4)?),
                vaddr: u64::from(elf.u32(at + 8)?),
                filesz: u64::from(elf.u32(at + 16)?),
            }
        };
        segments.push(segment);
    }
    let Some(dynamic) = segments.iter().find(|segment| segment.kind == PT_DYNAMIC) else {
        // No dynamic section: a statically linked executable needs no library.
        return Ok(Vec::new());
    };
    let entry_size = if wide { 16 } else { 8 };
    let word = if wide { 8 } else { 4 };
    let mut needed_offsets = Vec::new();
    let mut strtab = None;
    for index in 0..dynamic.filesz / entry_size {
        let at = dynamic.offset + index * entry_size;
        let tag = elf.word(at)?;
        let value = elf.word(at + word)?;
        match tag {
            DT_NULL => break,
            DT_NEEDED => needed_offsets.push(value),
            DT_STRTAB => strtab = Some(value),
            _ => {}
        }
    }
    if needed_offsets.is_empty() {
        return Ok(Vec::new());
    }
    let strtab = strtab.ok_or("DT_NEEDED entries but no DT_STRTAB")?;
    // DT_STRTAB is a virtual address: find the loaded segment that holds it.
    let strtab = segments
        .iter()
        .filter(|segment| segment.kind == PT_LOAD)
        .find(|segment| segment.vaddr <= strtab && strtab < segment.vaddr + segment.filesz)
        .map(|segment| strtab - segment.vaddr + segment.offset)
        .ok_or("DT_STRTAB lies in no loaded segment")?;
    needed_offsets
        .into_iter()
        .map(|name| elf.c_string(strtab + name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ELF with one PT_LOAD segment and one PT_DYNAMIC segment, built field by field.
    fn synthetic_elf(wide: bool, big_endian: bool, libraries: &[&str]) -> Vec<u8> {
        let word = if wide { 8 } else { 4 };
        let put = |out: &mut Vec<u8>, value: u64, size: usize| {
            let bytes = value.to_be_bytes();
            let mut field = bytes[8 - size..].to_vec();
            if !big_endian {
                field.reverse();
            }
            out.extend(field);
        };
        let header_size = if wide { 64 } else { 52 };
        let phentsize = if wide { 56 } else { 32 };
        let phoff = header_size as u64;
        let strtab_offset = phoff + 2 * phentsize as u64;
        let mut strtab = vec![0u8];
        let mut name_offsets = Vec::new();
        for library in libraries {
            name_offsets.push(strtab.len() as u64);
            strtab.extend(library.as_bytes());
            strtab.push(0);
        }
        let dynamic_offset = strtab_offset + strtab.len() as u64;
        let mut entries: Vec<(u64, u64)> = name_offsets.iter().map(|&o| (DT_NEEDED, o)).collect();
        let vaddr_base = 0x40_0000u64;
        entries.push((DT_STRTAB, vaddr_base + strtab_offset));
        entries.push((DT_NULL, 0));
        let dynamic_size = entries.len() as u64 * 2 * word as u64;
        let file_size = dynamic_offset + dynamic_size;

        let mut out = b"\x7fELF".to_vec();
        out.push(if wide { 2 } else { 1 });
        out.push(if big_endian { 2 } else { 1 });
        out.resize(16, 0);
        put(&mut out, 2, 2); // e_type: executable
        put(&mut out, 62, 2); // e_machine
        put(&mut out, 1, 4); // e_version
        put(&mut out, 0, word); // e_entry
        put(&mut out, phoff, word); // e_phoff
        put(&mut out, 0, word); // e_shoff
        put(&mut out, 0, 4); // e_flags
        put(&mut out, header_size as u64, 2); // e_ehsize
        put(&mut out, phentsize as u64, 2); // e_phentsize
        put(&mut out, 2, 2); // e_phnum
        put(&mut out, 0, 2); // e_shentsize
        put(&mut out, 0, 2); // e_shnum
        put(&mut out, 0, 2); // e_shstrndx
        assert_eq!(out.len(), header_size);
        for (kind, offset, size) in [
            (PT_LOAD, 0, file_size),
            (PT_DYNAMIC, dynamic_offset, dynamic_size),
        ] {
            let vaddr = vaddr_base + offset;
            if wide {
                put(&mut out, kind.into(), 4);
                put(&mut out, 4, 4); // p_flags
                put(&mut out, offset, 8);
                put(&mut out, vaddr, 8);
                put(&mut out, vaddr, 8); // p_paddr
                put(&mut out, size, 8); // p_filesz
                put(&mut out, size, 8); // p_memsz
                put(&mut out, 8, 8); // p_align
            } else {
                put(&mut out, kind.into(), 4);
                put(&mut out, offset, 4);
                put(&mut out, vaddr, 4);
                put(&mut out, vaddr, 4);
                put(&mut out, size, 4);
                put(&mut out, size, 4);
                put(&mut out, 4, 4); // p_flags
                put(&mut out, 4, 4); // p_align
            }
        }
        out.extend(&strtab);
        for (tag, value) in entries {
            put(&mut out, tag, word);
            put(&mut out, value, word);
        }
        assert_eq!(out.len() as u64, file_size);
        out
    }

    #[test]
    fn reads_needed_libraries_in_every_class_and_byte_order() {
        let libraries = ["libssl.so.3", "libcrypto.so.3", "libc.so.6"];
        for wide in [true, false] {
            for big_endian in [false, true] {
                let elf = synthetic_elf(wide, big_endian, &libraries);
                assert_eq!(
                    parse_needed(&elf).unwrap(),
                    libraries,
                    "wide={wide} big_endian={big_endian}"
                );
            }
        }
    }

    #[test]
    fn a_binary_without_needed_entries_needs_nothing() {
        assert!(
            parse_needed(&synthetic_elf(true, false, &[]))
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn reads_this_test_executable_which_links_the_c_library() {
        let needed = needed_libraries(std::env::current_exe().unwrap()).unwrap();
        assert!(
            needed.iter().any(|name| name.starts_with("libc.")),
            "{needed:?}"
        );
        assert!(needed.iter().all(|name| is_c_runtime(name)), "{needed:?}");
    }

    #[test]
    fn agrees_with_readelf_where_it_is_installed() {
        let Ok(output) = std::process::Command::new("readelf")
            .args(["-d", "/bin/ls"])
            .output()
        else {
            return; // No binutils here: the synthetic files above still test the parser.
        };
        let text = String::from_utf8_lossy(&output.stdout);
        let expected: Vec<String> = text
            .lines()
            .filter(|line| line.contains("(NEEDED)"))
            .filter_map(|line| Some(line.split_once('[')?.1.split_once(']')?.0.to_string()))
            .collect();
        assert_eq!(needed_libraries("/bin/ls").unwrap(), expected);
    }

    #[test]
    fn rejects_what_is_not_elf_and_truncated_files() {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("script");
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        assert!(
            needed_libraries(&script)
                .unwrap_err()
                .contains("not an ELF file")
        );
        let elf = synthetic_elf(true, false, &["libssl.so.3"]);
        assert!(parse_needed(&elf[..elf.len() - 20]).is_err());
        assert!(parse_needed(&elf[..40]).is_err());
    }

    #[test]
    fn tells_openssl_and_the_c_runtime_apart() {
        for name in ["libssl.so.3", "libcrypto.so.3", "libssl.so.1.1"] {
            assert!(is_openssl(name) && !is_c_runtime(name), "{name}");
        }
        for name in [
            "libc.so.6",
            "ld-linux-x86-64.so.2",
            "libgcc_s.so.1",
            "libm.so.6",
        ] {
            assert!(is_c_runtime(name) && !is_openssl(name), "{name}");
        }
        assert!(!is_c_runtime("libcurl.so.4"));
    }
}
