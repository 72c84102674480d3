//! The `backprop` command line.
fn main() {
    println!("backprop {}", env!("CARGO_PKG_VERSION"));
}
