//! The Markdown report of `cargo xtask bench`, updated section by section.
//!
//! Each measured section of `docs/benchmarks.md` sits between two marker lines,
//! `<!-- bench:NAME -->` and `<!-- /bench:NAME -->`. A run rewrites only the sections it
//! measured: the text between the markers becomes the new intro, and the section's
//! table is merged by row key (the first `key_columns` cells, each without a trailing
//! ` (...)` label), so rows the run did not re-measure stay with their own date. Text
//! outside the markers is never touched. When a section's columns change (a new column),
//! the kept rows are laid out again by column name, empty in the new columns. A section
//! whose markers are missing or
//! malformed (a start without an end after it) is appended at the end with a heading,
//! and whatever was in the file stays as it was.
//!
//! Everything here is a pure function on strings, so the merge is tested exactly.

/// One section a run measured.
#[derive(Debug, Clone)]
pub struct Section<'a> {
    /// The marker name (`table` for `<!-- bench:table -->`).
    pub name: &'a str,
    /// The Markdown heading written above the markers when the section is appended.
    pub heading: &'a str,
    /// The text above the table (date, load average, method), ending in a newline.
    pub intro: String,
    /// The table's header line and separator line, each ending in a newline.
    pub header: String,
    /// The measured rows, `| a | b | ... |`, without newlines.
    pub rows: Vec<String>,
    /// How many leading cells identify a row.
    pub key_columns: usize,
}

fn start_marker(name: &str) -> String {
    format!("<!-- bench:{name} -->")
}

fn end_marker(name: &str) -> String {
    format!("<!-- /bench:{name} -->")
}

/// The byte range of the text between the markers of section `name` (after the start
/// marker's line, up to the end marker), or `None` when the markers are missing or
/// malformed. The last start marker counts, with the first end marker after it, so a
/// stray start marker left above a good section does not hide it.
pub fn find_section(doc: &str, name: &str) -> Option<std::ops::Range<usize>> {
    let (start, end) = (start_marker(name), end_marker(name));
    let s = doc.rfind(&start)?;
    let mut content_start = s + start.len();
    if doc[content_start..].starts_with('\n') {
        content_start += 1;
    }
    let e = content_start + doc[content_start..].find(&end)?;
    Some(content_start..e)
}

/// Splits a table line into its trimmed cells (`| a | b |` -> `["a", "b"]`).
pub fn cells(line: &str) -> Vec<&str> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    inner.split('|').map(str::trim).collect()
}

/// Whether a table line is a separator (`|---|---:|`).
fn is_separator(line: &str) -> bool {
    cells(line).iter().all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
}

/// The header line of the first table in `text`.
fn table_header(text: &str) -> Option<&str> {
    text.lines().find(|l| l.trim_start().starts_with('|'))
}

/// A column name without a trailing ` (...)` label.
fn column_name(cell: &str) -> &str {
    match cell.find(" (") {
        Some(i) if cell.ends_with(')') => &cell[..i],
        _ => cell,
    }
}

/// `rows` of a table with header `old` laid out for header `new`: each cell goes to the
/// column of the same name (labels aside), columns `old` lacks are empty, columns `new`
/// lacks are dropped. Rows are unchanged when the names agree.
pub fn relayout_rows(rows: &[String], old: &str, new: &str) -> Vec<String> {
    fn names(h: &str) -> Vec<&str> {
        cells(h).into_iter().map(column_name).collect()
    }
    let (old_names, new_names) = (names(old), names(new));
    if old_names == new_names {
        return rows.to_vec();
    }
    rows.iter()
        .map(|r| {
            let values = cells(r);
            let laid: Vec<String> = new_names
                .iter()
                .map(|n| {
                    old_names
                        .iter()
                        .position(|o| o == n)
                        .and_then(|i| values.get(i))
                        .map_or_else(String::new, |v| (*v).to_string())
                })
                .collect();
            row(&laid)
        })
        .collect()
}

/// A row's key: its first `n` cells, each without a trailing ` (...)` label, so
/// `fstack pyramid (no align)` replaces a row labelled `fstack pyramid`.
pub fn row_key(line: &str, n: usize) -> Vec<String> {
    cells(line)
        .into_iter()
        .take(n)
        .map(|c| match c.find(" (") {
            Some(i) if c.ends_with(')') => c[..i].to_string(),
            _ => c.to_string(),
        })
        .collect()
}

/// The data rows of the first table in `text` (without its header and separator).
pub fn table_rows(text: &str) -> Vec<String> {
    let mut rows = Vec::new();
    let mut seen_header = false;
    let mut in_table = false;
    for line in text.lines() {
        if line.trim_start().starts_with('|') {
            if !seen_header {
                seen_header = true;
            } else if !is_separator(line) {
                rows.push(line.trim_end().to_string());
            }
            in_table = true;
        } else if in_table {
            break;
        }
    }
    rows
}

/// Merges `new` rows into `old` ones: a new row replaces the old row with the same key
/// in place; a row with a new key goes after the last row of the same first cell (the
/// same stack), or at the end; old rows nobody replaced stay where they are.
pub fn merge_rows(old: &[String], new: &[String], key_columns: usize) -> Vec<String> {
    let mut merged: Vec<String> = old.to_vec();
    for row in new {
        let key = row_key(row, key_columns);
        if let Some(i) = merged.iter().position(|r| row_key(r, key_columns) == key) {
            merged[i] = row.clone();
            continue;
        }
        let first = key.first().cloned().unwrap_or_default();
        match merged.iter().rposition(|r| row_key(r, 1).first() == Some(&first)) {
            Some(i) => merged.insert(i + 1, row.clone()),
            None => merged.push(row.clone()),
        }
    }
    merged
}

/// The report `doc` with `section` written into it (see the module docs). An empty
/// `doc` gets `# Benchmarks` first.
pub fn update_section(doc: &str, section: &Section<'_>) -> String {
    let range = find_section(doc, section.name);
    let old_rows = range.as_ref().map(|r| table_rows(&doc[r.clone()])).unwrap_or_default();
    let old_header = range.as_ref().and_then(|r| table_header(&doc[r.clone()]));
    let new_header = section.header.lines().next().unwrap_or_default();
    let old_rows = match old_header {
        Some(h) => relayout_rows(&old_rows, h, new_header),
        None => old_rows,
    };
    let rows = merge_rows(&old_rows, &section.rows, section.key_columns);
    let mut body = section.intro.clone();
    if !body.is_empty() && !body.ends_with("\n\n") {
        body.push('\n');
    }
    body.push_str(&section.header);
    for r in &rows {
        body.push_str(r);
        body.push('\n');
    }
    match range {
        Some(r) => format!("{}{body}{}", &doc[..r.start], &doc[r.end..]),
        None => {
            let mut out =
                if doc.trim().is_empty() { "# Benchmarks\n".to_string() } else { doc.to_string() };
            if !out.ends_with('\n') {
                out.push('\n');
            }
            out.push_str(&format!(
                "\n## {}\n\n{}\n{body}{}\n",
                section.heading,
                start_marker(section.name),
                end_marker(section.name)
            ));
            out
        }
    }
}

/// A table line from cells: `| a | b |`.
pub fn row(cells: &[String]) -> String {
    let mut line = String::from("|");
    for c in cells {
        if c.is_empty() {
            line.push_str(" |");
        } else {
            line.push_str(&format!(" {c} |"));
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    fn section(rows: &[&str]) -> Section<'static> {
        Section {
            name: "t",
            heading: "Things",
            intro: "- Updated: today, load 0.5\n".into(),
            header: "| stack | tool | s |\n|---|---|---:|\n".into(),
            rows: rows.iter().map(|r| (*r).to_string()).collect(),
            key_columns: 2,
        }
    }

    const OLD: &str = "# B\n\nhand text\n\n<!-- bench:t -->\n- Updated: yesterday\n\n\
                       | stack | tool | s (old header) |\n|---|---|---:|\n\
                       | a | floor | 1.0 |\n| a | fstack x | 2.0 |\n| a | peer | 3.0 |\n\
                       | b | floor | 4.0 |\n<!-- /bench:t -->\n\nnotes kept\n";

    #[test]
    fn merges_rows_by_key_and_keeps_the_rest_of_the_file() {
        let new = section(&[
            "| a | floor | 1.5 |",
            "| a | fstack x (no align) | 2.5 |",
            "| a | fstack y | 9 |",
        ]);
        let out = update_section(OLD, &new);
        assert_eq!(
            out,
            "# B\n\nhand text\n\n<!-- bench:t -->\n- Updated: today, load 0.5\n\n\
             | stack | tool | s |\n|---|---|---:|\n\
             | a | floor | 1.5 |\n| a | fstack x (no align) | 2.5 |\n| a | peer | 3.0 |\n\
             | a | fstack y | 9 |\n| b | floor | 4.0 |\n<!-- /bench:t -->\n\nnotes kept\n"
        );
        // A run that measured nothing new of the section keeps its rows.
        assert_eq!(table_rows(&out).len(), 5);
        // A new stack goes at the end.
        let out2 = update_section(&out, &section(&["| c | floor | 7 |"]));
        assert!(
            out2.contains("| b | floor | 4.0 |\n| c | floor | 7 |\n<!-- /bench:t -->"),
            "{out2}"
        );
    }

    #[test]
    fn kept_rows_follow_new_columns_by_name() {
        let new = Section {
            header: "| stack | tool | s | extra | note |\n|---|---|---:|---:|---|\n".into(),
            ..section(&["| a | fstack x | 2.5 | 7 | n |"])
        };
        let out = update_section(OLD, &new);
        assert_eq!(
            table_rows(&out),
            [
                "| a | floor | 1.0 | | |",
                "| a | fstack x | 2.5 | 7 | n |",
                "| a | peer | 3.0 | | |",
                "| b | floor | 4.0 | | |"
            ]
        );
        // A column dropped, one moved.
        let rows = relayout_rows(
            &["| a | 1 | 2 | 3 |".to_string()],
            "| k | x | y (px) | z |",
            "| k | z | y |",
        );
        assert_eq!(rows, ["| a | 3 | 2 |"]);
    }

    #[test]
    fn a_missing_section_is_appended_with_its_heading() {
        let doc = "# B\n\nsome text";
        let out = update_section(doc, &section(&["| a | floor | 1 |"]));
        assert_eq!(
            out,
            "# B\n\nsome text\n\n## Things\n\n<!-- bench:t -->\n- Updated: today, load 0.5\n\n\
             | stack | tool | s |\n|---|---|---:|\n| a | floor | 1 |\n<!-- /bench:t -->\n"
        );
        // Written again, the section is found and replaced, not appended twice.
        let again = update_section(&out, &section(&["| a | floor | 2 |"]));
        assert_eq!(again, out.replace("| a | floor | 1 |", "| a | floor | 2 |"));
        assert_eq!(update_section("", &section(&[])).lines().next(), Some("# Benchmarks"));
    }

    #[test]
    fn malformed_markers_never_lose_text() {
        // A start marker without an end: the section is appended, the old text stays.
        let broken = "# B\n\n<!-- bench:t -->\n| stack | tool | s |\n|---|---|---:|\n| a | floor | 1 |\n\nmore\n";
        assert_eq!(find_section(broken, "t"), None);
        let out = update_section(broken, &section(&["| a | floor | 2 |"]));
        assert!(out.starts_with(broken), "{out}");
        assert!(out.ends_with("<!-- bench:t -->\n- Updated: today, load 0.5\n\n| stack | tool | s |\n|---|---|---:|\n| a | floor | 2 |\n<!-- /bench:t -->\n"), "{out}");
        // The next run finds the appended section (the last start marker) and does
        // not append again.
        let next = update_section(&out, &section(&["| a | floor | 3 |"]));
        assert_eq!(next, out.replace("| a | floor | 2 |", "| a | floor | 3 |"));
        // An end marker alone, or a marker of another section, is not a section.
        let stray = "x\n<!-- /bench:t -->\n<!-- bench:u -->\n<!-- /bench:u -->\n";
        assert_eq!(find_section(stray, "t"), None);
        let out = update_section(stray, &section(&[]));
        assert!(out.starts_with(stray));
        assert_eq!(find_section(&out, "u"), Some(37..37));
    }

    #[test]
    fn the_repository_report_is_in_the_marker_format() {
        let path = crate::gen_testdata::workspace_root().join("docs/benchmarks.md");
        let doc = std::fs::read_to_string(&path).unwrap();
        for name in ["table", "big-tiff", "align"] {
            let range = find_section(&doc, name).unwrap_or_else(|| panic!("no section {name}"));
            let text = &doc[range];
            let header = text.lines().find(|l| l.starts_with('|')).unwrap();
            let rows = table_rows(text);
            assert!(!rows.is_empty(), "{name}");
            for r in rows {
                assert_eq!(cells(&r).len(), cells(header).len(), "{name}: {r}");
            }
        }
    }

    #[test]
    fn parses_cells_keys_and_rows() {
        assert_eq!(cells("| a | b c |  |"), ["a", "b c", ""]);
        assert_eq!(row_key("| s | fstack tiles (align, no crop) | 1 |", 2), ["s", "fstack tiles"]);
        assert_eq!(row_key("| s (x) y | t |", 2), ["s (x) y", "t"]);
        assert!(is_separator("|---|---:|:-:|"));
        assert!(!is_separator("| a | --- |"));
        let text = "intro\n\n| h | h |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n\n| other | table |\n";
        assert_eq!(table_rows(text), ["| 1 | 2 |", "| 3 | 4 |"]);
        assert_eq!(row(&["a".into(), String::new(), "b".into()]), "| a | | b |");
    }
}
