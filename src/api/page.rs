//! `GET /`: the status page for people. The same facts as `/v1/status` (regions, names,
//! viewpoints, probers, zones), as one HTML page that refreshes itself; no scripts, no
//! external assets.

use super::{ApiError, ApiState, status};
use axum::extract::State;
use axum::response::Html;
use std::fmt::Write;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One table row; the cells are already escaped.
fn row(h: &mut String, cells: &[&dyn std::fmt::Display]) {
    h.push_str("<tr>");
    for c in cells {
        let _ = write!(h, "<td>{c}</td>");
    }
    h.push_str("</tr>");
}

pub async fn index(State(state): State<ApiState>) -> Result<Html<String>, ApiError> {
    let st = status(&state).await?;
    let mut h = String::new();
    let _ = write!(
        h,
        "<!doctype html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"5\">\
         <title>Meridian {}</title><style>body{{font:14px system-ui,sans-serif;margin:2em}}\
         table{{border-collapse:collapse;margin-bottom:1.5em}}td,th{{border:1px solid #ccc;padding:3px 8px;text-align:left}}\
         .up{{color:#080}}.down{{color:#c00;font-weight:bold}}.drained{{color:#a60}}</style></head><body>",
        esc(&st.region)
    );
    let _ = write!(
        h,
        "<h1>Meridian</h1><p>server region <b>{}</b></p>",
        esc(&st.region)
    );
    if let Some(bad) = &st.state_file {
        let kept = bad.kept_as.as_deref().map_or(
            "it could not be moved aside; nothing is saved until it is removed".to_string(),
            |k| format!("kept as {}; remove it once looked at", esc(k)),
        );
        let _ = write!(
            h,
            "<p class=down>state file was bad at start: {} ({kept})</p>",
            esc(&bad.error)
        );
    }
    h.push_str(
        "<h2>Regions</h2><table><tr><th>region</th><th>lat</th><th>lon</th><th>drained</th></tr>",
    );
    for r in &st.regions {
        let drained = if r.drained {
            "<span class=drained>drained</span>"
        } else {
            ""
        };
        row(&mut h, &[&esc(&r.name), &r.lat, &r.lon, &drained]);
    }
    h.push_str("</table><h2>Load-balanced names</h2>");
    for s in &st.services {
        let _ = write!(
            h,
            "<h3>{} <small>TTL {} (now {})</small></h3>",
            esc(&s.name),
            s.ttl,
            s.ttl_now
        );
        h.push_str("<table><tr><th>endpoint</th><th>region</th><th>capacity</th><th>state</th><th>votes (prober: vote, age)</th></tr>");
        for e in &s.endpoints {
            let votes: Vec<String> = e
                .votes
                .iter()
                .map(|v| {
                    let word = if v.up { "up" } else { "down" };
                    let why = if v.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", esc(&v.reason))
                    };
                    let stale = if v.fresh { "" } else { " stale" };
                    format!(
                        "{}: {word}{why}, {:.1}s{stale}",
                        esc(&v.prober),
                        v.age_ms as f64 / 1000.0
                    )
                })
                .collect();
            let votes = if s.checked {
                votes.join("<br>")
            } else {
                "not checked".into()
            };
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td class={}>{}</td><td>{votes}</td></tr>",
                e.address,
                esc(&e.region),
                e.capacity,
                e.state,
                e.state
            );
        }
        h.push_str("</table>");
    }
    h.push_str("<h2>Viewpoints</h2><table><tr><th>viewpoint</th><th>serving region</th><th>probers</th></tr>");
    for v in &st.viewpoints {
        let region = if v.region { "yes" } else { "no" };
        let probers: Vec<String> = v.probers.iter().map(|p| esc(p)).collect();
        row(&mut h, &[&esc(&v.name), &region, &probers.join(", ")]);
    }
    h.push_str("</table><h2>Probers</h2><table><tr><th>prober</th><th>viewpoint</th><th>last report</th><th>reports</th><th>refused</th></tr>");
    for p in &st.probers {
        let age = match p.last_report_age_ms {
            Some(ms) => format!("{:.1}s ago", ms as f64 / 1000.0),
            None => "never accepted".into(),
        };
        let refused = if p.refused > 0 {
            format!("<span class=down>{}</span>", p.refused)
        } else {
            "0".into()
        };
        row(
            &mut h,
            &[
                &esc(&p.name),
                &esc(&p.viewpoint),
                &age,
                &p.reports,
                &refused,
            ],
        );
    }
    h.push_str("</table><h2>Zones</h2><table><tr><th>zone</th><th>serial</th><th>records</th><th>file</th></tr>");
    for z in &st.zones {
        row(
            &mut h,
            &[&esc(&z.origin), &z.serial, &z.records, &esc(&z.file)],
        );
    }
    h.push_str("</table><p><a href=\"/v1/status\">/v1/status</a> · <a href=\"/metrics\">/metrics</a></p></body></html>");
    Ok(Html(h))
}
