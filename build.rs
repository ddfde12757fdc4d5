//! Rebuild when the web app's build changes. Release builds embed the files rust-embed found in
//! `ui-dist/` at compile time, and cargo would not notice a file added or removed there; debug
//! builds read `ui-dist/` at run time, so a new `vite build` needs no recompilation there.
fn main() {
    if std::env::var_os("CARGO_CFG_DEBUG_ASSERTIONS").is_some() {
        println!("cargo::rerun-if-changed=build.rs");
    } else {
        println!("cargo::rerun-if-changed=ui-dist");
    }
}
