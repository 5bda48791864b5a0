//! Self-contained HTML reports: the sweep report (`sweep report`), its
//! capacity-search form, and the single-run plot (`--plot`). Charts are inline SVG drawn here; the only
//! script is a few lines that sort the tables, so pages work offline.

pub mod run_page;
pub mod search_page;
pub mod svg;
pub mod sweep_page;
pub mod timeline;

/// Escapes text for HTML and SVG content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
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

/// The page's style: readable type, charts in a wrapping grid.
const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #222; background: #fff; }
h1 { font-size: 22px; margin: 0 0 8px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; }
svg.chart { border: 1px solid #e4e4e4; background: #fff; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #333; stroke: none; }
svg.chart text.title { font-size: 13px; font-weight: 600; }
svg.chart text.label { font-size: 12px; }
svg.chart .grid { stroke: #ececec; } svg.chart .axis, svg.chart .tickmark { stroke: #888; }
table { border-collapse: collapse; font-size: 12px; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; white-space: nowrap; }
th { background: #f4f4f4; cursor: pointer; position: sticky; top: 0; }
td.t, th.t { text-align: left; }
.note { color: #666; max-width: 60em; }
.scroll { max-height: 640px; overflow: auto; }
"#;

/// Sorts a table by the clicked header (numbers as numbers), flags script
/// errors on `<body data-error>`, and marks a page that ran to the end with
/// `<body data-ok="1">`, so headless checks can tell the two apart.
const SCRIPT: &str = r#"
window.addEventListener('error', function (e) { document.body.setAttribute('data-error', String(e.message)); });
document.querySelectorAll('table.sortable').forEach(function (table) {
  table.querySelectorAll('th').forEach(function (th, col) {
    th.addEventListener('click', function () {
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      var asc = th.getAttribute('data-sort') !== 'asc';
      table.querySelectorAll('th').forEach(function (h) { h.removeAttribute('data-sort'); });
      th.setAttribute('data-sort', asc ? 'asc' : 'desc');
      var key = function (r) { var c = r.cells[col]; return c.hasAttribute('data-v') ? c.getAttribute('data-v') : c.textContent; };
      rows.sort(function (a, b) {
        var x = key(a), y = key(b), nx = parseFloat(x), ny = parseFloat(y);
        var d = (x === '' || y === '') ? (x === '' ? 1 : 0) - (y === '' ? 1 : 0) : (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return asc ? d : -d;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
document.body.setAttribute('data-ok', '1');
"#;

/// A whole page: `title`, then `body` (HTML), with the style and script.
pub fn document(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}\n<script>{SCRIPT}</script>\n</body>\n</html>\n",
        escape(title)
    )
}

/// A two-column table of names and values (metadata, key metrics).
pub fn key_value_table(rows: &[(String, String)]) -> String {
    let mut s = String::from("<table class=\"meta\"><tbody>");
    for (k, v) in rows {
        s.push_str(&format!(
            "<tr><td class=\"t\">{}</td><td class=\"t\">{}</td></tr>",
            escape(k),
            escape(v)
        ));
    }
    s.push_str("</tbody></table>");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_builds_a_whole_page() {
        assert_eq!(
            escape(r#"<a href="x">&'"#),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
        let page = document("a < b", "<p>hi</p>");
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<title>a &lt; b</title>"));
        assert!(page.contains("data-ok"));
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no network"
        );
    }
}
