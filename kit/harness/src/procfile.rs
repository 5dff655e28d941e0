//! The process types an app declares in the `Procfile` next to its `Cargo.toml`, as Heroku,
//! foreman and honcho read it: one `<type>: <command>` per line.
//!
//! A check that judges "the app" rather than one process of it starts every type the app declares
//! (Factor VIII's `worker` beside the `web` process, say), so that it sees the work done by
//! whichever process does it. An app without a Procfile is its one default binary.
//!
//! The file is read as `cargo xtask deploy` reads it (`kit_common::procfile`); a check adds one
//! rule: a command is a binary of the package followed by its arguments (no shell, no variables).
//! `release` (the release phase, run once per deploy) is not a process type.

use kit_common::procfile::Procfile;
use std::path::{Path, PathBuf};

/// One process type: its name and the command that starts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessType {
    /// `web`, `worker`, ...
    pub name: String,
    /// The binary that runs it, in the folder of the app's binaries.
    pub binary: PathBuf,
    /// The arguments after the binary's name (`["worker"]` for `noticeboard worker`).
    pub args: Vec<String>,
}

/// The process types declared in `<package_dir>/Procfile`, in the file's order, without
/// `release`; `None` when the package has no Procfile. `app_binary` is the app's default binary
/// ([`crate::app_binary!`]): the binaries a Procfile names are looked up in its folder, where
/// Cargo (or xtask) put every binary of the package. Panics, naming the line, on a Procfile a
/// platform could not run either.
#[track_caller]
pub fn process_types(package_dir: &Path, app_binary: &Path) -> Option<Vec<ProcessType>> {
    let path = package_dir.join("Procfile");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return None,
        Err(err) => panic!("cannot read {}: {err}", path.display()),
    };
    let folder = app_binary.parent().unwrap_or(Path::new("."));
    let types = parse(&text)
        .unwrap_or_else(|err| panic!("{}: {err}", path.display()))
        .into_iter()
        .map(|(name, program, args)| ProcessType {
            name,
            binary: folder.join(program),
            args,
        })
        .collect();
    Some(types)
}

/// `(type, program, arguments)` for each line but `release`.
fn parse(text: &str) -> Result<Vec<(String, String, Vec<String>)>, String> {
    let procfile = Procfile::parse(text).map_err(|err| format!("{err:#}"))?;
    let mut types = Vec::new();
    for (name, command) in procfile.types {
        let mut words = command.split_whitespace().map(str::to_string);
        let program = words.next().unwrap_or_default();
        if program.contains('/') || program.contains('$') {
            return Err(format!(
                "the `{name}` command must start with the name of one of the package's binaries, \
                 found {program:?}"
            ));
        }
        types.push((name, program, words.collect()));
    }
    Ok(types)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_type_with_its_arguments_and_leaves_out_release() {
        let types = parse(
            "# The process types.\nweb: noticeboard web\nworker:   noticeboard worker --fast\n\
             release: migrate\n",
        )
        .unwrap();
        assert_eq!(
            types,
            [
                ("web".into(), "noticeboard".into(), vec!["web".to_string()]),
                (
                    "worker".into(),
                    "noticeboard".into(),
                    vec!["worker".to_string(), "--fast".to_string()]
                ),
            ]
        );
    }

    #[test]
    fn a_line_without_a_command_is_an_error_naming_it() {
        let err = parse("web: noticeboard\nworker:\n").unwrap_err();
        assert!(err.contains("line 2"), "{err}");
    }

    #[test]
    fn a_command_that_is_a_path_or_a_shell_line_is_an_error() {
        assert!(parse("web: /usr/bin/noticeboard\n").is_err());
        assert!(parse("web: $HOME/noticeboard\n").is_err());
    }

    #[test]
    fn binaries_are_looked_up_next_to_the_apps_binary() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("Procfile"), "worker: noticeboard worker\n").unwrap();
        let types = process_types(dir.path(), Path::new("/bins/noticeboard-web")).unwrap();
        assert_eq!(types[0].binary, Path::new("/bins/noticeboard"));
        assert_eq!(types[0].args, ["worker"]);
        assert!(process_types(&dir.path().join("none"), Path::new("/bins/x")).is_none());
    }
}
