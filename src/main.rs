use entire::{cli, cmd};

fn main() {
    std::process::exit(cmd::run(cli::parse()));
}
