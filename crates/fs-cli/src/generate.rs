//! Shell completions and man pages, generated from the clap definition.

use std::io::Write;

use anyhow::Context as _;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};

/// `fstack completions <shell>`: the script on stdout.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<()> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "fstack", &mut out);
    out.flush().context("cannot write to stdout")?;
    Ok(())
}

/// `fstack man`: fstack.1 on stdout, or every page into `--out DIR`.
pub fn man(args: ManArgs) -> anyhow::Result<()> {
    let cmd = Cli::command();
    match args.out {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd).render(&mut out).context("cannot write to stdout")?;
            out.flush().context("cannot write to stdout")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("{}: cannot create the folder", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("{}: cannot write the man pages", dir.display()))?;
            eprintln!("fstack: man pages written to {}", dir.display());
        }
    }
    Ok(())
}
