//! A small RFC 4180 reader for spend uploads: records split by LF or CRLF, cells by commas,
//! a quoted cell may hold commas, line breaks and doubled quotes (`"say ""hi"""`). Spreadsheets
//! quote campaign names with commas in them, so splitting lines on commas is not enough.

use crate::error::FieldError;

use super::{FIELDS, REQUIRED};

/// One record and the line it starts on (1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub cells: Vec<String>,
}

/// The records of `text`, blank lines skipped; at most `max_records` (more is an error, so a
/// huge body is not split out in full before it is refused).
pub fn records(text: &str, max_records: usize) -> Result<Vec<Record>, FieldError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut line = 1;
    let mut start = 1;
    let mut quoted = false; // inside a quoted cell
    let mut was_quoted = false; // the current cell was quoted (text after its close is bad)
    let mut chars = text.chars().peekable();
    let mut finish = |cells: &mut Vec<String>, start: usize| -> Result<(), FieldError> {
        let blank = cells.len() == 1 && cells[0].is_empty();
        if !blank {
            if out.len() >= max_records {
                return Err(FieldError::new(
                    format!("line {start}"),
                    format!("the CSV holds more than {max_records} records"),
                ));
            }
            out.push(Record {
                line: start,
                cells: std::mem::take(cells),
            });
        }
        cells.clear();
        Ok(())
    };
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    cell.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    cell.push(c);
                }
                _ => cell.push(c),
            }
            continue;
        }
        match c {
            '"' if cell.trim().is_empty() && !was_quoted => {
                cell.clear(); // spaces before an opening quote are not part of the cell
                quoted = true;
                was_quoted = true;
            }
            '"' => {
                return Err(FieldError::new(
                    format!("line {line}"),
                    "a quote inside an unquoted cell, or text after a closing quote \
                     (quote the whole cell and double the quotes in it)",
                ))
            }
            ',' => {
                cells.push(std::mem::take(&mut cell));
                was_quoted = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                cells.push(std::mem::take(&mut cell));
                was_quoted = false;
                finish(&mut cells, start)?;
                line += 1;
                start = line;
            }
            _ if was_quoted && !c.is_whitespace() => {
                return Err(FieldError::new(
                    format!("line {line}"),
                    "text after a closing quote (quote the whole cell)",
                ))
            }
            _ if was_quoted => {} // spaces after a closing quote
            _ => cell.push(c),
        }
    }
    if quoted {
        return Err(FieldError::new(
            format!("line {start}"),
            "a quoted cell is never closed",
        ));
    }
    cells.push(cell);
    finish(&mut cells, start)?;
    Ok(out)
}

/// The field each column holds: the header's names (trimmed, any case, in any order) checked
/// against the spend fields, none twice, every required one present.
pub fn header(cells: &[String]) -> Result<Vec<&'static str>, FieldError> {
    let mut columns: Vec<&'static str> = Vec::with_capacity(cells.len());
    for (i, name) in cells.iter().enumerate() {
        let wanted = name.trim().to_ascii_lowercase();
        let Some(field) = FIELDS.iter().find(|f| **f == wanted) else {
            return Err(FieldError::new(
                format!("header, column {}", i + 1),
                format!(
                    "{name:?} is not a spend field (one of {})",
                    FIELDS.join(", ")
                ),
            ));
        };
        if columns.contains(field) {
            return Err(FieldError::new(
                format!("header, column {}", i + 1),
                format!("{field} appears twice"),
            ));
        }
        columns.push(field);
    }
    if let Some(missing) = REQUIRED.iter().find(|f| !columns.contains(f)) {
        return Err(FieldError::new(
            "header",
            format!(
                "has no {missing} column (required: {})",
                REQUIRED.join(", ")
            ),
        ));
    }
    Ok(columns)
}
