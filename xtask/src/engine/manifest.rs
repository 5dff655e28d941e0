//! `factors.toml`, as `kit-common` parses it for xtask and the harness alike (one struct, one
//! parser): re-exported here so xtask's modules keep one path to it.

pub use kit_common::manifest::{Factor, Manifest, Service, UnknownFactor};

/// The kit's own manifest, for xtask's unit tests.
#[cfg(test)]
pub fn kit() -> Manifest {
    Manifest::load(&crate::project_root().unwrap()).expect("factors.toml loads")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> Manifest {
        kit()
    }

    #[test]
    fn every_factor_knows_its_checks_from_its_check_file() {
        let manifest = manifest();
        let root = crate::project_root().unwrap();
        let dependencies = manifest.find("2").unwrap().check_names(&root);
        assert_eq!(dependencies.len(), 4, "{dependencies:?}");
        for factor in manifest.available() {
            let names = factor.check_names(&root);
            for intended in &factor.intended_failures {
                assert!(names.contains(intended), "{intended} not in {names:?}");
            }
        }
    }

    #[test]
    fn every_available_factor_is_complete() {
        let root = crate::project_root().unwrap();
        for factor in manifest().available() {
            assert!(
                factor.hints.len() >= crate::gate::conventions::MIN_HINTS,
                "{} needs at least {} hints",
                factor.heading(),
                crate::gate::conventions::MIN_HINTS
            );
            assert!(
                !factor.intended_failures.is_empty(),
                "{} has no intended failure",
                factor.heading()
            );
            for dir in [&factor.exercise, &factor.solution] {
                assert!(Factor::package(&root, dir).is_ok(), "{}", dir.display());
            }
        }
    }
}
