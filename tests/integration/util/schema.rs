//! A JSON Schema checker for the part of JSON Schema that `docs/openapi.json` uses: `$ref`
//! (to `#/components/...`), `type` (one or a list), `const`, `enum`, `properties`,
//! `required`, `additionalProperties: false`, `items`, `oneOf`, `minimum`/`maximum`,
//! `minItems`/`maxItems` and `maxLength`. `pattern` is taken as description (there is no
//! regex engine here; the server's own checks of those names are tested in `fleet.rs`).
//! Any other keyword is an error, so the document cannot use more than the tests check.

/// Keywords that only describe (or are checked elsewhere) and are accepted without a check.
const DESCRIPTIVE: [&str; 4] = ["description", "default", "pattern", "title"];

/// Checks `value` against `schema`; `doc` is the whole OpenAPI document that `$ref`s point
/// into. The error names the JSON path of the first value that does not fit.
pub fn check_schema(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
) -> Result<(), String> {
    check_at(doc, schema, value, "$")
}

/// The value a local `$ref` such as `#/components/schemas/Status` points to.
pub fn resolve_ref<'a>(
    doc: &'a serde_json::Value,
    reference: &str,
) -> Result<&'a serde_json::Value, String> {
    let pointer = reference
        .strip_prefix('#')
        .ok_or_else(|| format!("{reference}: only local references are used"))?;
    doc.pointer(pointer)
        .ok_or_else(|| format!("{reference}: points to nothing"))
}

fn type_matches(name: &str, value: &serde_json::Value) -> Result<bool, String> {
    Ok(match name {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "array" => value.is_array(),
        "object" => value.is_object(),
        other => return Err(format!("unknown type {other:?}")),
    })
}

fn check_at(
    doc: &serde_json::Value,
    schema: &serde_json::Value,
    value: &serde_json::Value,
    at: &str,
) -> Result<(), String> {
    let schema = schema
        .as_object()
        .ok_or_else(|| format!("{at}: schema is not an object: {schema}"))?;
    for (keyword, arg) in schema {
        match keyword.as_str() {
            "$ref" => {
                let target = resolve_ref(doc, arg.as_str().unwrap_or(""))?;
                check_at(doc, target, value, at)?;
            }
            "type" => {
                let names: Vec<&str> = match arg {
                    serde_json::Value::String(s) => vec![s.as_str()],
                    serde_json::Value::Array(a) => a.iter().filter_map(|t| t.as_str()).collect(),
                    _ => return Err(format!("{at}: bad type {arg}")),
                };
                let mut ok = false;
                for name in &names {
                    ok |= type_matches(name, value)?;
                }
                if !ok {
                    return Err(format!("{at}: {value} is not of type {arg}"));
                }
            }
            "const" => {
                if value != arg {
                    return Err(format!("{at}: {value} is not {arg}"));
                }
            }
            "enum" => {
                let options = arg.as_array().ok_or(format!("{at}: enum is not a list"))?;
                if !options.contains(value) {
                    return Err(format!("{at}: {value} is none of {arg}"));
                }
            }
            "properties" => {
                if let Some(object) = value.as_object() {
                    for (name, sub) in arg.as_object().ok_or(format!("{at}: bad properties"))? {
                        if let Some(v) = object.get(name) {
                            check_at(doc, sub, v, &format!("{at}.{name}"))?;
                        }
                    }
                }
            }
            "required" => {
                if let Some(object) = value.as_object() {
                    for name in arg.as_array().ok_or(format!("{at}: bad required"))? {
                        let name = name.as_str().unwrap_or("");
                        if !object.contains_key(name) {
                            return Err(format!("{at}: required {name:?} is missing from {value}"));
                        }
                    }
                }
            }
            "additionalProperties" => {
                if arg != &serde_json::Value::Bool(false) {
                    return Err(format!("{at}: additionalProperties other than false"));
                }
                if let Some(object) = value.as_object() {
                    let known = schema.get("properties").and_then(|p| p.as_object());
                    for name in object.keys() {
                        if !known.is_some_and(|k| k.contains_key(name)) {
                            return Err(format!("{at}: {name:?} is not in the schema"));
                        }
                    }
                }
            }
            "items" => {
                if let Some(items) = value.as_array() {
                    for (i, item) in items.iter().enumerate() {
                        check_at(doc, arg, item, &format!("{at}[{i}]"))?;
                    }
                }
            }
            "oneOf" => {
                let options = arg.as_array().ok_or(format!("{at}: oneOf is not a list"))?;
                let fits = options
                    .iter()
                    .filter(|o| check_at(doc, o, value, at).is_ok())
                    .count();
                if fits != 1 {
                    return Err(format!("{at}: {value} fits {fits} of oneOf {arg}"));
                }
            }
            "minimum" | "maximum" => {
                if let (Some(n), Some(bound)) = (value.as_f64(), arg.as_f64()) {
                    let ok = if keyword == "minimum" {
                        n >= bound
                    } else {
                        n <= bound
                    };
                    if !ok {
                        return Err(format!("{at}: {value} is outside {keyword} {arg}"));
                    }
                }
            }
            "minItems" | "maxItems" => {
                if let (Some(a), Some(bound)) = (value.as_array(), arg.as_u64()) {
                    let n = a.len() as u64;
                    let ok = if keyword == "minItems" {
                        n >= bound
                    } else {
                        n <= bound
                    };
                    if !ok {
                        return Err(format!("{at}: {} items, {keyword} {arg}", a.len()));
                    }
                }
            }
            "maxLength" => {
                if let (Some(s), Some(bound)) = (value.as_str(), arg.as_u64())
                    && s.chars().count() as u64 > bound
                {
                    return Err(format!("{at}: longer than {bound}"));
                }
            }
            k if DESCRIPTIVE.contains(&k) => {}
            other => return Err(format!("{at}: schema keyword {other:?} is not checked")),
        }
    }
    Ok(())
}

#[test]
fn the_schema_checker_refuses_what_does_not_fit() {
    let doc = serde_json::json!({ "components": { "schemas": {
        "Point": { "type": "object", "properties": {
            "x": { "type": "integer", "minimum": 0 },
            "tag": { "type": ["string", "null"], "enum": ["a", null] } },
          "required": ["x"], "additionalProperties": false } } } });
    let point = serde_json::json!({ "$ref": "#/components/schemas/Point" });
    let rows = [
        (serde_json::json!({ "x": 1 }), true),
        (serde_json::json!({ "x": 1, "tag": null }), true),
        (serde_json::json!({ "x": 1, "tag": "a" }), true),
        (serde_json::json!({ "x": 1, "tag": "b" }), false),
        (serde_json::json!({ "x": -1 }), false),
        (serde_json::json!({ "x": 1.5 }), false),
        (serde_json::json!({ "tag": "a" }), false),
        (serde_json::json!({ "x": 1, "y": 2 }), false),
        (serde_json::json!([1]), false),
    ];
    for (value, fits) in rows {
        assert_eq!(
            check_schema(&doc, &point, &value).is_ok(),
            fits,
            "{value}: {:?}",
            check_schema(&doc, &point, &value)
        );
    }
    let unknown = serde_json::json!({ "format": "ipv4" });
    assert!(check_schema(&doc, &unknown, &serde_json::json!("x")).is_err());
}
