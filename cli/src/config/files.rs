//! The files and directories that settings name (key files, TLS pairs, cache directories), looked at before a
//! service starts and by `marquee config check`: read, never created or changed.

use std::io::ErrorKind;
use std::path::{Path, PathBuf};

use marquee_http::TlsFiles;
use marquee_signing::KeyRing;

use marquee_settings::{Places, Problem, Report};

/// Reads and parses a signing key file (`marquee keygen`).
pub fn read_key_ring(path: &Path) -> Result<KeyRing, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read key file {}: {e}", path.display()))?;
    KeyRing::from_toml(&path.display().to_string(), &text).map_err(|e| e.to_string())
}

/// That `path` is a file this process can open.
pub fn readable_file(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_file() => {
            std::fs::File::open(path).map(drop).map_err(|e| format!("cannot read {}: {e}", path.display()))
        }
        Ok(_) => Err(format!("{} is not a file", path.display())),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// The `key_file` and `unsigned` settings: exactly one of them. A key file is read (and its problems
/// reported) even when both are set, so that a check says everything at once. `neither` is the message when
/// neither is set. Returns the keys, or `None` for unsigned or after a problem.
pub fn access(
    key_file: Option<&PathBuf>,
    unsigned: bool,
    neither: &str,
    places: &Places,
    problems: &mut Vec<Report>,
) -> Option<KeyRing> {
    let mut report = |problem: Problem| problems.push(places.report(&problem));
    match (key_file, unsigned) {
        (Some(path), true) => {
            report(
                Problem::new("unsigned", "cannot be used together with a key file (")
                    .setting("key_file")
                    .text("): remove one of them"),
            );
            if let Err(e) = read_key_ring(path) {
                report(Problem::new("key_file", e));
            }
            None
        }
        (None, false) => {
            report(Problem::new("key_file", neither));
            None
        }
        (Some(path), false) => read_key_ring(path).map_err(|e| report(Problem::new("key_file", e))).ok(),
        (None, true) => None,
    }
}

/// The `tls_cert` and `tls_key` settings: both or neither, and both readable. Adds the problems to `problems`
/// and returns the pair when both are set.
pub fn tls_pair(
    cert_chain: Option<&PathBuf>,
    private_key: Option<&PathBuf>,
    places: &Places,
    problems: &mut Vec<Report>,
) -> Option<TlsFiles> {
    match (cert_chain, private_key) {
        (Some(cert_chain), Some(private_key)) => {
            for (key, path) in [("tls_cert", cert_chain), ("tls_key", private_key)] {
                if let Err(e) = readable_file(path) {
                    problems.push(places.report(&Problem::new(key, e)));
                }
            }
            Some(TlsFiles { cert_chain: cert_chain.clone(), private_key: private_key.clone() })
        }
        (Some(_), None) | (None, Some(_)) => {
            let (set, unset) = if cert_chain.is_some() { ("tls_cert", "tls_key") } else { ("tls_key", "tls_cert") };
            let problem = Problem::new(set, "needs ")
                .setting(unset)
                .text(" as well: HTTPS takes a certificate chain and its private key");
            problems.push(places.report(&problem));
            None
        }
        (None, None) => None,
    }
}

/// What a service that writes into a directory (creating it if needed) will find there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WritableDirectory {
    /// It is there, and this user may create files in it.
    Exists,
    /// It is not there yet; this user may create it in its nearest existing parent.
    Missing,
}

/// Whether this user could create files in `dir`, creating it first if it is missing, without creating
/// anything. Permission bits are compared with the process's user and groups (Linux); ACLs and read-only
/// mounts are not looked at, so this catches the usual mistakes (a root-owned directory, a path under a file)
/// rather than promising that writing will work.
pub fn writable_directory(dir: &Path) -> Result<WritableDirectory, String> {
    let shown = dir.display();
    match std::fs::metadata(dir) {
        Ok(meta) if meta.is_dir() && may_write(&meta) => Ok(WritableDirectory::Exists),
        Ok(meta) if meta.is_dir() => Err(format!("this user may not create files in {shown}")),
        Ok(_) => Err(format!("{shown} is not a directory")),
        Err(e) if missing(&e) => {
            // The nearest parent that exists is where the first missing directory would be created.
            let mut parent = dir;
            loop {
                parent = match parent.parent() {
                    Some(p) if p.as_os_str().is_empty() => Path::new("."),
                    Some(p) => p,
                    None => return Err(format!("cannot create {shown}: none of its parents exists")),
                };
                match std::fs::metadata(parent) {
                    Ok(meta) if meta.is_dir() && may_write(&meta) => return Ok(WritableDirectory::Missing),
                    Ok(meta) if meta.is_dir() => {
                        return Err(format!(
                            "cannot create {shown}: this user may not create directories in {}",
                            parent.display()
                        ))
                    }
                    Ok(_) => return Err(format!("cannot create {shown}: {} is not a directory", parent.display())),
                    Err(e) if missing(&e) => continue,
                    Err(e) => return Err(format!("cannot create {shown}: cannot read {}: {e}", parent.display())),
                }
            }
        }
        Err(e) => Err(format!("cannot read {shown}: {e}")),
    }
}

/// Not there: nothing by that name, or a file where a parent directory should be.
fn missing(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::NotFound | ErrorKind::NotADirectory)
}

/// Whether the permission bits of a directory let this process create entries in it (write and search).
/// When the process's identity is unknown, only a directory nobody may write to is refused.
#[cfg(unix)]
fn may_write(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    match Identity::of_this_process() {
        Some(me) => me.may_write(meta.uid(), meta.gid(), meta.mode()),
        None => !meta.permissions().readonly(),
    }
}

#[cfg(not(unix))]
fn may_write(meta: &std::fs::Metadata) -> bool {
    !meta.permissions().readonly()
}

/// The user and groups the kernel checks file access against.
#[cfg(unix)]
#[derive(Debug)]
struct Identity {
    uid: u32,
    gids: Vec<u32>,
}

#[cfg(unix)]
impl Identity {
    /// Read from `/proc/self/status` (Linux): the filesystem uid and gid (the last of the four numbers on
    /// `Uid:` and `Gid:`) and the supplementary groups. `None` elsewhere.
    fn of_this_process() -> Option<Self> {
        let status = std::fs::read_to_string("/proc/self/status").ok()?;
        let numbers = |field: &str| -> Option<Vec<u32>> {
            let line = status.lines().find_map(|line| line.strip_prefix(field))?;
            Some(line.split_whitespace().filter_map(|n| n.parse().ok()).collect())
        };
        let uid = *numbers("Uid:")?.last()?;
        let mut gids = numbers("Groups:").unwrap_or_default();
        gids.push(*numbers("Gid:")?.last()?);
        Some(Self { uid, gids })
    }

    /// Whether the owner's, the group's or everyone's bits of `mode`, whichever apply to this identity, allow
    /// writing and searching a directory owned by `owner` and `group`. Root may always.
    fn may_write(&self, owner: u32, group: u32, mode: u32) -> bool {
        let bits = if self.uid == 0 {
            return true;
        } else if owner == self.uid {
            mode >> 6
        } else if self.gids.contains(&group) {
            mode >> 3
        } else {
            mode
        };
        bits & 0o3 == 0o3
    }
}

/// How a server's access is described on its start-up line: the key ids it checks tokens with, or unsigned.
pub fn access_summary(keys: Option<&marquee_signing::KeyRing>) -> String {
    match keys {
        Some(keys) => format!("signed URLs, keys {}", keys.ids().collect::<Vec<_>>().join(", ")),
        None => "UNSIGNED: every object is public".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_to_write_is_looked_at_without_creating_anything() {
        let temp = tempfile::tempdir().unwrap();
        let dir = temp.path();
        assert_eq!(writable_directory(dir), Ok(WritableDirectory::Exists));
        let missing = dir.join("cache/edge");
        assert_eq!(writable_directory(&missing), Ok(WritableDirectory::Missing));
        assert!(!dir.join("cache").exists(), "nothing was created");
        std::fs::write(dir.join("file"), "x").unwrap();
        let under_a_file = writable_directory(&dir.join("file/edge")).unwrap_err();
        assert!(under_a_file.ends_with("file is not a directory"), "{under_a_file}");
        assert!(writable_directory(&dir.join("file")).unwrap_err().ends_with("is not a directory"));
        assert_eq!(writable_directory(Path::new("relative-missing-dir")), Ok(WritableDirectory::Missing));
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_without_write_permission_is_refused_unless_root() {
        use std::os::unix::fs::PermissionsExt;
        let temp = tempfile::tempdir().unwrap();
        let locked = temp.path().join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        let root = Identity::of_this_process().is_some_and(|me| me.uid == 0);
        let result = writable_directory(&locked.join("edge"));
        if root {
            assert_eq!(result, Ok(WritableDirectory::Missing));
        } else {
            assert!(result.unwrap_err().contains("may not create directories in"));
        }
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn the_bits_that_apply_decide() {
        let me = Identity { uid: 1000, gids: vec![100, 27] };
        assert!(me.may_write(1000, 0, 0o700));
        assert!(!me.may_write(1000, 100, 0o577), "the owner's bits apply to the owner, not the group's");
        assert!(me.may_write(0, 27, 0o775));
        assert!(!me.may_write(0, 27, 0o755));
        assert!(!me.may_write(0, 0, 0o755));
        assert!(me.may_write(0, 0, 0o1777), "like /tmp");
        assert!(!me.may_write(0, 0, 0o772), "writing needs search too");
        assert!(Identity { uid: 0, gids: vec![0] }.may_write(5, 5, 0o500));
    }
}
