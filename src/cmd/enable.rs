//! `entire enable` and `entire disable`.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::agents::settings::{Change, SettingsFile};
use crate::agents::{self, AGENTS, Spec};
use crate::checkpoint;
use crate::cli::{AgentKind, DisableArgs, EnableArgs};
use crate::error::{Context, Error, Result};
use crate::fsutil::atomic_write;
use crate::git::Repo;
use crate::git::hooks_install;
use crate::settings::{self, Settings};

pub fn enable(args: EnableArgs) -> Result<i32> {
    let repo = Repo::require(&super::current_dir()?)?;
    let binary = current_binary()?;
    let _ = args.force; // hooks that were there are always chained now
    // Every agent settings file is checked before anything is written.
    let agent_changes = specs(&args.agent)
        .into_iter()
        .map(|spec| SettingsFile::new(&repo, spec, args.local)?.plan_install(&binary))
        .collect::<Result<Vec<_>>>()?;
    write_settings(&repo, true)?;
    clear_local_disable(&repo)?;
    let done = hooks_install::install(&repo, &binary)?;
    report_install(&done);
    let added = checkpoint::remote::ensure_fetch(&repo)?;
    if !added.is_empty() {
        hooks_install::record_refspecs(&repo, &added)?;
        for (remote, _) in &added {
            println!("git fetch from {remote} now brings {}", checkpoint::BRANCH);
        }
    }
    for change in agent_changes {
        let done = if change.changes_file() { "installed in" } else { "already installed in" };
        println!("{}: hooks {done} {}", change.agent, relative(&repo, &change));
        change.apply()?;
    }
    println!("entire is enabled in {} (hooks in {})", repo.worktree.display(), done.dir.display());
    Ok(0)
}

/// Tells the user what `install` did with the hooks that were there.
pub fn report_install(done: &hooks_install::Installed) {
    if done.migrated {
        println!("removed entire's old hook shims and put back the hooks they had renamed");
    }
    for (hook, target) in &done.adopted {
        println!(
            "{hook}: moved the hook found in entire's hooks directory to {}, where it runs",
            target.display()
        );
    }
    for aside in &done.moved_aside {
        println!("  (the one that was there is kept as {})", aside.display());
    }
    if !done.chained.is_empty() {
        let from = done.previous.as_deref().unwrap_or("the default hooks directory");
        println!(
            "core.hooksPath was {from}; its hooks still run, after entire's, by their own path: {}",
            done.chained.join(", ")
        );
    }
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
        let (state, left) = hooks_install::uninstall(&repo)?;
        if let Some(state) = &state {
            checkpoint::remote::remove_fetch(&repo, &state.added_refspecs);
            match &state.previous_local {
                Some(path) => println!("core.hooksPath is {path} again"),
                None => println!("core.hooksPath is unset again"),
            }
        }
        for path in left {
            println!("left {} in place: it is not entire's", path.display());
        }
        if Settings::path(&repo.worktree).exists() {
            if args.project {
                write_settings(&repo, false)?;
                println!(
                    "wrote \"enabled\": false to {} (committed: this turns entire off for everyone who pulls it)",
                    settings::FILE_PATH
                );
            } else {
                write_local_disable(&repo)?;
                println!(
                    "wrote \"enabled\": false to {} (not committed: entire is off in this clone only; `--project` turns it off for everyone)",
                    settings::LOCAL_FILE_PATH
                );
            }
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

/// A settings file as a JSON object; an absent file is an empty one.
fn read_object(path: &Path) -> Result<Map<String, Value>> {
    Ok(match crate::fsutil::read_optional(path)? {
        None => Map::new(),
        Some(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(Value::Object(map)) => map,
            _ => {
                return Err(Error::new(format!("{} is not a JSON object", path.display()))
                    .with_hint("fix or remove the file, then run this again"));
            }
        },
    })
}

fn write_object(path: &Path, map: Map<String, Value>) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(&Value::Object(map))?;
    bytes.push(b'\n');
    atomic_write(path, &bytes, 0o644)
}

/// `"enabled": false` in `.entire/settings.local.json`, keeping its other keys.
fn write_local_disable(repo: &Repo) -> Result<()> {
    let path = repo.worktree.join(settings::DIR).join(settings::LOCAL_FILE);
    let mut map = read_object(&path)?;
    map.insert("enabled".into(), Value::Bool(false));
    write_object(&path, map)?;
    ensure_ignored(path.parent().expect("settings dir"))
}

/// Takes a local `"enabled": false` back (the file goes when nothing else is in it).
fn clear_local_disable(repo: &Repo) -> Result<()> {
    let path = repo.worktree.join(settings::DIR).join(settings::LOCAL_FILE);
    let mut map = read_object(&path)?;
    if map.get("enabled") != Some(&Value::Bool(false)) {
        return Ok(());
    }
    map.remove("enabled");
    if map.is_empty() {
        std::fs::remove_file(&path).context(format_args!("removing {}", path.display()))
    } else {
        write_object(&path, map)
    }
}

/// `.entire/.gitignore` lists the local settings file.
fn ensure_ignored(dir: &Path) -> Result<()> {
    let ignore = dir.join(".gitignore");
    if !ignore.exists() {
        atomic_write(&ignore, format!("{}\n", settings::LOCAL_FILE).as_bytes(), 0o644)?;
    }
    Ok(())
}

/// Sets `enabled` in `.entire/settings.json`, keeping every other key.
fn write_settings(repo: &Repo, enabled: bool) -> Result<()> {
    let path = Settings::path(&repo.worktree);
    let dir = path.parent().expect("settings dir");
    std::fs::create_dir_all(dir).context(format_args!("creating {}", dir.display()))?;
    let mut map = read_object(&path)?;
    map.insert("enabled".into(), Value::Bool(enabled));
    map.entry("resolution").or_insert_with(|| json!({"recency": true}));
    if crate::fsutil::read_optional(&path)?
        .is_none_or(|b| serde_json::from_slice::<Value>(&b).ok() != Some(Value::Object(map.clone())))
    {
        write_object(&path, map)?;
    }
    ensure_ignored(dir)
}
