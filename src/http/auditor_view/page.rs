//! The auditor's page as one self-contained HTML document.
//!
//! The sources are plain files under `web/`: `index.html`, `auditor.css` and ES modules that
//! import each other (`json.mjs` … `page.mjs`). A page opened from disk (`file://`) may run an
//! inline module but may not load another file, so the document carries everything inline:
//! each module becomes a function scope whose exports the later modules destructure — a
//! mechanical rewrite of the two statement forms the modules use:
//!
//! - `import { a, b } from "./name.mjs";` (one line) becomes `const { a, b } = __name;`
//! - `export function f`, `export async function f`, `export const X`, `export class C` lose
//!   `export `, and the module's scope returns `{ f, X, C }` as `__name`.
//!
//! Anything else that looks like an import or export is refused, so a module cannot silently
//! escape the rewrite. The document's Content-Security-Policy allows exactly its inline script
//! and style (by hash), no other script, and no connection but to its own origin.

use base64ct::{Base64, Encoding};
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

const INDEX: &str = include_str!("web/index.html");
const STYLE: &str = include_str!("web/auditor.css");

/// The modules, each after the modules it imports.
const MODULES: [(&str, &str); 8] = [
    ("json.mjs", include_str!("web/json.mjs")),
    ("event.mjs", include_str!("web/event.mjs")),
    ("merkle.mjs", include_str!("web/merkle.mjs")),
    ("note.mjs", include_str!("web/note.mjs")),
    ("verify.mjs", include_str!("web/verify.mjs")),
    ("receipt.mjs", include_str!("web/receipt.mjs")),
    ("charts.mjs", include_str!("web/charts.mjs")),
    ("page.mjs", include_str!("web/page.mjs")),
];

/// The page and the Content-Security-Policy it needs.
#[derive(Debug, Clone)]
pub struct Page {
    /// The document (UTF-8 HTML).
    pub html: String,
    /// The policy, for a `Content-Security-Policy` header (the document also carries it in a
    /// `<meta>`, minus `frame-ancestors`, which only a header can set).
    pub csp: String,
}

/// Why the page could not be assembled (a source under `web/` breaks the rules above).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the auditor's page cannot be assembled: {0}")]
pub struct PageError(pub String);

/// The page, assembled once.
pub fn page() -> Result<&'static Page, PageError> {
    static PAGE: OnceLock<Result<Page, PageError>> = OnceLock::new();
    PAGE.get_or_init(assemble).as_ref().map_err(Clone::clone)
}

fn scope_name(module: &str) -> String {
    let stem = module.strip_suffix(".mjs").unwrap_or(module);
    let clean: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("__{clean}")
}

fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

/// The name an `export` declaration declares (`export function f(`, `export const X =`, …).
fn exported_name(rest: &str) -> Option<(&'static str, &str)> {
    for prefix in ["async function ", "function ", "const ", "class "] {
        if let Some(tail) = rest.strip_prefix(prefix) {
            let end = tail
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$'))
                .unwrap_or(tail.len());
            let name = &tail[..end];
            return is_identifier(name).then_some((prefix, name));
        }
    }
    None
}

/// `import { a, b } from "./x.mjs";` → (["a", "b"], "x.mjs").
fn parse_import(line: &str) -> Option<(Vec<&str>, &str)> {
    let rest = line.strip_prefix("import {")?;
    let (names, from) = rest.split_once('}')?;
    let module = from.trim().strip_prefix("from \"./")?.strip_suffix("\";")?;
    let names: Vec<&str> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    names
        .iter()
        .all(|n| is_identifier(n))
        .then_some((names, module))
}

/// The modules as one script (see the module documentation).
pub fn bundle() -> Result<String, PageError> {
    let mut out = String::new();
    let mut done: Vec<&str> = Vec::new();
    for (name, source) in MODULES {
        let mut body = String::new();
        let mut exports: Vec<&str> = Vec::new();
        for (number, line) in source.lines().enumerate() {
            let at = || format!("{name} line {}", number + 1);
            if line.starts_with("import") {
                let (names, module) = parse_import(line)
                    .ok_or_else(|| PageError(format!("{}: not a one-line named import", at())))?;
                if !done.contains(&module) {
                    return Err(PageError(format!(
                        "{}: {module} is not a module listed before {name}",
                        at()
                    )));
                }
                body.push_str(&format!(
                    "const {{ {} }} = {};\n",
                    names.join(", "),
                    scope_name(module)
                ));
            } else if let Some(rest) = line.strip_prefix("export ") {
                let (_, declared) = exported_name(rest)
                    .ok_or_else(|| PageError(format!("{}: an export form not supported", at())))?;
                exports.push(declared);
                body.push_str(rest);
                body.push('\n');
            } else if line.trim_start().starts_with("export ") || line.contains("import(") {
                return Err(PageError(format!(
                    "{}: import or export not at the top level",
                    at()
                )));
            } else {
                body.push_str(line);
                body.push('\n');
            }
        }
        out.push_str(&format!(
            "// {name}\nconst {} = (() => {{\n{body}return {{ {} }};\n}})();\n",
            scope_name(name),
            exports.join(", ")
        ));
        done.push(name);
    }
    if out.to_ascii_lowercase().contains("</script") {
        return Err(PageError("a module contains \"</script\"".into()));
    }
    Ok(out)
}

fn hash_source(text: &str) -> String {
    format!("'sha256-{}'", Base64::encode_string(&Sha256::digest(text)))
}

fn assemble() -> Result<Page, PageError> {
    let script = bundle()?;
    if STYLE.to_ascii_lowercase().contains("</style") {
        return Err(PageError("the style contains \"</style\"".into()));
    }
    let policy = format!(
        "default-src 'none'; script-src {}; style-src {}; img-src data: blob:; connect-src 'self'; base-uri 'none'; form-action 'none'",
        hash_source(&script),
        hash_source(STYLE)
    );
    for marker in ["<!--CSP-->", "<!--STYLE-->", "<!--SCRIPT-->", "{{VERSION}}"] {
        if INDEX.matches(marker).count() != 1 {
            return Err(PageError(format!(
                "index.html must hold {marker} exactly once"
            )));
        }
    }
    let html = INDEX
        .replace(
            "<!--CSP-->",
            &format!("<meta http-equiv=\"Content-Security-Policy\" content=\"{policy}\">"),
        )
        .replace("{{VERSION}}", env!("CARGO_PKG_VERSION"))
        .replace("<!--STYLE-->", &format!("<style>{STYLE}</style>"))
        .replace(
            "<!--SCRIPT-->",
            &format!("<script type=\"module\">{script}</script>"),
        );
    Ok(Page {
        html,
        csp: format!("{policy}; frame-ancestors 'none'"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_assembles_with_a_policy_that_names_its_inline_code() {
        let page = page().unwrap();
        assert!(page.html.starts_with("<!doctype html>"));
        assert!(!page.html.contains("<!--SCRIPT-->") && !page.html.contains("{{VERSION}}"));
        // Every module was rewritten: no import or export statement is left.
        let script = bundle().unwrap();
        assert!(
            !script
                .lines()
                .any(|l| l.starts_with("import ") || l.starts_with("export "))
        );
        for (name, _) in MODULES {
            assert!(script.contains(&format!("const {} = (() => {{", scope_name(name))));
        }
        assert!(script.contains("verifyLog } = __verify;"));
        // The policy's hashes are those of the inline script and style.
        assert!(page.csp.contains(&hash_source(&script)));
        assert!(page.csp.contains(&hash_source(STYLE)));
        assert!(page.csp.contains("frame-ancestors 'none'"));
        assert!(
            page.html
                .contains(&format!("<script type=\"module\">{script}</script>"))
        );
    }

    #[test]
    fn imports_and_exports_are_read_strictly() {
        assert_eq!(
            parse_import("import { a, b } from \"./x.mjs\";"),
            Some((vec!["a", "b"], "x.mjs"))
        );
        assert_eq!(parse_import("import x from \"./x.mjs\";"), None);
        assert_eq!(parse_import("import { a } from \"https://e/x.mjs\";"), None);
        assert_eq!(parse_import("import { a-b } from \"./x.mjs\";"), None);
        assert_eq!(
            exported_name("async function verifyLog(source) {"),
            Some(("async function ", "verifyLog"))
        );
        assert_eq!(
            exported_name("const FORMAT = \"x\";"),
            Some(("const ", "FORMAT"))
        );
        assert_eq!(exported_name("{ a, b };"), None);
        assert_eq!(exported_name("default function () {}"), None);
    }
}
