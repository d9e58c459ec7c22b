//! `auth-std-server`: see `auth-std-server --help`.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    auth_std_server::command::main()
}
