//! `entire enable` and `entire disable`.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::cli::{DisableArgs, EnableArgs};
use crate::error::{Context, Error, Result};
use crate::fsutil::atomic_write;
use crate::git::Repo;
use crate::git::hooks_install::{self, HOOKS, Installed};
use crate::settings::{self, Settings};

pub fn enable(args: EnableArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    let binary = current_binary()?;
    write_settings(&repo, true)?;
    let dir = hooks_install::hooks_dir(&repo)?;
    for hook in HOOKS {
        match hooks_install::install(&dir, hook, &binary, args.force)? {
            Installed::Chained => println!("{hook}: kept your hook as {hook}.pre-entire; it still runs"),
            Installed::Replaced(aside) => println!("{hook}: moved your hook aside to {}", aside.display()),
            Installed::Fresh | Installed::Updated | Installed::Unchanged => {}
        }
    }
    if !args.agent.is_empty() {
        return Err(Error::new("agent hooks are not built yet"));
    }
    println!("entire is enabled in {} (hooks in {})", repo.worktree.display(), dir.display());
    Ok(0)
}

pub fn disable(args: DisableArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    if !args.agent.is_empty() {
        return Err(Error::new("agent hooks are not built yet"));
    }
    let dir = hooks_install::hooks_dir(&repo)?;
    for hook in HOOKS {
        hooks_install::uninstall(&dir, hook)?;
    }
    if Settings::path(&repo.worktree).exists() {
        write_settings(&repo, false)?;
    }
    println!("entire is disabled in {}", repo.worktree.display());
    Ok(0)
}

/// The binary the shims should run: this one, by absolute path.
pub fn current_binary() -> Result<PathBuf> {
    std::env::current_exe().and_then(|p| p.canonicalize()).context("finding the entire binary")
}

/// Sets `enabled` in `.entire/settings.json`, keeping every other key.
fn write_settings(repo: &Repo, enabled: bool) -> Result<()> {
    let path = Settings::path(&repo.worktree);
    let dir = path.parent().expect("settings dir");
    std::fs::create_dir_all(dir).context(format_args!("creating {}", dir.display()))?;
    let mut map = match crate::fsutil::read_optional(&path)? {
        None => Map::new(),
        Some(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(Error::new(format!("{} is not a JSON object", path.display()))
                    .with_hint("fix or remove the file, then run this again"));
            }
        },
    };
    map.insert("enabled".into(), Value::Bool(enabled));
    map.entry("resolution").or_insert_with(|| json!({"recency": true}));
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(map))?;
    bytes.push(b'\n');
    atomic_write(&path, &bytes, 0o644)?;
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        atomic_write(&ignore, format!("{}\n", settings::LOCAL_FILE).as_bytes(), 0o644)?;
    }
    Ok(())
}
