//! Small input validators shared by the services, and a collector so a mutation reports every
//! invalid field at once.
//!
//! Each checker takes the raw client value and returns the value to store (trimmed,
//! normalised) or a [`FieldError`] naming the input field. No regular expressions: the rules
//! are short enough to read as code.

use crate::error::{ApiError, ApiResult, FieldError};

/// Collects field errors while a mutation validates its input.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Extend<FieldError> for Errors {
    fn extend<I: IntoIterator<Item = FieldError>>(&mut self, iter: I) {
        self.0.extend(iter);
    }
}

impl Errors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Records a problem with `field`.
    pub fn push(&mut self, field: impl Into<String>, message: impl Into<String>) {
        self.0.push(FieldError::new(field, message));
    }

    /// The value of `result`, or `None` after recording its error.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `BAD_USER_INPUT` with every recorded problem, or `Ok` when there is none.
    pub fn finish(self) -> ApiResult<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::BadUserInput(self.0))
        }
    }
}

/// `s` trimmed; blank becomes `None` (an empty optional field means "no value").
pub fn trimmed(s: Option<String>) -> Option<String> {
    s.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// Validates an optional value: blank is `None`, anything else goes through `check`.
pub fn optional(
    errors: &mut Errors,
    value: Option<String>,
    check: impl FnOnce(String) -> Result<String, FieldError>,
) -> Option<String> {
    trimmed(value).and_then(|v| errors.check(check(v)))
}

/// Validates a change of an optional column (`None`: unchanged, `Some(None)`: clear). A
/// blank value clears the column too.
pub fn optional_change(
    errors: &mut Errors,
    change: Option<Option<String>>,
    check: impl FnOnce(String) -> Result<String, FieldError>,
) -> Option<Option<String>> {
    match change {
        None => None,
        Some(value) => match trimmed(value) {
            None => Some(None),
            Some(v) => errors.check(check(v)).map(Some),
        },
    }
}

/// Required text: trimmed, not blank, at most `max` characters.
pub fn required_text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let v = value.trim();
    if v.is_empty() {
        Err(FieldError::new(field, "is required"))
    } else {
        text(field, v.to_owned(), max)
    }
}

/// Text of at most `max` characters (already trimmed by [`optional`]).
pub fn text(field: &str, value: String, max: usize) -> Result<String, FieldError> {
    if value.chars().count() > max {
        Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ))
    } else {
        Ok(value)
    }
}

/// Whether `email` looks like an address: one `@`, something on both sides, a dot in the
/// domain, no spaces (the rule of the user directory, see
/// [`crate::service::user::is_valid_email`]).
pub fn is_email(email: &str) -> bool {
    crate::service::user::is_valid_email(email)
}

/// An email address, stored lowercase (addresses are unique case-insensitively).
pub fn email(field: &str, value: String) -> Result<String, FieldError> {
    let v = value.trim().to_lowercase();
    if is_email(&v) {
        Ok(v)
    } else {
        Err(FieldError::new(field, "is not a valid email address"))
    }
}

/// Whether `s` is an E.164 phone number: `+`, then 2 to 15 digits, the first not 0.
pub fn is_e164(s: &str) -> bool {
    let Some(digits) = s.strip_prefix('+') else {
        return false;
    };
    (2..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0')
}

/// A phone number in E.164. Spaces, dashes, dots and parentheses people type between digit
/// groups are removed first (`+1 (415) 555-0100` is stored as `+14155550100`).
pub fn phone(field: &str, value: String) -> Result<String, FieldError> {
    let compact: String = value
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    if is_e164(&compact) {
        Ok(compact)
    } else {
        Err(FieldError::new(
            field,
            "must be an E.164 phone number such as +14155550100",
        ))
    }
}

/// Whether `host` is a plausible host name or IP literal: labels of letters, digits and
/// hyphens separated by dots (no empty label), or a bracketed IPv6 address.
fn is_host(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty() && inner.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
    }
    !host.is_empty()
        && host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
}

/// Whether `s` is an absolute `http` or `https` URL with a host (and optionally a port,
/// path, query and fragment), without spaces.
pub fn is_http_url(s: &str) -> bool {
    if s.len() > 2048 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return false;
    }
    let lower = s.to_ascii_lowercase();
    let rest = if lower.starts_with("https://") {
        &s[8..]
    } else if lower.starts_with("http://") {
        &s[7..]
    } else {
        return false;
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        // Credentials in a stored link are a leak waiting to happen.
        return false;
    }
    let (host, port) = if authority.starts_with('[') {
        let Some(end) = authority.find(']') else {
            return false;
        };
        let (host, rest) = authority.split_at(end + 1);
        match rest.strip_prefix(':') {
            Some(p) => (host, Some(p)),
            None if rest.is_empty() => (host, None),
            None => return false,
        }
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    let port_ok =
        port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok && is_host(host)
}

/// An `http(s)` URL with a host.
pub fn url(field: &str, value: String) -> Result<String, FieldError> {
    if is_http_url(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(
            field,
            "must be an http(s) URL such as https://example.com",
        ))
    }
}

/// Whether `s` is a domain name as stored: lowercase ASCII letters, digits, dots and hyphens,
/// at least one dot, no empty label, no label starting or ending with a hyphen.
pub fn is_domain(s: &str) -> bool {
    s.len() <= 253
        && s.contains('.')
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

/// A domain, lowercased and trimmed (`Acme.COM ` is stored as `acme.com`).
pub fn domain(field: &str, value: String) -> Result<String, FieldError> {
    let v = value.trim().to_lowercase();
    if v.contains(char::is_whitespace) {
        Err(FieldError::new(field, "must not contain spaces"))
    } else if is_domain(&v) {
        Ok(v)
    } else {
        Err(FieldError::new(
            field,
            "must be a domain name such as example.com (letters, digits, dots and hyphens)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        assert!(is_email("a@b.co"));
        assert!(!is_email("a@b"));
        assert!(!is_email("@b.co"));
        assert!(!is_email("a b@c.co"));
        assert_eq!(
            email("email", " Ann@Example.COM ".into()).unwrap(),
            "ann@example.com"
        );
        assert_eq!(email("email", "nope".into()).unwrap_err().field, "email");
    }

    #[test]
    fn e164_phones() {
        for ok in ["+14155550100", "+44", "+123456789012345"] {
            assert!(is_e164(ok), "{ok}");
        }
        for bad in [
            "14155550100",
            "+",
            "+1",
            "+0123",
            "+1234567890123456",
            "+1 415",
            "+1a",
        ] {
            assert!(!is_e164(bad), "{bad}");
        }
        assert_eq!(
            phone("phone", "+1 (415) 555-0100".into()).unwrap(),
            "+14155550100"
        );
        assert_eq!(
            phone("mobile", "555-0100".into()).unwrap_err().field,
            "mobile"
        );
    }

    #[test]
    fn urls() {
        for ok in [
            "https://example.com",
            "http://example.com/path?q=1#x",
            "HTTPS://Example.com:8443/",
            "https://localhost",
            "https://[::1]:8080/x",
            "https://www.linkedin.com/in/ann-smith",
        ] {
            assert!(is_http_url(ok), "{ok}");
        }
        for bad in [
            "example.com",
            "ftp://example.com",
            "https://",
            "https:///path",
            "https://exa mple.com",
            "https://user:pw@example.com",
            "https://example..com",
            "https://example.com:port",
            "https://-bad.com",
            "javascript:alert(1)",
        ] {
            assert!(!is_http_url(bad), "{bad}");
        }
        assert_eq!(url("website", "nope".into()).unwrap_err().field, "website");
    }

    #[test]
    fn domains() {
        for ok in ["example.com", "a-b.example.co.uk", "x1.io"] {
            assert!(is_domain(ok), "{ok}");
        }
        for bad in [
            "example",
            "Example.com",
            "ex ample.com",
            ".example.com",
            "example.com.",
            "a..b",
            "-a.com",
            "a_b.com",
            "exämple.com",
        ] {
            assert!(!is_domain(bad), "{bad}");
        }
        assert_eq!(domain("domain", "  Acme.COM ".into()).unwrap(), "acme.com");
        assert_eq!(
            domain("domain", "acme .com".into()).unwrap_err().message,
            "must not contain spaces"
        );
    }

    #[test]
    fn trimmed_optionals_and_collection() {
        assert_eq!(trimmed(Some("  x ".into())), Some("x".into()));
        assert_eq!(trimmed(Some("   ".into())), None);
        assert_eq!(trimmed(None), None);
        let mut errors = Errors::new();
        assert_eq!(
            optional(&mut errors, Some(" ".into()), |v| phone("phone", v)),
            None
        );
        assert_eq!(
            optional_change(&mut errors, Some(Some("".into())), |v| phone("phone", v)),
            Some(None)
        );
        assert_eq!(
            optional_change(&mut errors, None, |v| phone("phone", v)),
            None
        );
        assert!(errors.is_empty());
        assert_eq!(
            optional(&mut errors, Some("x".into()), |v| phone("phone", v)),
            None
        );
        assert_eq!(
            optional_change(&mut errors, Some(Some("y".into())), |v| url("website", v)),
            None
        );
        assert_eq!(
            required_text("name", "  ", 10).unwrap_err().message,
            "is required"
        );
        assert!(text("name", "x".repeat(11), 10).is_err());
        assert_eq!(required_text("name", " ab ", 10).unwrap(), "ab");
        match errors.finish() {
            Err(ApiError::BadUserInput(list)) => {
                let fields: Vec<&str> = list.iter().map(|e| e.field.as_str()).collect();
                assert_eq!(fields, ["phone", "website"]);
            }
            other => panic!("{other:?}"),
        }
    }
}
