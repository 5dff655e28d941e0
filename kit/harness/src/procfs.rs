//! What a running process holds (sockets, open files, children, loaded libraries): `kit-platform`'s
//! [`process`](kit_platform::process) module, under the name the checks have always used. On Linux
//! it reads `/proc`; on macOS it asks `lsof`, `pgrep` and `ps`; where the platform cannot show what
//! a check needs, the check ends as "not checkable on macOS" (neither passed nor failed).

pub use kit_platform::process::*;
