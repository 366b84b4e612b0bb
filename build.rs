//! Build script: records the git commit the binary is built from, for `meridian --version`.
//!
//! `MERIDIAN_COMMIT` is set to `git rev-parse --short HEAD` when the crate is built from its
//! own git checkout, else to `$MERIDIAN_COMMIT` from the build environment (a packager
//! building from a tarball can pass it), else `unknown`. A checkout nested in someone
//! else's repository (a tarball unpacked inside another project) is not ours: the commit is
//! taken only when the repository's top level is this crate's directory.

use std::path::Path;
use std::process::Command;

fn main() {
    println!("cargo:rerun-if-env-changed=MERIDIAN_COMMIT");
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let dir = Path::new(&dir);
    let given = std::env::var("MERIDIAN_COMMIT")
        .ok()
        .map(|c| c.trim().to_string())
        .filter(|c| !c.is_empty());
    let (commit, from) = match given {
        Some(c) => (c, "env"),
        None => match git_commit(dir) {
            Some(c) => (c, "git"),
            None => ("unknown".to_string(), "none"),
        },
    };
    println!("cargo:rustc-env=MERIDIAN_COMMIT={commit}");
    // Where it came from (`env`, `git`, `none`), so the version test knows what to expect.
    println!("cargo:rustc-env=MERIDIAN_COMMIT_FROM={from}");
}

/// The short commit of `dir`'s own checkout, and tells cargo to run again when HEAD moves.
fn git_commit(dir: &Path) -> Option<String> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if !same(Path::new(&top), dir) {
        return None;
    }
    // HEAD names the branch; the branch's ref (loose or packed) names the commit. In a
    // worktree these live in different directories: `--git-path` finds each.
    let git_path = |file: &str| git(dir, &["rev-parse", "--git-path", file]).map(|p| dir.join(p));
    for file in ["HEAD", "packed-refs"] {
        if let Some(path) = git_path(file).filter(|p| p.exists()) {
            watch(&path);
        }
    }
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"])
        && let Some(path) = git_path(&branch)
    {
        // A branch that is only packed gets a loose ref at its next commit: watch the
        // directory it will appear in.
        match path.exists() {
            true => watch(&path),
            false => {
                if let Some(parent) = path.parent().filter(|p| p.exists()) {
                    watch(parent);
                }
            }
        }
    }
    git(dir, &["rev-parse", "--short", "HEAD"])
}

/// Cargo runs this script again when `path` changes. Only existing paths are given: a
/// missing one would make every build run it again.
fn watch(path: &Path) {
    println!("cargo:rerun-if-changed={}", path.display());
}

/// One git command's trimmed stdout, or `None` when git is missing or fails.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}
