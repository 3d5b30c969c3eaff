use entire::{cli, cmd};

fn main() {
    // Started by git as a hook of entire's hooks directory (a link to a
    // copy of this binary, named after the hook): no argument parsing.
    let mut args = std::env::args_os();
    if let Some(argv0) = args.next() {
        let name = std::path::Path::new(&argv0).file_name().and_then(|n| n.to_str());
        if let Some(hook) = name.filter(|n| entire::git::hooks_install::is_entire_hook(n)) {
            let hook = hook.to_owned();
            entire::hooks::chain::run(&argv0, &hook, &args.collect::<Vec<_>>());
        }
    }
    std::process::exit(cmd::run(cli::parse()));
}
