//! `entire enable` and `entire disable`.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use crate::agents::settings::{Change, SettingsFile};
use crate::agents::{self, AGENTS, Spec};
use crate::cli::{AgentKind, DisableArgs, EnableArgs};
use crate::error::{Context, Error, Result};
use crate::fsutil::atomic_write;
use crate::git::Repo;
use crate::git::hooks_install::{self, HOOKS, Installed};
use crate::settings::{self, Settings};

pub fn enable(args: EnableArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    let binary = current_binary()?;
    // Every agent settings file is checked before anything is written.
    let agent_changes = specs(&args.agent)
        .into_iter()
        .map(|spec| SettingsFile::new(&repo, spec, args.local)?.plan_install(&binary))
        .collect::<Result<Vec<_>>>()?;
    write_settings(&repo, true)?;
    let dir = hooks_install::hooks_dir(&repo)?;
    for hook in HOOKS {
        match hooks_install::install(&dir, hook, &binary, args.force)? {
            Installed::Chained => println!("{hook}: kept your hook as {hook}.pre-entire; it still runs"),
            Installed::Replaced(aside) => println!("{hook}: moved your hook aside to {}", aside.display()),
            Installed::Fresh | Installed::Updated | Installed::Unchanged => {}
        }
    }
    for change in agent_changes {
        let done = if change.changes_file() { "installed in" } else { "already installed in" };
        println!("{}: hooks {done} {}", change.agent, relative(&repo, &change));
        change.apply()?;
    }
    println!("entire is enabled in {} (hooks in {})", repo.worktree.display(), dir.display());
    Ok(0)
}

/// Without `--agent`: the git hooks and every agent's hooks. With it: only
/// those agents' hooks, from their project and local settings files.
pub fn disable(args: DisableArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    let agents = if args.agent.is_empty() { AGENTS.to_vec() } else { specs(&args.agent) };
    let agent_changes = agents
        .into_iter()
        .flat_map(|spec| SettingsFile::all(&repo, spec))
        .map(|file| file.plan_uninstall())
        .collect::<Result<Vec<_>>>()?;
    if args.agent.is_empty() {
        let dir = hooks_install::hooks_dir(&repo)?;
        for hook in HOOKS {
            hooks_install::uninstall(&dir, hook)?;
        }
        if Settings::path(&repo.worktree).exists() {
            write_settings(&repo, false)?;
        }
    }
    for change in agent_changes {
        if change.changes_file() {
            println!("{}: hooks removed from {}", change.agent, relative(&repo, &change));
        }
        change.apply()?;
    }
    if args.agent.is_empty() {
        println!("entire is disabled in {}", repo.worktree.display());
    }
    Ok(0)
}

/// The agents named on the command line, each once.
fn specs(kinds: &[AgentKind]) -> Vec<&'static Spec> {
    let mut specs: Vec<&'static Spec> = Vec::new();
    for spec in kinds.iter().map(|&kind| agents::spec(kind)) {
        if !specs.iter().any(|s| s.name == spec.name) {
            specs.push(spec);
        }
    }
    specs
}

fn relative(repo: &Repo, change: &Change) -> String {
    change.path.strip_prefix(&repo.worktree).unwrap_or(&change.path).display().to_string()
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
