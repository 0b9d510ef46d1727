//! The C2SP tlog-witness wire format: the `add-checkpoint` request body and the responses.

use crate::audit::merkle::Hash;
use crate::audit::note::{Note, NoteSignature};
use base64ct::{Base64, Encoding};

/// Most consistency-proof lines a request may carry (the spec's limit).
pub const MAX_PROOF_LINES: usize = 63;
/// Largest request body accepted.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;
/// The content type of a 409 answer.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// A parsed `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size of the previous checkpoint the client believes the witness has.
    pub old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint.
    pub note: Note,
}

fn decimal(text: &str) -> Option<u64> {
    if text.is_empty()
        || !text.bytes().all(|b| b.is_ascii_digit())
        || (text.len() > 1 && text.starts_with('0'))
    {
        return None;
    }
    text.parse().ok()
}

impl AddCheckpoint {
    /// Parses a request body; `None` when it is not well-formed (400).
    pub fn parse(body: &str) -> Option<Self> {
        if body.len() > MAX_REQUEST_BYTES {
            return None;
        }
        let (old_line, rest) = body.split_once('\n')?;
        let old = decimal(old_line.strip_prefix("old ")?)?;
        let (proof_text, note_text) = match rest.split_once("\n\n") {
            Some((p, n)) if !rest.starts_with('\n') => (p, n),
            _ => ("", rest.strip_prefix('\n')?),
        };
        let mut proof = Vec::new();
        if !proof_text.is_empty() {
            for line in proof_text.split('\n') {
                let hash: Hash = Base64::decode_vec(line).ok()?.try_into().ok()?;
                proof.push(hash);
                if proof.len() > MAX_PROOF_LINES {
                    return None;
                }
            }
        }
        let note = Note::parse(note_text).ok()?;
        Some(Self { old, proof, note })
    }

    /// The request body.
    pub fn render(&self) -> String {
        let mut out = format!("old {}\n", self.old);
        for h in &self.proof {
            out.push_str(&Base64::encode_string(h));
            out.push('\n');
        }
        out.push('\n');
        out.push_str(&self.note.render());
        out
    }
}

/// Parses a 200 answer: one or more signature lines.
pub fn parse_cosignatures(body: &str) -> Option<Vec<NoteSignature>> {
    let body = body.strip_suffix('\n')?;
    let sigs: Option<Vec<_>> = body.split('\n').map(NoteSignature::parse_line).collect();
    sigs.filter(|s| !s.is_empty())
}

/// Parses a 409 answer: the witness's latest size.
pub fn parse_size(body: &str) -> Option<u64> {
    decimal(body.strip_suffix('\n')?)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example request body of C2SP tlog-witness §add-checkpoint.
    const EXAMPLE: &str = "old 20852014\n\
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n\
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=\n\
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=\n\
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=\n\
\n\
example.com/behind-the-sofa\n\
20852163\n\
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\
\n\
\u{2014} example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n\
\u{2014} example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n";

    #[test]
    fn the_c2sp_example_request_parses_and_renders_back() {
        let req = AddCheckpoint::parse(EXAMPLE).unwrap();
        assert_eq!(req.old, 20_852_014);
        assert_eq!(req.proof.len(), 4);
        let cp = req.note.checkpoint().unwrap();
        assert_eq!(cp.origin, "example.com/behind-the-sofa");
        assert_eq!(cp.size, 20_852_163);
        assert_eq!(req.note.signatures.len(), 2);
        assert_eq!(req.render(), EXAMPLE);
    }

    #[test]
    fn malformed_requests_are_refused() {
        // No proof at all, old 0: valid.
        let no_proof = EXAMPLE.replacen("old 20852014\n", "old 0\n", 1);
        let start = no_proof.find("PlRN").unwrap();
        let end = no_proof.find("\n\nexample.com").unwrap() + 1;
        let no_proof = format!("{}{}", &no_proof[..start], &no_proof[end..]);
        let parsed = AddCheckpoint::parse(&no_proof).unwrap();
        assert_eq!(parsed.old, 0);
        assert!(parsed.proof.is_empty());
        for bad in [
            EXAMPLE.replacen("old 20852014", "old 020852014", 1),
            EXAMPLE.replacen("old 20852014", "old -1", 1),
            EXAMPLE.replacen("old 20852014", "new 20852014", 1),
            EXAMPLE.replacen("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=", "PlRN", 1),
            EXAMPLE.replacen("\n\nexample.com", "\nexample.com", 1),
            EXAMPLE.replace('\u{2014}', "-"),
            format!(
                "old 1\n{}\n{EXAMPLE}",
                "PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=\n".repeat(64)
            ),
        ] {
            assert!(AddCheckpoint::parse(&bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn answers_parse() {
        assert_eq!(parse_size("20852014\n"), Some(20_852_014));
        assert_eq!(parse_size("0\n"), Some(0));
        assert_eq!(parse_size("007\n"), None);
        let sigs = parse_cosignatures("\u{2014} witness.example/w1 CMp+6LWBU0anHGH5aNDTJkH/gj79sG+T6+iP2ThYN5krrDJbR1HDnucjL39QsZTSvVjyQLrdk3DXDqI5G2HgLatVs0pWh6Up69HVOw==\n").unwrap();
        assert_eq!(sigs[0].name, "witness.example/w1");
        assert!(parse_cosignatures("").is_none());
    }
}
