//! The shared libraries a built binary asks the loader for: `kit-platform`'s
//! [`linked`](kit_platform::linked) module (ELF's `DT_NEEDED` entries on Linux, `otool -L` on
//! macOS), under the name the checks have always used.

pub use kit_platform::linked::*;
