//! The layout of the workspace's source: no module of a crate imports another in a loop,
//! beyond the cycles that `scripts/module-cycles` allows (each with its reason, in the
//! script). A new cycle fails here; the script's output names its modules and the lines that
//! make each edge.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::Path;
use std::process::{Command, Output};

fn module_cycles(args: &[&str]) -> Output {
    let root = env!("CARGO_MANIFEST_DIR");
    Command::new("python3")
        .arg(Path::new(root).join("scripts/module-cycles"))
        .args(args)
        .current_dir(root)
        .output()
        .expect("python3 runs scripts/module-cycles")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn no_module_cycle_beyond_the_allow_list() {
    let out = module_cycles(&[]);
    let report = text(&out);
    assert!(
        out.status.success(),
        "scripts/module-cycles failed:\n{report}"
    );
    // It read every crate: a script that finds no file would find no cycle either.
    for name in [
        "ok2cry",
        "ok2cry-client",
        "ok2cry-attestation",
        "ok2cry-fuzz",
    ] {
        let line = report
            .lines()
            .find(|l| l.starts_with(&format!("== {name}: ")))
            .unwrap_or_else(|| panic!("no report for {name}:\n{report}"));
        let modules: usize = line[format!("== {name}: ").len()..]
            .split(' ')
            .next()
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(modules > 5, "{name}: too few modules read:\n{report}");
    }
}

#[test]
fn a_planted_cycle_fails() {
    // Two modules naming each other (one through `use`, one through a path), a parent's
    // re-export, and the same names in comments, strings and a test module, which do not count.
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path().join("src");
    std::fs::create_dir_all(&src).unwrap();
    let files = [
        (
            "lib.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub use c::C;\n\
             // crate::c::C in a comment\nconst S: &str = \"crate::c::C\";\n",
        ),
        (
            "a.rs",
            "use crate::b::B;\npub struct A;\npub fn f(_: B) {}\n",
        ),
        (
            "b.rs",
            "pub struct B;\npub fn g() { let _ = crate::a::A; }\n",
        ),
        (
            "c.rs",
            "pub struct C;\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n",
        ),
    ];
    for (name, body) in files {
        std::fs::write(src.join(name), body).unwrap();
    }
    let out = module_cycles(&["--root", dir.path().to_str().unwrap()]);
    let report = text(&out);
    assert!(!out.status.success(), "the planted cycle passed:\n{report}");
    assert!(
        report.contains("-- CYCLE (not allowed): crate::a, crate::b\n"),
        "{report}"
    );
    assert!(report.contains("1 cycle(s)"), "{report}");
}
