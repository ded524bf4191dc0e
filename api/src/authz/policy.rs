//! Reading the `.polar` files into Oso, with errors that name the file and line.
//!
//! Oso's public API loads either files (named by their path) or one anonymous string. We load
//! every file as one string — the same knowledge base Oso builds from several files — and map
//! error positions back to `file:line:column`. A syntax error is first looked for in each file
//! on its own, so a missing `;` at the end of one file is reported there and not at the start
//! of the next.

use std::fmt;
use std::path::{Path, PathBuf};

use oso::{Oso, OsoError};

use super::model::Kind;
use super::polar::register_classes;

/// One policy file: its name (as shown in errors) and its text.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PolicySource {
    /// File name, e.g. `policies/deal.polar`.
    pub name: String,
    /// Polar source text.
    pub text: String,
}

/// Why a policy could not be loaded. Every variant stops the server (fail closed).
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The policy directory could not be listed.
    #[error("cannot read the policy directory {}: {source}", dir.display())]
    ReadDir {
        /// The directory.
        dir: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A policy file could not be read.
    #[error("cannot read the policy file {}: {source}", file.display())]
    ReadFile {
        /// The file.
        file: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// There is nothing to load.
    #[error("no *.polar files in {}", .0.display())]
    NoFiles(PathBuf),
    /// Oso rejected the policy at a known place (syntax error, unknown class, singleton
    /// variable, …).
    #[error("{file}:{line}:{column}: {message}")]
    Load {
        /// The file.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// Oso's message.
        message: String,
    },
    /// Oso rejected the policy without saying where.
    #[error("policy ({files}): {message}")]
    Unlocated {
        /// The files that were loaded.
        files: String,
        /// Oso's message.
        message: String,
    },
    /// The policy failed (an error, not a deny) while being compiled, e.g. it called a method
    /// no class has or used something that is not a fact.
    #[error("the policy fails on allow(<{role}>, {action:?}, <{kind} where {facts}>): {message}")]
    Evaluation {
        /// The role of the synthetic actor.
        role: &'static str,
        /// The resource kind.
        kind: Kind,
        /// The action.
        action: &'static str,
        /// The facts that held.
        facts: String,
        /// What went wrong.
        message: String,
    },
}

/// Reads every `*.polar` file of `dir`, in file-name order.
pub(crate) fn read_dir(dir: &Path) -> Result<Vec<PolicySource>, PolicyError> {
    let entries = std::fs::read_dir(dir).map_err(|source| PolicyError::ReadDir {
        dir: dir.to_owned(),
        source,
    })?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|source| PolicyError::ReadDir {
            dir: dir.to_owned(),
            source,
        })?;
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "polar") && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(PolicyError::NoFiles(dir.to_owned()));
    }
    files
        .into_iter()
        .map(|file| {
            let text = std::fs::read_to_string(&file).map_err(|source| PolicyError::ReadFile {
                file: file.clone(),
                source,
            })?;
            Ok(PolicySource {
                name: file.display().to_string(),
                text,
            })
        })
        .collect()
}

/// An Oso instance with our classes registered and `sources` loaded.
pub(crate) fn load_oso(sources: &[PolicySource]) -> Result<Oso, PolicyError> {
    for source in sources {
        if let Some(err) = syntax_error(source) {
            return Err(err);
        }
    }
    let mut combined = String::new();
    let mut starts = Vec::with_capacity(sources.len());
    for source in sources {
        starts.push(combined.len());
        combined.push_str(&source.text);
        combined.push('\n');
    }
    let mut oso = Oso::new();
    register_classes(&mut oso).map_err(|e| unlocated(sources, &e))?;
    oso.load_str(&combined)
        .map_err(|e| locate(sources, &starts, &combined, &e))?;
    Ok(oso)
}

/// Probe appended to a file parsed on its own: it makes the load fail after parsing (an
/// undefined rule), so nothing else of the file is reported or printed.
const PROBE: &str = "\n__authz_parse_probe() if __authz_undefined_rule();\n";

/// The first syntax error of `source` on its own, if any.
fn syntax_error(source: &PolicySource) -> Option<PolicyError> {
    let mut scratch = Oso::new();
    let text = format!("{}{PROBE}", source.text);
    match scratch.load_str(&text) {
        Err(OsoError::Polar(e)) if matches!(e.0, oso::errors::polar::ErrorKind::Parse(_)) => {
            let offset = e
                .get_context()
                .map_or(source.text.len(), |c| c.left.min(source.text.len()));
            let (line, column) = line_column(&source.text, offset);
            Some(PolicyError::Load {
                file: source.name.clone(),
                line,
                column,
                message: e.0.to_string(),
            })
        }
        _ => None,
    }
}

fn locate(
    sources: &[PolicySource],
    starts: &[usize],
    combined: &str,
    err: &OsoError,
) -> PolicyError {
    let OsoError::Polar(polar) = err else {
        return unlocated(sources, err);
    };
    let Some(context) = polar.get_context() else {
        return unlocated(sources, &polar.0);
    };
    // Only positions in the text we loaded can be mapped.
    if context.source.src != combined {
        return unlocated(sources, err);
    }
    let offset = context.left;
    let index = starts
        .iter()
        .rposition(|&start| start <= offset)
        .unwrap_or(0);
    let source = &sources[index];
    let local = (offset - starts[index]).min(source.text.len());
    let (line, column) = line_column(&source.text, local);
    PolicyError::Load {
        file: source.name.clone(),
        line,
        column,
        message: polar.0.to_string(),
    }
}

fn unlocated(sources: &[PolicySource], err: &dyn fmt::Display) -> PolicyError {
    PolicyError::Unlocated {
        files: sources
            .iter()
            .map(|s| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        message: err.to_string(),
    }
}

/// 1-based line and column of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before.rfind('\n').map_or(before.chars().count(), |nl| {
        before[nl + 1..].chars().count()
    }) + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn src(name: &str, text: &str) -> PolicySource {
        PolicySource {
            name: name.to_owned(),
            text: text.to_owned(),
        }
    }

    #[test]
    fn line_columns() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("abc\ndef", 5), (2, 2));
        assert_eq!(line_column("abc\n", 4), (2, 1));
    }

    #[test]
    fn syntax_error_names_its_file_even_when_it_ends_the_file() {
        let sources = [
            src("a.polar", "allow(_a, _b, _c) if\n    true\n"),
            src("b.polar", "f(1);\n"),
        ];
        let Err(err) = load_oso(&sources) else {
            panic!("loaded")
        };
        let PolicyError::Load { file, line, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(file, "a.polar");
        assert!(*line >= 2, "{err}");
    }

    #[test]
    fn validation_error_in_a_later_file_is_located_there() {
        let sources = [
            src("a.polar", "allow(_a, _b, _c) if g(1);\n"),
            src("b.polar", "# comment\n\ng(x) if h(x);\n"),
        ];
        let Err(err) = load_oso(&sources) else {
            panic!("loaded")
        };
        let err = err.to_string();
        assert!(err.starts_with("b.polar:3:"), "{err}");
    }
}
