//! `GET /`: the status console, the page an operator keeps open. `console.html` (layout
//! and style), `world.svg` (land, from Natural Earth's public-domain 110m countries, drawn
//! by `tools/worldmap.py`) and `console.js` (drawing, polling `/v1/status`, drain and
//! undrain) are compiled in; the page also carries the status as of the request, so it
//! is drawn at once. Nothing is loaded from anywhere else.

use super::{ApiError, ApiState, status};
use axum::extract::State;
use axum::response::Html;
use std::sync::LazyLock;

const HTML: &str = include_str!("console.html");
const WORLD: &str = include_str!("world.svg");
const SCRIPT: &str = include_str!("console.js");
const STATUS_SLOT: &str = "<!--STATUS-->";

/// The page around the status slot: before it and after it, made once.
static PAGE: LazyLock<(String, String)> = LazyLock::new(|| {
    let page = HTML
        .replacen("<!--WORLD-->", WORLD, 1)
        .replacen("/*CONSOLE_JS*/", SCRIPT, 1);
    let (before, after) = page
        .split_once(STATUS_SLOT)
        .expect("console.html has a status slot");
    (before.to_string(), after.to_string())
});

/// JSON that can stand inside a `<script>` element: a `<` (only ever inside a string)
/// is written `\u003c`, so no `</script>` or `<!--` can end or change it.
fn script_json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value)
        .expect("the status serializes")
        .replace('<', "\\u003c")
}

pub async fn index(State(state): State<ApiState>) -> Result<Html<String>, ApiError> {
    let st = status(&state).await?;
    let json = script_json(&st);
    let (before, after) = &*PAGE;
    let mut page = String::with_capacity(before.len() + json.len() + after.len());
    page.push_str(before);
    page.push_str(&json);
    page.push_str(after);
    Ok(Html(page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_has_every_part_and_no_outside_reference() {
        let (before, after) = &*PAGE;
        let page = format!("{before}{{}}{after}");
        assert!(page.contains("<path class=\"land\" d=\"M"));
        assert!(page.contains("function drawMap"));
        assert!(!page.contains("<!--WORLD-->") && !page.contains("/*CONSOLE_JS*/"));
        // The script is inline: nothing in it may end its element early.
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
        // Nothing fetched from another host: no absolute URL but the SVG namespace name.
        let page = page.replace("\"http://www.w3.org/2000/svg\"", "");
        for needle in [
            "http://", "https://", "//cdn", "@import", "url(", "<link", " src=",
        ] {
            assert!(!page.contains(needle), "{needle} in the page");
        }
    }

    #[test]
    fn status_json_cannot_end_its_script_element() {
        let json = script_json(&serde_json::json!({ "reason": "</script><!-- x" }));
        assert!(!json.contains('<'), "{json}");
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["reason"], "</script><!-- x");
    }

    #[test]
    fn the_map_stays_small() {
        assert!(WORLD.len() < 100_000, "{} bytes", WORLD.len());
    }
}
