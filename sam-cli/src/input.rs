//! Reading JSONL and CSV input files row by row, keeping line numbers so a
//! bad row can be reported and skipped while the rest continues.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A file that cannot be read at all.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be opened or read.
    #[error("cannot read {path}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The file's type cannot be told from its name.
    #[error("cannot tell the format of {path}: name it .jsonl, .ndjson or .csv")]
    UnknownFormat { path: PathBuf },
    /// The CSV header is unreadable.
    #[error("invalid CSV header in {path}: {message}")]
    Header { path: PathBuf, message: String },
}

/// One input row: its line number and its fields as text. A CSV cell that
/// is empty is present with an empty value; a column the file lacks is absent.
#[derive(Debug, Clone)]
pub struct Row {
    /// 1-based line where the row starts.
    pub line: u64,
    /// Field values by name; JSON numbers and booleans become text, nulls are absent.
    pub fields: BTreeMap<String, String>,
}

impl Row {
    /// Returns a field, or an error naming the field and the line.
    pub fn required(&self, name: &str) -> Result<&str, String> {
        match self.fields.get(name) {
            Some(value) if !value.is_empty() => Ok(value),
            _ => Err(format!("line {}: missing field {name:?}", self.line)),
        }
    }
}

/// A row that could not be parsed; the rest of the file is still read.
#[derive(Debug, Clone)]
pub struct RowError {
    pub line: u64,
    pub message: String,
}

/// Reads every row of a `.jsonl`/`.ndjson` or `.csv` file.
pub fn read_rows(path: &Path) -> Result<Vec<Result<Row, RowError>>, InputError> {
    let extension = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    let bytes = std::fs::read(path).map_err(|source| InputError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_rows(path, extension.as_deref(), &bytes)
}

/// Parses rows from bytes already in memory; `extension` picks the format.
pub fn parse_rows(
    path: &Path,
    extension: Option<&str>,
    bytes: &[u8],
) -> Result<Vec<Result<Row, RowError>>, InputError> {
    match extension {
        Some("jsonl" | "ndjson") => Ok(read_jsonl(bytes)),
        Some("csv") => read_csv(path, bytes),
        _ => Err(InputError::UnknownFormat {
            path: path.to_path_buf(),
        }),
    }
}

fn read_jsonl(bytes: &[u8]) -> Vec<Result<Row, RowError>> {
    let mut rows = Vec::new();
    for (index, raw) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = index as u64 + 1;
        let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
        if raw.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let parsed = std::str::from_utf8(raw)
            .map_err(|err| RowError {
                line,
                message: format!(
                    "line {line} is not valid UTF-8 (byte {}); re-save the file as UTF-8",
                    err.valid_up_to() + 1
                ),
            })
            .and_then(|text| {
                serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).map_err(
                    |err| RowError {
                        line,
                        message: format!("line {line} is not a JSON object: {err}"),
                    },
                )
            })
            .map(|object| Row {
                line,
                fields: object
                    .into_iter()
                    .filter_map(|(key, value)| json_text(value).map(|text| (key, text)))
                    .collect(),
            });
        rows.push(parsed);
    }
    rows
}

fn json_text(value: serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::String(text) => Some(text),
        other => Some(other.to_string()),
    }
}

fn read_csv(path: &Path, bytes: &[u8]) -> Result<Vec<Result<Row, RowError>>, InputError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let headers = reader
        .byte_headers()
        .map_err(|err| InputError::Header {
            path: path.to_path_buf(),
            message: err.to_string(),
        })?
        .iter()
        .map(|h| {
            String::from_utf8_lossy(h)
                .trim_start_matches('\u{feff}')
                .trim()
                .to_owned()
        })
        .collect::<Vec<_>>();
    let mut rows = Vec::new();
    let mut record = csv::ByteRecord::new();
    // Whether the last record read ends in a field that spans lines.
    let mut ends_multiline = false;
    loop {
        let line = reader.position().line() + 1;
        match reader.read_byte_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {
                let line = record.position().map_or(line, |p| p.line());
                ends_multiline = record
                    .iter()
                    .next_back()
                    .is_some_and(|f| f.contains(&b'\n'));
                rows.push(csv_row(&headers, &record, line));
            }
            Err(err) => {
                let line = err.position().map_or(line, |p| p.line());
                ends_multiline = false;
                rows.push(Err(RowError {
                    line,
                    message: format!("line {line}: invalid CSV: {err}"),
                }));
                if !matches!(
                    err.kind(),
                    csv::ErrorKind::UnequalLengths { .. } | csv::ErrorKind::Utf8 { .. }
                ) {
                    break;
                }
            }
        }
    }
    // A quoted field that spans lines ends with a closing quote. When the
    // last field of the last record spans lines and the file does not end
    // with a quote, a quote opened in that field never closed, and the csv
    // reader put the rest of the file into it.
    let trimmed = bytes.trim_ascii_end();
    if ends_multiline && !trimmed.ends_with(b"\"") {
        if let Some(last) = rows.pop() {
            let line = match &last {
                Ok(row) => row.line,
                Err(err) => err.line,
            };
            rows.push(Err(RowError {
                line,
                message: format!(
                    "line {line}: a quote opened in the last field is never closed, so every line after it would be read as part of that field; close the quote, and write a quote inside a field as two quotes (\"\")"
                ),
            }));
        }
    }
    Ok(rows)
}

fn csv_row(headers: &[String], record: &csv::ByteRecord, line: u64) -> Result<Row, RowError> {
    let mut fields = BTreeMap::new();
    for (name, value) in headers.iter().zip(record.iter()) {
        let text = std::str::from_utf8(value).map_err(|err| RowError {
            line,
            message: format!(
                "line {line}: field {name:?} is not valid UTF-8 (byte {}); re-save the file as UTF-8",
                err.valid_up_to() + 1
            ),
        })?;
        fields.insert(name.clone(), text.to_owned());
    }
    Ok(Row { line, fields })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        (dir, path)
    }

    #[test]
    fn csv_keeps_quotes_and_newlines_in_fields() {
        let (_dir, path) = write(
            "a.csv",
            b"id,text\n1,\"She said \"\"hi\"\"\nand left, then\"\n2,plain\n",
        );
        let rows = read_rows(&path).unwrap();
        let first = rows[0].as_ref().unwrap();
        assert_eq!(first.fields["text"], "She said \"hi\"\nand left, then");
        assert_eq!(first.line, 2);
        let second = rows[1].as_ref().unwrap();
        assert_eq!(second.fields["text"], "plain");
        assert_eq!(second.line, 4);
    }

    #[test]
    fn unterminated_quote_is_reported_not_merged() {
        let (_dir, path) = write(
            "a.csv",
            b"id,text\n1,plain\n2,\"opens and never closes\n3,would be swallowed\n4,too\n",
        );
        let rows = read_rows(&path).unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].as_ref().unwrap().fields["text"], "plain");
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!(err.line, 3);
        assert!(err.message.contains("never closed"), "{}", err.message);
    }

    #[test]
    fn closed_multiline_last_field_is_kept() {
        let (_dir, path) = write("a.csv", b"id,text\n1,\"two\nlines\"\n");
        let rows = read_rows(&path).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].as_ref().unwrap().fields["text"], "two\nlines");
    }

    #[test]
    fn non_utf8_row_is_reported_and_rest_continues() {
        let (_dir, path) = write(
            "a.jsonl",
            b"{\"id\":\"1\"}\n{\"id\":\"\xff\"}\n{\"id\":\"3\"}\n",
        );
        let rows = read_rows(&path).unwrap();
        assert_eq!(rows.len(), 3);
        let err = rows[1].as_ref().unwrap_err();
        assert_eq!(err.line, 2);
        assert!(err.message.contains("UTF-8"), "{}", err.message);
        assert_eq!(rows[2].as_ref().unwrap().fields["id"], "3");
    }

    #[test]
    fn non_utf8_csv_field_names_the_line() {
        let (_dir, path) = write("a.csv", b"id,text\n1,ok\n2,bad\xfe\n3,ok\n");
        let rows = read_rows(&path).unwrap();
        assert!(rows[0].is_ok());
        let err = rows[1].as_ref().unwrap_err();
        assert!(err.message.starts_with("line 3"), "{}", err.message);
        assert!(rows[2].is_ok());
    }

    #[test]
    fn json_numbers_become_text() {
        let (_dir, path) = write("a.jsonl", b"{\"max_points\": 5, \"x\": null}\n\n");
        let rows = read_rows(&path).unwrap();
        assert_eq!(rows.len(), 1);
        let row = rows[0].as_ref().unwrap();
        assert_eq!(row.fields["max_points"], "5");
        assert!(!row.fields.contains_key("x"));
    }

    #[test]
    fn unknown_extension_is_rejected() {
        let (_dir, path) = write("a.txt", b"x");
        assert!(matches!(
            read_rows(&path),
            Err(InputError::UnknownFormat { .. })
        ));
    }
}
