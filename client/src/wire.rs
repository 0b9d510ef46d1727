//! Rules shared by the protocol's text forms (docs/PROTOCOL.md §10.1).

/// The whitespace a receiver removes around a compact envelope or a key token: SP, HT, LF and
/// CR, the same four characters JSON allows between tokens. Nothing else is whitespace here:
/// form feed, vertical tab, NEL, no-break space, em space or a byte order mark are part of
/// the text (and so make it malformed).
pub const SURROUNDING_WHITESPACE: [char; 4] = [' ', '\t', '\n', '\r'];

/// `text` without the [`SURROUNDING_WHITESPACE`] at either end.
pub fn trim(text: &str) -> &str {
    text.trim_matches(SURROUNDING_WHITESPACE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_four_characters_are_trimmed() {
        assert_eq!(trim(" \t\r\nv1.a.b\r\n \t"), "v1.a.b");
        for other in ['\u{c}', '\u{b}', '\u{85}', '\u{a0}', '\u{2003}', '\u{feff}'] {
            let text = format!("{other}x{other}");
            assert_eq!(trim(&text), text, "{:?}", other);
        }
    }
}
