//! Audit log lines (`ok2cry::audit::event::Event::parse_line`), as an auditor's verifier and
//! the service's own recovery read them from segment files.
//!
//! A line is accepted only in its canonical form: whatever parses must print back to exactly
//! the same line, and the timestamps of the event parse as the log's time format or not at
//! all (never a panic).

use ok2cry::audit::event::{Event, parse_time};

/// The target.
pub fn run(data: &[u8]) {
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let _ = parse_time(line);
    if let Some(event) = Event::parse_line(line) {
        assert_eq!(event.to_line(), line);
        let _ = event.body.key_id();
        assert_eq!(Event::parse_line(&event.to_line()), Some(event));
    }
}
