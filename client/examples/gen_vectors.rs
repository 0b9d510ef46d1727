//! Prints the protocol v1 test vectors:
//!
//! ```text
//! cargo run -p ok2cry-client --example gen_vectors > tests/vectors/protocol-v1.json
//! ```
//!
//! The generation lives in `tests/support/generate.rs`, shared with
//! `tests/project_vectors.rs`, which checks that the committed file is exactly what this
//! prints (as JSON) and that the library agrees with every vector.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[path = "../tests/support/mod.rs"]
mod support;

fn main() {
    let vectors = support::generate::generate();
    let text = serde_json::to_string_pretty(&vectors).expect("JSON");
    println!("{text}");
}
