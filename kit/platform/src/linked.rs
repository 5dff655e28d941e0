//! The shared libraries a built executable asks the loader for, whatever its format: ELF's
//! `DT_NEEDED` entries on Linux ([`crate::elf`], read from the bytes), `otool -L` on macOS
//! ([`crate::macho`]).

use std::path::Path;

/// The libraries the executable at `path` links, in file order: ELF names (`libc.so.6`) or
/// Mach-O install names (`/usr/lib/libSystem.B.dylib`). A file that cannot be read as this
/// platform's executables is an error.
pub fn needed_libraries(path: impl AsRef<Path>) -> Result<Vec<String>, String> {
    let path = path.as_ref();
    if cfg!(target_os = "macos") {
        crate::macho::needed_libraries(path)
    } else {
        crate::elf::needed_libraries(path)
    }
}

/// Whether `name` belongs to what every machine of the platform has: the C runtime on Linux
/// (libc, its loader, libm, …), the system's own libraries and frameworks on macOS.
pub fn is_c_runtime(name: &str) -> bool {
    crate::elf::is_c_runtime(name) || crate::macho::is_system_library(name)
}

/// Whether `name` (a library name or path) is OpenSSL: `libssl.so.3`, `libcrypto.so.1.1`,
/// `/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib`.
pub fn is_openssl(name: &str) -> bool {
    let file = name.rsplit('/').next().unwrap_or(name);
    file.starts_with("libssl.") || file.starts_with("libcrypto.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openssl_and_the_runtime_are_recognised_on_both_platforms() {
        assert!(is_openssl("libssl.so.3") && is_openssl("libcrypto.so.1.1"));
        assert!(is_openssl("/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib"));
        assert!(!is_openssl("libc.so.6"));
        assert!(is_c_runtime("libc.so.6") && is_c_runtime("/usr/lib/libSystem.B.dylib"));
        assert!(!is_c_runtime("libpq.so.5"));
    }
}
