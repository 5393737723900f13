//! Turns one recipe resource entry into concrete resources: expands `for_each`, evaluates
//! `when`, renders every template string, then checks the rendered values (a parameter can
//! carry anything, so paths, names and URLs are checked after rendering, not before).

use serde_json::Value;

use super::template::Templates;
use crate::diagnostic::{Diagnostic, quoted};
use crate::recipe::catalogue::LoadedRecipe;
use crate::recipe::model::{CheckSpec, ResourceSpec};
use crate::resolve::CheckKind;
use crate::resource::{Conversion, Problem, Resource, checks};

/// Renders `spec` (found at `field` in the recipe) into zero or more resources, each with
/// the handlers it notifies. `state_dir` is chaton's folder on the server and
/// `secret_placeholders` the recipe's generated secrets as templates see them: typed here
/// rather than read back out of the JSON context.
pub fn render_spec(
    templates: &Templates,
    loaded: &LoadedRecipe,
    spec: &ResourceSpec,
    context: &Value,
    state_dir: &str,
    secret_placeholders: &[String],
    field: &str,
) -> Result<Vec<(Resource, Vec<String>)>, Diagnostic> {
    let fail = |message: String| loaded.error_at(field, message);
    let value = serde_json::to_value(spec).map_err(|e| fail(format!("internal error: {e}")))?;
    let Value::Object(outer) = value else {
        return Err(fail("internal error: resource is not a mapping".into()));
    };
    let Some((kind, Value::Object(mut inner))) = outer.into_iter().next() else {
        return Err(fail("internal error: resource has no kind".into()));
    };
    let when = inner.remove("when").and_then(|v| v.as_str().map(str::to_owned));
    let for_each = inner.remove("for_each").and_then(|v| v.as_str().map(str::to_owned));
    let items: Vec<Option<Value>> = match &for_each {
        None => vec![None],
        Some(path) => match lookup(context, path) {
            Some(Value::Array(items)) => items.iter().cloned().map(Some).collect(),
            Some(Value::Object(map)) => {
                map.iter().map(|(k, v)| Some(serde_json::json!({ "key": k, "value": v }))).collect()
            }
            Some(Value::Null) | None => Vec::new(),
            Some(_) => return Err(fail(format!("`for_each: {path}` is not a list"))),
        },
    };
    let mut out = Vec::new();
    for item in items {
        let mut ctx = context.clone();
        if let Some(item) = item {
            ctx["item"] = item;
        }
        if let Some(expression) = &when
            && !templates.condition(expression, &ctx, loaded, &format!("{field}.when"))?
        {
            continue;
        }
        let rendered = render_strings(templates, loaded, Value::Object(inner.clone()), &ctx, field)?;
        let mut wrapped = serde_json::Map::new();
        wrapped.insert(kind.clone(), rendered);
        let spec: ResourceSpec = serde_json::from_value(Value::Object(wrapped))
            .map_err(|e| fail(format!("after rendering, the resource is not valid: {e}")))?;
        let site_files = || templates.site().as_ref().map(|site| &site.files).map_err(String::clone);
        let conversion = Conversion {
            render_file: &|name| templates.render_file(name, &ctx),
            state_dir,
            secrets: secret_placeholders,
            site_files: &site_files,
        };
        out.extend(spec.convert(&conversion).map_err(|problem| match problem {
            Problem::Message(m) => fail(m),
            Problem::Template(d) => d,
        })?);
    }
    Ok(out)
}

/// Renders a verify check of the recipe (found at `field`); none where its `when` does not
/// hold.
pub fn render_check(
    templates: &Templates,
    loaded: &LoadedRecipe,
    spec: &CheckSpec,
    context: &Value,
    field: &str,
) -> Result<Option<CheckKind>, Diagnostic> {
    let fail = |message: String| loaded.error_at(field, message);
    Ok(Some(match spec {
        CheckSpec::Port { port, proto } => {
            let text = templates.render_str(port, context, loaded, &format!("{field}.port.port"))?;
            let port =
                text.trim().parse::<u16>().map_err(|_| fail(format!("port {} is not a port number", quoted(&text))))?;
            CheckKind::Port { port, proto: *proto }
        }
        CheckSpec::Http { url, status, ca_certificate } => {
            let url = templates.render_str(url, context, loaded, &format!("{field}.http.url"))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(fail(format!("{} is not an http:// or https:// address", quoted(&url))));
            }
            let ca_certificate = match ca_certificate {
                Some(pem) => {
                    Some(templates.render_str(pem, context, loaded, &format!("{field}.http.ca_certificate"))?)
                        .filter(|pem| !pem.trim().is_empty())
                }
                None => None,
            };
            CheckKind::Http { url, status: *status, ca_certificate }
        }
        CheckSpec::Command { run, when } => {
            if let Some(expression) = when
                && !templates.condition(expression, context, loaded, &format!("{field}.command.when"))?
            {
                return Ok(None);
            }
            let run = run
                .iter()
                .enumerate()
                .map(|(i, a)| templates.render_str(a, context, loaded, &format!("{field}.command.run[{i}]")))
                .collect::<Result<Vec<_>, _>>()?;
            checks::argv(&run).map_err(fail)?;
            CheckKind::Command { run }
        }
    }))
}

/// Follows a dotted path (`params.peers`) in the template context.
fn lookup<'a>(context: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(context, |v, key| v.get(key))
}

/// Renders every string in `value` as a template.
fn render_strings(
    templates: &Templates,
    loaded: &LoadedRecipe,
    value: Value,
    ctx: &Value,
    field: &str,
) -> Result<Value, Diagnostic> {
    Ok(match value {
        Value::String(s) => Value::String(templates.render_str(&s, ctx, loaded, field)?),
        Value::Array(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| render_strings(templates, loaded, v, ctx, &format!("{field}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let f = format!("{field}.{k}");
                    render_strings(templates, loaded, v, ctx, &f).map(|v| (k, v))
                })
                .collect::<Result<_, _>>()?,
        ),
        other => other,
    })
}
