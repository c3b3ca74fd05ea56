//! `report.html`: a report folder as one page that opens anywhere, offline.
//!
//! The page is the folder's markdown summary (`summary.md`, `capacity.md`, `model-check.md` or
//! `compare.md`, which already put the answer first), rendered to HTML, with every SVG plot of the folder
//! inlined after it. Links to a plot in the summary become links to the plot on the page. The
//! page carries a content security policy that forbids every request (no script, font, image
//! or style from anywhere), so a page that tried to fetch something would show it as an error
//! in the browser's console rather than leak.
//!
//! The markdown is ours: this renders the subset our summaries use (headings, paragraphs,
//! lists one level deep, pipe tables with `---:` alignment, `code`, **strong** and links), and
//! escapes everything else.

use std::fmt::Write as _;

use super::ReportFile;

/// The page's name in every folder.
pub const HTML_NAME: &str = "report.html";

/// The summaries a page is made from, in order of preference.
pub const SUMMARY_NAMES: [&str; 4] = ["summary.md", "capacity.md", "model-check.md", "compare.md"];

/// The largest SVG inlined; a bigger one is linked instead (a page must open fast).
const SVG_INLINE_BYTES_MAX: usize = 4 << 20;

const STYLE: &str = "\
:root{color-scheme:light;--fg:#1b1f24;--muted:#57606a;--line:#d0d7de;--pass:#1a7f37;--fail:#cf222e}
*{box-sizing:border-box}
body{margin:0 auto;max-width:1240px;padding:16px;font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;color:var(--fg);background:#fff}
h1{font-size:1.6em;margin:.2em 0 .6em}
h2{font-size:1.25em;margin:1.6em 0 .5em;padding-bottom:.2em;border-bottom:1px solid var(--line)}
code{font:.9em ui-monospace,'DejaVu Sans Mono',monospace;background:#f3f4f6;padding:.05em .3em;border-radius:4px;overflow-wrap:anywhere}
.scroll{overflow-x:auto;margin:.6em 0}
table{border-collapse:collapse;font-size:.92em}
th,td{border:1px solid var(--line);padding:3px 8px;vertical-align:top}
th{background:#f6f8fa;text-align:left}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
svg text{font-family:'DejaVu Sans',Verdana,sans-serif}
tbody tr:nth-child(even){background:#fafbfc}
strong.pass{color:var(--pass)}
strong.fail{color:var(--fail)}
figure{margin:1em 0;border:1px solid var(--line);border-radius:6px;padding:8px}
figure svg{display:block;width:100%;height:auto}
figcaption{color:var(--muted);font-size:.9em;margin-top:4px}
footer{margin-top:2em;color:var(--muted);font-size:.85em}
";

/// The page for a folder's files, when one of them is a summary ([`SUMMARY_NAMES`]).
pub fn page(files: &[ReportFile]) -> Option<ReportFile> {
    let summary = SUMMARY_NAMES
        .iter()
        .find_map(|name| files.iter().find(|f| f.path == *name))
        .map(|f| String::from_utf8_lossy(&f.bytes).into_owned())?;
    let plots: Vec<(&str, &[u8])> = files
        .iter()
        .filter_map(|f| {
            let name = f.path.strip_prefix("plots/")?.strip_suffix(".svg")?;
            Some((name, f.bytes.as_slice()))
        })
        .collect();
    let inlined: Vec<&str> = plots
        .iter()
        .filter(|(_, svg)| svg.len() <= SVG_INLINE_BYTES_MAX)
        .map(|(name, _)| *name)
        .collect();
    let title = summary
        .lines()
        .find_map(|l| l.strip_prefix("# "))
        .unwrap_or("bakong-sim report")
        .to_string();
    let mut h = String::with_capacity(summary.len() * 2);
    h.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    h.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
         style-src 'unsafe-inline'; img-src data:\">\n",
    );
    h.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    let _ = writeln!(h, "<title>{}</title>", escape(&title));
    let _ = writeln!(h, "<style>\n{STYLE}</style>\n</head>\n<body>\n<main>");
    markdown(&summary, &inlined, &mut h);
    if !plots.is_empty() {
        h.push_str("<section id=\"figures\">\n<h2>Figures</h2>\n");
        for (name, svg) in &plots {
            let _ = writeln!(h, "<figure id=\"plot-{}\">", escape(name));
            if inlined.contains(name) {
                let svg = String::from_utf8_lossy(svg);
                let start = svg.find("<svg").unwrap_or(0);
                h.push_str(svg[start..].trim_end());
                h.push('\n');
            }
            let _ = writeln!(
                h,
                "<figcaption>{0} (<a href=\"plots/{0}.svg\">SVG</a>, \
                 <a href=\"plots/{0}.png\">PNG</a> beside this page)</figcaption>\n</figure>",
                escape(name)
            );
        }
        h.push_str("</section>\n");
    }
    h.push_str(
        "</main>\n<footer>Rendered by bakong-sim from this folder's summary; every figure \
         here is also in the folder's CSV and JSON files.</footer>\n</body>\n</html>\n",
    );
    Some(ReportFile::new(HTML_NAME, h))
}

/// Escapes text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A heading's id: lower-case letters and digits, runs of anything else one `-`.
fn slug(text: &str) -> String {
    let mut s = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() {
            s.push(c.to_ascii_lowercase());
        } else if !s.ends_with('-') && !s.is_empty() {
            s.push('-');
        }
    }
    s.trim_end_matches('-').to_string()
}

/// What block the renderer is in.
#[derive(PartialEq)]
enum Block {
    None,
    Paragraph,
    /// A list, and whether a nested list is open in its last item.
    List {
        nested: bool,
    },
    Table,
}

fn close(block: &mut Block, h: &mut String) {
    match block {
        Block::None => {}
        Block::Paragraph => h.push_str("</p>\n"),
        Block::List { nested } => {
            if *nested {
                h.push_str("</ul>");
            }
            h.push_str("</li>\n</ul>\n");
        }
        Block::Table => h.push_str("</tbody>\n</table>\n</div>\n"),
    }
    *block = Block::None;
}

/// Renders our markdown into `h`, each `## ` heading opening a `<section>` named by its slug.
fn markdown(text: &str, inlined: &[&str], h: &mut String) {
    let mut block = Block::None;
    let mut in_section = false;
    let mut lines = text.lines().peekable();
    let mut right: Vec<bool> = Vec::new();
    while let Some(line) = lines.next() {
        if line.trim().is_empty() {
            close(&mut block, h);
            continue;
        }
        if let Some(t) = line.strip_prefix("# ") {
            close(&mut block, h);
            let _ = writeln!(h, "<h1>{}</h1>", inline(t, inlined));
        } else if let Some(t) = line.strip_prefix("## ") {
            close(&mut block, h);
            if in_section {
                h.push_str("</section>\n");
            }
            in_section = true;
            let _ = writeln!(h, "<section id=\"{}\">\n<h2>{}</h2>", slug(t), inline(t, inlined));
        } else if line.starts_with('|') {
            if block != Block::Table {
                close(&mut block, h);
                block = Block::Table;
                let next = lines.peek().copied().filter(|l| is_alignment(l));
                right =
                    next.map(|l| cells(l).map(|c| c.ends_with(':')).collect()).unwrap_or_default();
                h.push_str("<div class=\"scroll\">\n<table>\n");
                if next.is_some() {
                    lines.next();
                    // A key-value table has an empty header: none is shown.
                    if !cells(line).all(str::is_empty) {
                        row(line, "th", &right, inlined, h);
                        h.push_str("<tbody>\n");
                        continue;
                    }
                }
                h.push_str("<tbody>\n");
                if next.is_some() {
                    continue;
                }
            }
            row(line, "td", &right, inlined, h);
        } else if let Some(t) = line.strip_prefix("  - ") {
            list_item(&mut block, true, &inline(t, inlined), h);
        } else if let Some(t) = line.strip_prefix("- ") {
            list_item(&mut block, false, &inline(t, inlined), h);
        } else if block == Block::Paragraph {
            let _ = write!(h, "\n{}", inline(line.trim(), inlined));
        } else {
            close(&mut block, h);
            let _ = write!(h, "<p>{}", inline(line.trim(), inlined));
            block = Block::Paragraph;
        }
    }
    close(&mut block, h);
    if in_section {
        h.push_str("</section>\n");
    }
}

/// A list item, `nested` under the last top-level item (a nested item with no list open
/// starts one at the top).
fn list_item(block: &mut Block, nested: bool, text: &str, h: &mut String) {
    match block {
        Block::List { nested: open } => match (nested, *open) {
            (true, false) => {
                let _ = write!(h, "<ul><li>{text}</li>");
                *open = true;
            }
            (true, true) => {
                let _ = write!(h, "<li>{text}</li>");
            }
            (false, was) => {
                let _ = write!(h, "{}</li>\n<li>{text}", if was { "</ul>" } else { "" });
                *open = false;
            }
        },
        _ => {
            close(block, h);
            let _ = write!(h, "<ul>\n<li>{text}");
            *block = Block::List { nested: false };
        }
    }
}

/// One table row, `th` cells in a `thead` or `td` cells; right-aligned where the alignment row
/// said `---:`.
fn row(line: &str, cell: &str, right: &[bool], inlined: &[&str], h: &mut String) {
    if cell == "th" {
        h.push_str("<thead>");
    }
    h.push_str("<tr>");
    for (i, c) in cells(line).enumerate() {
        let class = if right.get(i) == Some(&true) { " class=\"num\"" } else { "" };
        let _ = write!(h, "<{cell}{class}>{}</{cell}>", inline(c, inlined));
    }
    h.push_str("</tr>");
    h.push_str(if cell == "th" { "</thead>\n" } else { "\n" });
}

fn is_alignment(line: &str) -> bool {
    line.starts_with('|')
        && cells(line).all(|c| !c.is_empty() && c.chars().all(|ch| "-:".contains(ch)))
}

/// A table row's cells, trimmed (the outer pipes dropped; a pipe inside `code` is text).
fn cells(line: &str) -> impl Iterator<Item = &str> {
    let inner = line.trim();
    let inner = inner.strip_prefix('|').unwrap_or(inner);
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut in_code = false;
    let mut start = 0;
    let mut out = Vec::new();
    for (i, c) in inner.char_indices() {
        match c {
            '`' => in_code = !in_code,
            '|' if !in_code => {
                out.push(inner[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(inner[start..].trim());
    out.into_iter()
}

/// Inline markdown: `code` verbatim, then **strong** and [text](target) in what is left. A
/// link to a plot inlined on the page goes to the plot.
fn inline(text: &str, inlined: &[&str]) -> String {
    let mut out = String::new();
    for (i, part) in text.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{}</code>", escape(part));
        } else {
            out.push_str(&links(part, inlined));
        }
    }
    out
}

fn links(text: &str, inlined: &[&str]) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('[') {
        let Some(mid) = rest[open..].find("](").map(|m| open + m) else { break };
        let Some(end) = rest[mid..].find(')').map(|e| mid + e) else { break };
        out.push_str(&strong(&rest[..open]));
        let (label, target) = (&rest[open + 1..mid], &rest[mid + 2..end]);
        let plot = target
            .strip_prefix("plots/")
            .and_then(|t| t.strip_suffix(".png").or_else(|| t.strip_suffix(".svg")))
            .filter(|name| inlined.contains(name));
        let href = match plot {
            Some(name) => format!("#plot-{name}"),
            None => target.to_string(),
        };
        let _ = write!(out, "<a href=\"{}\">{}</a>", escape(&href), strong(label));
        rest = &rest[end + 1..];
    }
    out.push_str(&strong(rest));
    out
}

fn strong(text: &str) -> String {
    let mut out = String::new();
    for (i, part) in text.split("**").enumerate() {
        if i % 2 == 1 {
            let class = match part {
                "PASS" => " class=\"pass\"",
                "FAIL" => " class=\"fail\"",
                _ => "",
            };
            let _ = write!(out, "<strong{class}>{}</strong>", escape(part));
        } else {
            out.push_str(&emphasis(part));
        }
    }
    out
}

/// `*word or words*` as `<em>`: an asterisk that opens after a space, `(` or the start and
/// before a letter, closed by one after a letter and before a space, punctuation or the end.
/// Any other asterisk is text.
fn emphasis(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    loop {
        // The asterisk first: only then is `i + 1` a character boundary.
        let open = rest.char_indices().find(|&(i, c)| {
            c == '*'
                && rest[..i].chars().next_back().is_none_or(|b| b.is_whitespace() || b == '(')
                && rest[i + 1..].chars().next().is_some_and(char::is_alphanumeric)
        });
        let Some((open, _)) = open else { break };
        let body = &rest[open + 1..];
        let close = body.char_indices().find(|&(i, c)| {
            c == '*'
                && body[..i].chars().next_back().is_some_and(|b| !b.is_whitespace())
                && body[i + 1..]
                    .chars()
                    .next()
                    .is_none_or(|a| a.is_whitespace() || ",.;:)".contains(a))
        });
        let Some((close, _)) = close else { break };
        let _ = write!(out, "{}<em>{}</em>", escape(&rest[..open]), escape(&body[..close]));
        rest = &body[close + 1..];
    }
    out.push_str(&escape(rest));
    out
}

#[cfg(test)]
mod tests {
    //! Goal: the page holds the summary's every block and every plot, escapes what it must,
    //! and asks for nothing from anywhere. Method: one `check` over small summaries, each
    //! against the fragments its page must hold and must not.

    use super::*;

    fn check(name: &str, summary: &str, plots: &[&str], must: &[&str], must_not: &[&str]) {
        assert!(!must.is_empty(), "{name}: nothing to look for");
        let mut files = vec![ReportFile::new("summary.md", summary)];
        for p in plots {
            files.push(ReportFile::new(
                format!("plots/{p}.svg"),
                format!("<?xml version=\"1.0\"?>\n<svg id=\"{p}\"><text>{p}</text></svg>\n"),
            ));
        }
        let page = page(&files).expect("a page");
        let html = String::from_utf8(page.bytes).expect("utf-8");
        for m in must {
            assert!(html.contains(m), "{name}: no {m:?} in\n{html}");
        }
        for m in must_not {
            assert!(!html.contains(m), "{name}: {m:?} in\n{html}");
        }
    }

    #[test]
    fn summaries_render_block_by_block() {
        check(
            "title, sections and the policy",
            "# tiny: run report\n\n## The answer\n\n- SLOs: 3 of 4 held.\n\n## SLOs\n\ntext\n",
            &[],
            &[
                "<title>tiny: run report</title>",
                "<h1>tiny: run report</h1>",
                "<section id=\"the-answer\">\n<h2>The answer</h2>",
                "</section>\n<section id=\"slos\">",
                "default-src 'none'",
                "<li>SLOs: 3 of 4 held.</li>\n</ul>",
            ],
            &["<section id=\"figures\">", "http:", "https:", "<script"],
        );
        check(
            "a table, numbers right-aligned",
            "| flow | payments |\n|---|---:|\n| inward | 242 |\n| `a|b` | 1 |\n",
            &[],
            &[
                "<thead><tr><th>flow</th><th class=\"num\">payments</th></tr></thead>",
                "<tr><td>inward</td><td class=\"num\">242</td></tr>",
                "<tr><td><code>a|b</code></td><td class=\"num\">1</td></tr>",
            ],
            &["---:"],
        );
        check(
            "a table without a header row",
            "| | |\n|---|---|\n| seed | 7 |\n",
            &[],
            &["<table>\n<tbody>\n<tr><td>seed</td><td>7</td></tr>"],
            &["|", "<thead>"],
        );
        check(
            "nested lists",
            "- inward: a\n  - biggest: b\n- outward: c\n",
            &[],
            &["<ul>\n<li>inward: a<ul><li>biggest: b</li></ul></li>\n<li>outward: c</li>\n</ul>"],
            &[],
        );
        check(
            "a paragraph over two lines",
            "one\ntwo\n\nthree\n",
            &[],
            &["<p>one\ntwo</p>\n<p>three</p>"],
            &[],
        );
        check(
            "escapes, code, strong and verdicts",
            "- **PASS** p99 <5 s & `x<y` **FAIL** **bold**\n",
            &[],
            &[
                "<strong class=\"pass\">PASS</strong> p99 &lt;5 s &amp; <code>x&lt;y</code>",
                "<strong class=\"fail\">FAIL</strong> <strong>bold</strong>",
            ],
            &["<5 s"],
        );
        check(
            "emphasis, and asterisks that are not",
            "*Payments* counts (a *mid* rate); 2 * 3 = 6, 52.58× a*b, *ré*, *open\n",
            &[],
            &[
                "<em>Payments</em> counts (a <em>mid</em> rate); 2 * 3 = 6, 52.58× a*b, <em>ré</em>, *open",
            ],
            &["<em>open", "<em> 3"],
        );
    }

    proptest::proptest! {
        /// No summary text makes the renderer panic: any mix of the characters markdown
        /// gives meaning to, multi-byte ones among them.
        #[test]
        fn any_summary_renders(text in "[-#|*`\\[\\]()\n a×é:.]{0,200}") {
            let files = [ReportFile::new("summary.md", text.clone())];
            let page = page(&files).expect("a summary makes a page");
            proptest::prop_assert!(page.bytes.starts_with(b"<!DOCTYPE html>"));
        }
    }

    #[test]
    fn plots_are_inlined_and_linked_on_the_page() {
        check(
            "two plots",
            "# r\n\n## Plots\n\n- [throughput](plots/throughput.png) ([SVG](plots/throughput.svg))\n\
             - [elsewhere](other.csv)\n",
            &["throughput", "nodes"],
            &[
                "<a href=\"#plot-throughput\">throughput</a> (<a href=\"#plot-throughput\">SVG</a>)",
                "<a href=\"other.csv\">elsewhere</a>",
                "<figure id=\"plot-throughput\">\n<svg id=\"throughput\">",
                "<figure id=\"plot-nodes\">\n<svg id=\"nodes\">",
            ],
            &["<?xml"],
        );
    }

    #[test]
    fn a_folder_without_a_summary_has_no_page() {
        assert!(page(&[ReportFile::new("sweep.json", "{}")]).is_none());
        let other = [ReportFile::new("capacity.md", "# capacity\n")];
        assert!(page(&other).is_some_and(|p| p.path == HTML_NAME));
    }
}
