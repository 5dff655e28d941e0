//! The shared libraries a macOS executable asks the loader for, as `otool -L` lists them (its
//! `LC_LOAD_DYLIB` commands). `otool` comes with Apple's command-line tools, which Rust on macOS
//! needs anyway (the linker).

use crate::Gap;
use std::path::Path;
use std::process::{Command, Stdio};

/// The install names of the libraries `path` links, in order (e.g. `/usr/lib/libSystem.B.dylib`).
pub fn needed_libraries(path: &Path) -> Result<Vec<String>, String> {
    let output = Command::new("otool")
        .arg("-L")
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|err| {
            Gap::new(format!(
                "the libraries {} links (`otool -L` did not run: {err}; `xcode-select --install` \
                 provides it)",
                path.display()
            ))
            .stop()
        });
    if !output.status.success() {
        return Err(format!(
            "otool -L {}: {}",
            path.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    Ok(parse_otool(&String::from_utf8_lossy(&output.stdout)))
}

/// `otool -L`'s output: a line naming the file, then one indented line per library,
/// `<install name> (compatibility version …, current version …)`.
fn parse_otool(text: &str) -> Vec<String> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let name = line.trim().split(" (compatibility").next()?.trim();
            (!name.is_empty()).then(|| name.to_string())
        })
        .collect()
}

/// Part of macOS itself (every Mac has it, in the version the OS ships): `/usr/lib/…` and the
/// system frameworks.
pub fn is_system_library(name: &str) -> bool {
    name.starts_with("/usr/lib/") || name.starts_with("/System/Library/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_otool_output() {
        let text = "target/debug/noticeboard:\n\
             \t/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib (compatibility version 3.0.0, current version 3.0.0)\n\
             \t/System/Library/Frameworks/Security.framework/Versions/A/Security (compatibility version 1.0.0, current version 61123.1.1)\n\
             \t/usr/lib/libSystem.B.dylib (compatibility version 1.0.0, current version 1345.100.2)\n";
        let libraries = parse_otool(text);
        assert_eq!(
            libraries,
            [
                "/opt/homebrew/opt/openssl@3/lib/libssl.3.dylib",
                "/System/Library/Frameworks/Security.framework/Versions/A/Security",
                "/usr/lib/libSystem.B.dylib",
            ]
        );
        assert!(!is_system_library(&libraries[0]));
        assert!(is_system_library(&libraries[1]) && is_system_library(&libraries[2]));
    }
}
