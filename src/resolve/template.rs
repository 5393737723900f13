//! Tera rendering for recipes: template files (`recipes/NAME/templates/`) and the template strings
//! inside recipe resources. Undefined variables are errors; every error points at the
//! template file and line, or at the recipe field holding the string.

use std::sync::Arc;

use serde_json::Value;
use tera::{Context, ErrorKind, Tera};

use crate::diagnostic::Diagnostic;
use crate::recipe::Catalogue;
use crate::recipe::catalogue::LoadedRecipe;
use crate::source::{Pos, SourceFile, Span};

/// All templates of a catalogue, parsed once.
pub struct Templates<'a> {
    tera: Tera,
    catalogue: &'a Catalogue,
    /// The description, to build the charter site from when a `charter_site` resource
    /// asks for it.
    description: Option<&'a crate::description::Description>,
    /// The charter site, built the first time it is needed (or why it cannot be).
    site: std::cell::OnceCell<Result<crate::site::Site, String>>,
}

impl<'a> Templates<'a> {
    pub fn new(catalogue: &'a Catalogue, names: &[String]) -> Result<Self, Vec<Diagnostic>> {
        let mut tera = Tera::default();
        // Configuration files are not HTML: never escape.
        tera.autoescape_on(Vec::<&str>::new());
        // `{{ value | shell_quote }}`: a value placed in a shell script (a dehydrated config,
        // a hook) goes through the one quoting function chaton has, never by hand.
        tera.register_filter("shell_quote", |value: &str, _: tera::Kwargs, _: &tera::State| {
            crate::shell::quote(value).into_owned()
        });
        // `{{ value | json_string }}`: a value placed in a JSON file, quoted and escaped.
        tera.register_filter("json_string", |value: &str, _: tera::Kwargs, _: &tera::State| {
            serde_json::Value::String(value.to_owned()).to_string()
        });
        let mut problems = Vec::new();
        for name in names {
            let Some(source) = catalogue.template(name) else {
                continue;
            };
            if let Err(e) = tera.add_raw_template(name, &source.text) {
                problems.push(template_error(&e, Some(source), None));
            }
        }
        if problems.is_empty() {
            Ok(Self { tera, catalogue, description: None, site: std::cell::OnceCell::new() })
        } else {
            Err(problems)
        }
    }

    /// Lets `charter_site` resources build the site from this description.
    pub fn with_description(mut self, description: &'a crate::description::Description) -> Self {
        self.description = Some(description);
        self
    }

    /// The charter site, built once on first use. Published pages must not change by
    /// themselves from one day to the next, so the site carries the date the description pins.
    pub fn site(&self) -> &Result<crate::site::Site, String> {
        self.site.get_or_init(|| {
            let Some(description) = self.description else {
                return Err("internal error: no description to build the charter site from".into());
            };
            match &description.hoster.site.updated {
                Some(date) => crate::site::build(description, self.catalogue, date)
                    .map_err(|d| d.iter().map(|d| d.message.clone()).collect::<Vec<_>>().join("; ")),
                None => Err("publishing the charter site needs `site: updated: YYYY-MM-DD` in the description, so the pages do not change every day".into()),
            }
        })
    }

    /// Renders the template file `name`.
    pub fn render_file(&self, name: &str, context: &Value) -> Result<String, Diagnostic> {
        let ctx = to_context(context)?;
        self.tera.render(name, &ctx).map_err(|e| template_error(&e, self.catalogue.template(name), None))
    }

    /// Renders a template string from a recipe; errors point at `field` in the recipe.
    pub fn render_str(
        &self,
        text: &str,
        context: &Value,
        recipe: &LoadedRecipe,
        field: &str,
    ) -> Result<String, Diagnostic> {
        if !text.contains("{{") && !text.contains("{%") && !text.contains("{#") {
            return Ok(text.to_owned());
        }
        let ctx = to_context(context)?;
        self.tera.render_str(text, &ctx, false).map_err(|e| template_error(&e, None, Some((recipe, field))))
    }

    /// Evaluates a `when` expression to true or false.
    pub fn condition(
        &self,
        expression: &str,
        context: &Value,
        recipe: &LoadedRecipe,
        field: &str,
    ) -> Result<bool, Diagnostic> {
        let text = format!("{{% if {expression} %}}true{{% else %}}false{{% endif %}}");
        Ok(self.render_str(&text, context, recipe, field)? == "true")
    }
}

fn to_context(value: &Value) -> Result<Context, Diagnostic> {
    Context::from_serialize(value)
        .map_err(|e| Diagnostic::error(format!("internal error building the template context: {e}")))
}

/// Turns a Tera error into a diagnostic in the template file, or at the recipe field for
/// inline template strings. (Tera's own message names the variables a template may use.)
fn template_error(
    error: &tera::Error,
    file: Option<&Arc<SourceFile>>,
    field: Option<(&LoadedRecipe, &str)>,
) -> Diagnostic {
    let (message, span) = match error.kind() {
        ErrorKind::SyntaxError(report) | ErrorKind::RenderingError(report) => {
            let s = report.span();
            (
                report.message().to_owned(),
                Some(Span {
                    start: Pos { line: s.start_line, column: s.start_col + 1 },
                    end: Pos { line: s.end_line, column: s.end_col + 1 },
                }),
            )
        }
        other => (other.to_string(), None),
    };
    let mut d = Diagnostic::error(format!("template error: {message}"));
    match (file, field) {
        (Some(file), _) => {
            d = d.at(file, span.unwrap_or(Span::FILE_START));
        }
        (None, Some((recipe, field))) => {
            d = recipe.error_at(field, d.message);
        }
        (None, None) => {}
    }
    d
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `shell_quote` is what recipes put user values into shell scripts with: a real `sh`
    /// must read back exactly the value, whatever it holds.
    #[test]
    fn shell_quote_gives_the_shell_the_value_itself() {
        let catalogue = Catalogue::builtin().unwrap();
        let templates = Templates::new(&catalogue, &[]).unwrap();
        let loaded = catalogue.get("base").unwrap();
        for value in ["plain", "two words", "it's", "$(id) `id` $HOME", "a\nb", "", "-n", "*"] {
            let context = serde_json::json!({ "value": value });
            let script = templates.render_str("printf '%s' {{ value | shell_quote }}", &context, loaded, "t").unwrap();
            let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), value, "{script}");
        }
    }

    /// `json_string` puts user values into JSON files (Etherpad's settings): a JSON parser
    /// must read back exactly the value.
    #[test]
    fn json_string_gives_a_json_parser_the_value_itself() {
        let catalogue = Catalogue::builtin().unwrap();
        let templates = Templates::new(&catalogue, &[]).unwrap();
        let loaded = catalogue.get("base").unwrap();
        for value in ["plain", "say \"hi\"", "back\\slash", "a\nb\tc", "", "Café « chez nous »", "</script>"] {
            let context = serde_json::json!({ "value": value });
            let text = templates.render_str("{\"title\": {{ value | json_string }}}", &context, loaded, "t").unwrap();
            let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(parsed["title"], value, "{text}");
        }
    }
}
