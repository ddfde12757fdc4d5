//! `colink manpage`: the command line's own help as a man page, so `man colink` says what
//! `colink --help` says (the deb and rpm packages install it as `colink.1`).

use clap::CommandFactory;

pub fn run() -> anyhow::Result<()> {
    let mut page = Vec::new();
    clap_mangen::Man::new(super::Cli::command()).render(&mut page)?;
    super::output::print(&String::from_utf8_lossy(&page))
}
