//! Page templates (`web/templates/*.html`), rendered with minijinja; every value is escaped
//! unless a template says otherwise.

use std::sync::OnceLock;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

fn environment() -> &'static Environment<'static> {
    static ENVIRONMENT: OnceLock<Environment<'static>> = OnceLock::new();
    ENVIRONMENT.get_or_init(|| {
        let mut environment = Environment::new();
        environment.set_auto_escape_callback(|_| AutoEscape::Html);
        for path in super::files_under("templates/") {
            let name = path.trim_start_matches("templates/").to_owned();
            let source = super::file(&path)
                .and_then(|bytes| String::from_utf8(bytes.into_owned()).ok())
                .expect("templates are UTF-8");
            environment.add_template_owned(name, source).expect("the shipped templates parse");
        }
        environment
    })
}

/// Renders `web/templates/<name>` with `context`.
pub fn render(name: &str, context: impl Serialize) -> Result<String, minijinja::Error> {
    environment().get_template(name)?.render(context)
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_template_parses() {
        let names: Vec<String> = super::super::files_under("templates/");
        assert!(!names.is_empty());
        for name in names {
            let name = name.trim_start_matches("templates/");
            assert!(super::environment().get_template(name).is_ok(), "{name}");
        }
    }
}
