//! The committed crash inputs of the fuzz targets (`fuzz/regressions/<target>/` at the workspace root),
//! replayed by each owning crate's `tests/fuzz_regressions.rs` through the same property function.

use std::path::{Path, PathBuf};

/// The committed crash inputs of a fuzz target, `fuzz/regressions/<target>/` at the workspace root.
pub fn regression_inputs(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/regressions").join(target);
    let Ok(listing) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut files: Vec<PathBuf> = listing
        .filter_map(|item| item.ok().map(|item| item.path()))
        .filter(|path| path.is_file() && !path.file_name().is_some_and(|name| name.to_string_lossy().starts_with('.')))
        .collect();
    files.sort();
    files
}

/// Runs `property` over every committed crash input of `target`, naming the file that fails.
pub fn replay_regressions(target: &str, property: fn(&[u8])) {
    for path in regression_inputs(target) {
        let data = std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let outcome = std::panic::catch_unwind(|| property(&data));
        assert!(outcome.is_ok(), "fuzz regression {} fails again", path.display());
    }
}
