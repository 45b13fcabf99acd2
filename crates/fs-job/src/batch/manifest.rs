//! Batch manifests: the stacks of a batch named one by one, in CSV or JSON lines.
//!
//! CSV (`.csv`): a header row holding `id` and `frames`, optionally `output`, and
//! any further columns, which are per-stack options by their column name (an empty
//! cell sets nothing). Fields may be quoted (`"a, b"`, `""` for a quote). `frames`
//! is a folder, a glob (`shots/s1_*.jpg`), or a list of files separated by `;`.
//!
//! JSON lines (`.jsonl`, `.ndjson`, `.json`, or any other file whose first
//! character is `{`): one object a line, `{"id": "s1", "frames": "folder" |
//! "glob*.jpg" | ["a.jpg", "b.jpg"], "output": "s1.tif", ...options}`; every other
//! key is an option, its value any JSON value. Blank lines and lines starting with
//! `#` are skipped in both formats.
//!
//! Relative frame paths (and globs) are inside the manifest's folder; a relative
//! `output` is inside the batch's output folder, and without one the output is
//! named as for discovered stacks (`OUT/<id with / as __>.<ext of the first
//! frame>`). A folder's frames and a glob's matches are in natural order; a list
//! keeps its order. Errors name the manifest and the line.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fs_core::{CoreError, FileFormat};
use serde_json::Value;

use super::{BatchStack, OutputExt, output_for};
use crate::{JobError, Result};

/// The stacks a manifest names, in its order (see the module docs); outputs
/// without a folder of their own go in `out_dir`. Two stacks with one id or one
/// output are an error naming the line of the second.
pub fn read_manifest(path: &Path, out_dir: &Path) -> Result<Vec<BatchStack>> {
    let text = std::fs::read_to_string(path).map_err(|e| JobError::io(path, e))?;
    let base = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let ext = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase());
    let json = match ext.as_deref() {
        Some("jsonl" | "ndjson" | "json") => true,
        Some("csv") => false,
        _ => text.trim_start().starts_with('{'),
    };
    let entries = if json { json_entries(path, &text)? } else { csv_entries(path, &text)? };
    let error = |line, message: String| JobError::Manifest { path: path.into(), line, message };
    let mut stacks: Vec<BatchStack> = Vec::with_capacity(entries.len());
    let mut lines: Vec<usize> = Vec::with_capacity(entries.len());
    for entry in entries {
        let line = entry.line;
        check_id(&entry.id).map_err(|m| error(line, m))?;
        let frames = resolve_frames(&entry.frames, base).map_err(|m| error(line, m))?;
        let output = match &entry.output {
            Some(o) if !o.is_empty() => out_dir.join(o),
            _ => output_for(out_dir, &entry.id, &frames[0], &OutputExt::FirstFrame),
        };
        if FileFormat::from_path(&output).is_none() {
            return Err(error(
                line,
                format!(
                    "output {}: unknown image extension; use .jpg, .png or .tif",
                    output.display()
                ),
            ));
        }
        for (other, &other_line) in stacks.iter().zip(&lines) {
            if other.id == entry.id {
                return Err(error(
                    line,
                    format!("id `{}` is already on line {other_line}", entry.id),
                ));
            }
            if other.output == output {
                return Err(error(
                    line,
                    format!(
                        "output {} is already that of `{}` on line {other_line}",
                        output.display(),
                        other.id
                    ),
                ));
            }
        }
        stacks.push(BatchStack { id: entry.id, frames, output, options: entry.options });
        lines.push(line);
    }
    Ok(stacks)
}

/// What one line of a manifest says, before its paths are resolved.
struct Entry {
    line: usize,
    id: String,
    frames: Frames,
    output: Option<String>,
    options: BTreeMap<String, Value>,
}

/// A stack's frames as the manifest gives them.
enum Frames {
    /// A folder, a glob, or one file.
    One(String),
    /// Files, in this order.
    List(Vec<String>),
}

/// An id names a file: it must be a relative path of plain names.
fn check_id(id: &str) -> std::result::Result<(), String> {
    if id.is_empty() {
        return Err("the id is empty".into());
    }
    let bad = id.starts_with('/')
        || id.contains('\\')
        || id.split('/').any(|part| part.is_empty() || part == "." || part == "..");
    if bad {
        return Err(format!(
            "id `{id}`: must be names separated by `/`, without `.`, `..`, `\\` or a leading `/`"
        ));
    }
    Ok(())
}

/// The frame files of `frames`, relative paths inside `base`.
fn resolve_frames(frames: &Frames, base: &Path) -> std::result::Result<Vec<PathBuf>, String> {
    let files = match frames {
        Frames::List(list) => {
            if list.is_empty() {
                return Err("the frame list is empty".into());
            }
            let files: Vec<PathBuf> = list.iter().map(|f| base.join(f)).collect();
            for f in &files {
                if !f.is_file() {
                    return Err(format!("{}: no such frame file", f.display()));
                }
            }
            files
        }
        Frames::One(spec) if spec.contains(['*', '?', '[']) => {
            let pattern = base.join(spec);
            let pattern = pattern.to_string_lossy();
            let paths = glob::glob(&pattern).map_err(|e| format!("glob `{spec}`: {e}"))?;
            let mut files = Vec::new();
            for p in paths {
                let p = p.map_err(|e| format!("glob `{spec}`: {e}"))?;
                if p.is_file() && FileFormat::from_path(&p).is_some() {
                    files.push(p);
                }
            }
            if files.is_empty() {
                return Err(format!("glob `{spec}` matches no frame file (.jpg, .png, .tif)"));
            }
            fs_core::sort_natural(&mut files);
            files
        }
        Frames::One(spec) => {
            let path = base.join(spec);
            if path.is_dir() {
                fs_core::list_frames(&path).map_err(|e| match e {
                    CoreError::EmptyFolder { .. } => {
                        format!("{}: the folder holds no frames (.jpg, .png, .tif)", path.display())
                    }
                    e => e.to_string(),
                })?
            } else if path.is_file() {
                vec![path]
            } else {
                return Err(format!("{}: no such folder or frame file", path.display()));
            }
        }
    };
    if let Some(f) = files.iter().find(|f| FileFormat::from_path(f).is_none()) {
        return Err(format!("{}: not a frame file (.jpg, .png, .tif)", f.display()));
    }
    Ok(files)
}

fn json_entries(path: &Path, text: &str) -> Result<Vec<Entry>> {
    let mut entries = Vec::new();
    for (k, raw) in text.lines().enumerate() {
        let line = k + 1;
        let error = |message: String| JobError::Manifest { path: path.into(), line, message };
        let trimmed = raw.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let value: Value =
            serde_json::from_str(trimmed).map_err(|e| error(format!("not JSON: {e}")))?;
        let Value::Object(mut object) = value else {
            return Err(error(
                "each line must be a JSON object {\"id\": ..., \"frames\": ...}".into(),
            ));
        };
        let id = match object.remove("id") {
            Some(Value::String(s)) => s,
            Some(Value::Number(n)) => n.to_string(),
            Some(_) => return Err(error("`id` must be a string".into())),
            None => return Err(error("no `id`".into())),
        };
        let frames = match object.remove("frames") {
            Some(Value::String(s)) => Frames::One(s),
            Some(Value::Array(items)) => Frames::List(
                items
                    .into_iter()
                    .map(|v| match v {
                        Value::String(s) => Ok(s),
                        _ => Err(error(
                            "`frames` must be a folder, a glob or a list of file names".into(),
                        )),
                    })
                    .collect::<Result<_>>()?,
            ),
            Some(_) => {
                return Err(error(
                    "`frames` must be a folder, a glob or a list of file names".into(),
                ));
            }
            None => return Err(error(format!("stack `{id}`: no `frames`"))),
        };
        let output = match object.remove("output") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s),
            Some(_) => return Err(error("`output` must be a file name".into())),
        };
        entries.push(Entry { line, id, frames, output, options: object.into_iter().collect() });
    }
    Ok(entries)
}

fn csv_entries(path: &Path, text: &str) -> Result<Vec<Entry>> {
    let records = csv_records(text).map_err(|(line, message)| JobError::Manifest {
        path: path.into(),
        line,
        message,
    })?;
    let mut records = records.into_iter();
    let Some((header_line, header)) = records.next() else {
        return Ok(Vec::new());
    };
    let error = |line, message: String| JobError::Manifest { path: path.into(), line, message };
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(id_col), Some(frames_col)) = (column("id"), column("frames")) else {
        return Err(error(
            header_line,
            "the header row must name the columns `id` and `frames` (and optionally `output` \
             and options)"
                .into(),
        ));
    };
    let output_col = column("output");
    let mut entries = Vec::new();
    for (line, record) in records {
        if record.len() != header.len() {
            return Err(error(
                line,
                format!("{} fields, but the header has {}", record.len(), header.len()),
            ));
        }
        let frames = record[frames_col].trim();
        if frames.is_empty() {
            return Err(error(line, "`frames` is empty".into()));
        }
        let frames = if frames.contains(';') {
            let list = frames.split(';').map(str::trim).filter(|f| !f.is_empty());
            Frames::List(list.map(String::from).collect())
        } else {
            Frames::One(frames.to_string())
        };
        let mut options = BTreeMap::new();
        for (k, (name, cell)) in header.iter().zip(&record).enumerate() {
            if ![Some(id_col), Some(frames_col), output_col].contains(&Some(k))
                && !cell.trim().is_empty()
            {
                options.insert(name.trim().to_string(), Value::String(cell.trim().to_string()));
            }
        }
        entries.push(Entry {
            line,
            id: record[id_col].trim().to_string(),
            frames,
            output: output_col.map(|c| record[c].trim().to_string()),
            options,
        });
    }
    Ok(entries)
}

/// One CSV record: the line it starts on, and its fields.
type Record = (usize, Vec<String>);

/// A line of the manifest, and what is wrong there.
type LineError = (usize, String);

/// The records of a CSV text, each with the line it starts on (blank lines and
/// `#` lines skipped). A quoted field may hold commas, newlines and `""`.
fn csv_records(text: &str) -> std::result::Result<Vec<Record>, LineError> {
    let mut records = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while chars.peek().is_some() {
        let start = line;
        if matches!(chars.peek(), Some('\n' | '\r')) || chars.peek() == Some(&'#') {
            // A blank or comment line.
            for c in chars.by_ref() {
                if c == '\n' {
                    line += 1;
                    break;
                }
            }
            continue;
        }
        let mut fields = vec![String::new()];
        let mut quoted = false;
        loop {
            let Some(c) = chars.next() else {
                if quoted {
                    return Err((start, "a quoted field is not closed".into()));
                }
                break;
            };
            let field = fields.last_mut().expect("one field at least");
            match c {
                '"' if quoted && chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' if quoted => quoted = false,
                '"' if field.trim().is_empty() => {
                    field.clear();
                    quoted = true;
                }
                ',' if !quoted => fields.push(String::new()),
                '\r' if !quoted => {}
                '\n' => {
                    line += 1;
                    if !quoted {
                        break;
                    }
                    field.push('\n');
                }
                c => field.push(c),
            }
        }
        records.push((start, fields));
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_fields_quotes_and_lines() {
        let text = "id,frames\n\n# a comment\n\"a, b\",\"x \"\"y\"\"\"\r\nc,\"two\nlines\"\nd,e";
        let r = csv_records(text).unwrap();
        let got: Vec<(usize, Vec<&str>)> =
            r.iter().map(|(l, f)| (*l, f.iter().map(String::as_str).collect())).collect();
        assert_eq!(
            got,
            [
                (1, vec!["id", "frames"]),
                (4, vec!["a, b", "x \"y\""]),
                (5, vec!["c", "two\nlines"]),
                (7, vec!["d", "e"]),
            ]
        );
        assert_eq!(csv_records("a,\"b\nc").unwrap_err().0, 1);
    }

    #[test]
    fn ids_must_be_plain_relative_names() {
        assert!(check_id("s1/burst2").is_ok());
        for bad in ["", "/abs", "a/../b", "a//b", "a\\b", "."] {
            assert!(check_id(bad).is_err(), "{bad}");
        }
    }
}
