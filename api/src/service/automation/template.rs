//! Message templates (`{{ deal.title }}`), rendered with minijinja. Checked when an
//! automation is saved: a template that does not parse, or names a variable outside
//! [`VARIABLES`], is refused then, never when it fires. Rendering is bounded (fuel) and
//! strict (an unknown variable is an error, not an empty string).

use minijinja::{Environment, UndefinedBehavior};
use serde_json::Value as Json;

use crate::error::FieldError;

/// Every variable a template may use.
pub const VARIABLES: &[&str] = &[
    "deal.id",
    "deal.title",
    "deal.stage",
    "deal.amount",
    "deal.currency",
    "deal.probability",
    "deal.expectedCloseDate",
    "deal.url",
    "deal.owner",
    "previous.stage",
    "company.name",
    "actor.name",
    "activity.id",
    "activity.subject",
    "activity.type",
    "activity.dueAt",
    "recipient.name",
    "digest.openDeals",
    "digest.openAmount",
    "digest.closingThisWeek",
    "digest.tasksDue",
];

/// The top-level names of [`VARIABLES`].
fn roots() -> impl Iterator<Item = &'static str> {
    VARIABLES.iter().filter_map(|v| v.split('.').next())
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    // Bounds a loop an admin might write; a message needs little.
    env.set_fuel(Some(50_000));
    env
}

/// Longest template, in characters.
pub const MAX_TEMPLATE_CHARS: usize = 10_000;

/// Checks `source` (the input field `field`): it parses and uses only known variables.
pub fn check(source: &str, field: &str, errors: &mut Vec<FieldError>) {
    if source.chars().count() > MAX_TEMPLATE_CHARS {
        errors.push(FieldError::new(
            field,
            format!("must be at most {MAX_TEMPLATE_CHARS} characters"),
        ));
        return;
    }
    let env = environment();
    let template = match env.template_from_str(source) {
        Ok(t) => t,
        Err(e) => {
            errors.push(FieldError::new(
                field,
                format!("is not a valid template: {e}"),
            ));
            return;
        }
    };
    let mut unknown: Vec<String> = template
        .undeclared_variables(true)
        .into_iter()
        // `deal` alone is an object (allowed); `deal.title` must be listed.
        .filter(|v| !VARIABLES.contains(&v.as_str()) && !roots().any(|r| r == v))
        .collect();
    unknown.sort();
    if !unknown.is_empty() {
        errors.push(FieldError::new(
            field,
            format!(
                "unknown template variable {}; known: {}",
                unknown.join(", "),
                VARIABLES.join(", ")
            ),
        ));
    }
}

/// Renders `source` with `context` (an object with `deal`, `previous`, …). A failure
/// (a value missing at run time) is reported, not rendered as an empty string.
pub fn render(source: &str, context: &Json) -> Result<String, String> {
    let env = environment();
    env.render_str(source, context)
        .map_err(|e| format!("template: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_variables_pass_and_unknown_ones_are_named() {
        let mut errors = Vec::new();
        check(
            "{{ deal.title }} moved from {{ previous.stage }} by {{ actor.name }}",
            "body",
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        check("{{ deal.titel }}", "actions[0].notify.title", &mut errors);
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "actions[0].notify.title");
        assert!(
            errors[0].message.contains("deal.titel"),
            "{}",
            errors[0].message
        );
        errors.clear();
        check("{{ deal.title ", "body", &mut errors);
        assert_eq!(errors.len(), 1);
    }

    #[test]
    fn rendering_is_strict() {
        let ctx = serde_json::json!({"deal": {"title": "Acme"}});
        assert_eq!(render("Deal {{ deal.title }}", &ctx).unwrap(), "Deal Acme");
        assert!(render("{{ company.name }}", &ctx).is_err());
    }
}
