//! `fstack`: the focus-stacking command line. Not yet implemented.

fn main() -> std::process::ExitCode {
    eprintln!("fstack: the command line is not implemented yet");
    std::process::ExitCode::FAILURE
}
