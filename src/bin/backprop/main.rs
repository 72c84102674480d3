//! The `backprop` command line.
#[allow(dead_code)]
mod plot;
fn main() {
    println!("backprop {}", env!("CARGO_PKG_VERSION"));
}
