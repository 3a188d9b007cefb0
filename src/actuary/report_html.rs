//! The impact report as one self-contained HTML page: inline CSS, the distribution drawn as
//! an inline SVG bar chart here on the server, every table of [`super::report::tables`]. No
//! script and no external resource, so it opens offline, mails as one file, and prints.

use std::fmt::Write as _;

use super::impact::{BUCKET_EDGES, BUCKETS, Impact};
use super::report::{Meta, basis, money, pct, signed, tables};

/// Chart size in CSS pixels.
const CHART_W: u32 = 720;
const CHART_H: u32 = 260;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const CSS: &str = "\
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2430;\
margin:0;background:#f6f7f9}\
main{max-width:1040px;margin:0 auto;padding:24px 28px 48px}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:28px 0 6px}\
.sub{color:#5a6472;margin:0 0 18px}.note{color:#5a6472;margin:0 0 8px;font-size:13px}\
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-bottom:8px}\
.card{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:10px 14px;flex:1;min-width:120px}\
.card .k{color:#5a6472;font-size:12px;text-transform:uppercase;letter-spacing:.04em}\
.card .v{font-size:18px;font-weight:600;font-variant-numeric:tabular-nums}\
.up{color:#b4441c}.down{color:#1f7a4d}\
table{border-collapse:collapse;background:#fff;border:1px solid #dde1e7;width:100%}\
th,td{padding:5px 10px;border-bottom:1px solid #eceef2;text-align:right;\
font-variant-numeric:tabular-nums;vertical-align:top}\
th{background:#eef1f5;font-weight:600}th:first-child,td:first-child{text-align:left}\
td.text{text-align:left;max-width:420px;overflow-wrap:anywhere;font-size:12px}\
svg{background:#fff;border:1px solid #dde1e7;border-radius:8px}\
table#totals,table#distribution{width:auto;min-width:440px}\
";

/// The whole page.
pub fn render(meta: &Meta, impact: &Impact) -> String {
    let mut h = String::with_capacity(16 * 1024);
    let title = format!("Impact: {} -> {}", meta.from, meta.to);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{}</title><style>{CSS}</style></head><body><main>\n",
        escape(&title)
    );
    let _ = writeln!(
        h,
        "<h1>{}</h1><p class=\"sub\">Book: {} &middot; {} requests</p>",
        escape(&title),
        escape(&meta.book),
        impact.requests
    );
    let change = impact.total.change();
    let class = if change.is_sign_positive() && !change.is_zero() {
        "up"
    } else if change.is_sign_negative() && !change.is_zero() {
        "down"
    } else {
        ""
    };
    let _ = writeln!(
        h,
        "<div class=\"cards\" id=\"summary\">\
         <div class=\"card\"><div class=\"k\">written before</div><div class=\"v\">{}</div></div>\
         <div class=\"card\"><div class=\"k\">written after</div><div class=\"v\">{}</div></div>\
         <div class=\"card\"><div class=\"k\">change</div><div class=\"v {class}\">{}</div></div>\
         <div class=\"card\"><div class=\"k\">change %</div><div class=\"v {class}\">{}</div></div>\
         <div class=\"card\"><div class=\"k\">priced by both</div><div class=\"v\">{}</div></div>\
         <div class=\"card\"><div class=\"k\">refused: one side / both</div><div class=\"v\">{} / {}</div></div>\
         </div><p class=\"note\">{}</p>",
        money(impact.total.before),
        money(impact.total.after),
        signed(change),
        pct(impact.total.percent()),
        impact.both_priced,
        impact.only_from + impact.only_to,
        impact.both_refused,
        escape(&basis(impact)),
    );
    let _ = write!(
        h,
        "<h2>Distribution of the change per request</h2><p class=\"note\">{}</p>\n{}\n",
        escape(&format!(
            "Requests per bucket of change in percent; {BUCKET_EDGES}."
        )),
        chart(&impact.buckets)
    );
    for t in tables(impact) {
        let _ = write!(h, "<h2>{}</h2>", escape(&t.title));
        if let Some(note) = &t.note {
            let _ = write!(h, "<p class=\"note\">{}</p>", escape(note));
        }
        let _ = write!(h, "<table id=\"{}\"><thead><tr>", escape(&t.name));
        for c in &t.headers {
            let _ = write!(h, "<th>{}</th>", escape(c));
        }
        h.push_str("</tr></thead><tbody>");
        if t.rows.is_empty() {
            let _ = write!(
                h,
                "<tr><td colspan=\"{}\">(none)</td></tr>",
                t.headers.len()
            );
        }
        // Answers of the one-sided table are long text: left-aligned and wrapped.
        let text_cols = if t.name == "one_sided" { 1 } else { usize::MAX };
        for r in &t.rows {
            h.push_str("<tr>");
            for (i, c) in r.iter().enumerate() {
                if i >= text_cols {
                    let _ = write!(h, "<td class=\"text\">{}</td>", escape(c));
                } else {
                    let _ = write!(h, "<td>{}</td>", escape(c));
                }
            }
            h.push_str("</tr>");
        }
        h.push_str("</tbody></table>\n");
    }
    h.push_str("</main></body></html>\n");
    h
}

/// The distribution as an SVG bar chart: one bar per bucket, its count above it, decreases
/// green, unchanged grey, increases orange.
pub fn chart(buckets: &[u64; 9]) -> String {
    let (w, ht) = (CHART_W as f64, CHART_H as f64);
    let (left, right, top, bottom) = (16.0, 16.0, 28.0, 44.0);
    let max = buckets.iter().copied().max().unwrap_or(0).max(1) as f64;
    let slot = (w - left - right) / buckets.len() as f64;
    let bar = slot * 0.7;
    let plot_h = ht - top - bottom;
    let mut s = String::new();
    let _ = write!(
        s,
        "<svg id=\"distribution-chart\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{CHART_W}\" \
         height=\"{CHART_H}\" viewBox=\"0 0 {CHART_W} {CHART_H}\" role=\"img\" \
         aria-label=\"requests per bucket of change in percent\" \
         font-family=\"system-ui,sans-serif\" font-size=\"12\">"
    );
    let base = ht - bottom;
    let _ = write!(
        s,
        "<line x1=\"{left}\" y1=\"{base}\" x2=\"{}\" y2=\"{base}\" stroke=\"#9aa3ae\"/>",
        w - right
    );
    for (i, (&n, label)) in buckets.iter().zip(BUCKETS).enumerate() {
        let color = match i {
            0..=3 => "#2e9e63",
            4 => "#9aa3ae",
            _ => "#e07a3f",
        };
        let x = left + slot * i as f64 + (slot - bar) / 2.0;
        let bh = if n == 0 {
            0.0
        } else {
            (n as f64 / max * plot_h).max(1.0)
        };
        let y = base - bh;
        let cx = x + bar / 2.0;
        let _ = write!(
            s,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{bar:.1}\" height=\"{bh:.1}\" fill=\"{color}\" rx=\"2\">\
             <title>{}: {n}</title></rect>\
             <text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#1d2430\">{n}</text>\
             <text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#5a6472\">{}</text>",
            escape(label),
            y - 6.0,
            base + 18.0,
            escape(label.trim_end_matches(" (unchanged)")),
        );
    }
    let _ = write!(
        s,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#5a6472\">change per request, %</text></svg>",
        w / 2.0,
        ht - 6.0
    );
    s
}
