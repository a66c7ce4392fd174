//! Reading ChannelAttribution-format CSV files into a [`PathSet`].
//!
//! The file has a header row; the path, conversions, nulls and value columns
//! are found by name. Errors name the file line, the column and the reason.
//! The nulls and value columns are optional when left at their defaults
//! (ChannelAttribution also runs without them); a column named explicitly
//! must exist.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use attrib_models::datadriven::{PathError, PathField, PathSet, PathSetBuilder};
use indicatif::{ProgressBar, ProgressStyle};

/// Files larger than this get a reading progress bar.
const PROGRESS_MIN_BYTES: u64 = 8 << 20;

pub const DEFAULT_PATH_COLUMN: &str = "path";
pub const DEFAULT_CONVERSIONS_COLUMN: &str = "total_conversions";
pub const DEFAULT_NULLS_COLUMN: &str = "total_null";
pub const DEFAULT_VALUE_COLUMN: &str = "total_conversion_value";

/// Where the input is and how to read it.
#[derive(Debug, Clone)]
pub struct InputSpec {
    pub file: PathBuf,
    pub delimiter: u8,
    pub separator: String,
    pub path_column: String,
    pub conversions_column: String,
    /// `None`: use `total_null` if present, else no nulls.
    pub nulls_column: Option<String>,
    /// `None`: use `total_conversion_value` if present, else no values.
    pub value_column: Option<String>,
    pub ignore_value: bool,
    pub show_progress: bool,
}

struct Columns {
    path: usize,
    conversions: usize,
    nulls: Option<usize>,
    value: Option<usize>,
}

pub fn read_path_set(spec: &InputSpec) -> Result<PathSet> {
    let file = File::open(&spec.file)
        .with_context(|| format!("cannot open input file {}", spec.file.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = reading_bar(spec, size);
    let reader = bar.wrap_read(file);
    let result = read_from(reader, spec);
    bar.finish_and_clear();
    result.with_context(|| format!("cannot read {}", spec.file.display()))
}

fn reading_bar(spec: &InputSpec, size: u64) -> ProgressBar {
    if !spec.show_progress || size < PROGRESS_MIN_BYTES {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(size);
    if let Ok(style) =
        ProgressStyle::with_template("reading {bar:40} {bytes}/{total_bytes} ({eta})")
    {
        bar.set_style(style);
    }
    bar
}

fn read_from<R: Read>(reader: R, spec: &InputSpec) -> Result<PathSet> {
    let mut csv = csv::ReaderBuilder::new()
        .delimiter(spec.delimiter)
        .has_headers(true)
        .from_reader(reader);
    let headers = csv
        .byte_headers()
        .context("cannot read the header row")?
        .clone();
    let columns = locate_columns(&headers, spec)?;
    let mut builder = PathSetBuilder::new(&spec.separator, columns.value.is_some())?;
    let mut record = csv::ByteRecord::new();
    loop {
        let more = csv
            .read_byte_record(&mut record)
            .map_err(|err| anyhow!("malformed CSV: {err}"))?;
        if !more {
            break;
        }
        let line = record.position().map_or(0, |p| p.line());
        let field = |index: usize, name: &str| -> Result<&[u8]> {
            record
                .get(index)
                .ok_or_else(|| anyhow!("line {line}: column `{name}` is missing in this row"))
        };
        let path = std::str::from_utf8(field(columns.path, &spec.path_column)?).map_err(|_| {
            anyhow!(
                "line {line}: column `{}` is not valid UTF-8",
                spec.path_column
            )
        })?;
        let conversions = number(
            field(columns.conversions, &spec.conversions_column)?,
            line,
            &spec.conversions_column,
        )?;
        let nulls = match columns.nulls {
            Some(index) => number(field(index, nulls_name(spec))?, line, nulls_name(spec))?,
            None => 0.0,
        };
        let value = match columns.value {
            Some(index) => Some(number(
                field(index, value_name(spec))?,
                line,
                value_name(spec),
            )?),
            None => None,
        };
        builder
            .push(path, conversions, nulls, value)
            .map_err(|err| row_error(err, line, spec))?;
    }
    if builder.is_empty() {
        bail!("the file has a header but no data rows");
    }
    Ok(builder.finish())
}

fn nulls_name(spec: &InputSpec) -> &str {
    spec.nulls_column.as_deref().unwrap_or(DEFAULT_NULLS_COLUMN)
}

fn value_name(spec: &InputSpec) -> &str {
    spec.value_column.as_deref().unwrap_or(DEFAULT_VALUE_COLUMN)
}

fn locate_columns(headers: &csv::ByteRecord, spec: &InputSpec) -> Result<Columns> {
    let find = |name: &str| headers.iter().position(|h| h == name.as_bytes());
    let available = || {
        headers
            .iter()
            .map(|h| format!("`{}`", String::from_utf8_lossy(h)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let required = |name: &str| {
        find(name).ok_or_else(|| {
            anyhow!(
                "header has no column `{name}` (columns: {}); check --delimiter and the column options",
                available()
            )
        })
    };
    let optional = |explicit: &Option<String>, default: &str| -> Result<Option<usize>> {
        match explicit {
            Some(name) => required(name).map(Some),
            None => Ok(find(default)),
        }
    };
    Ok(Columns {
        path: required(&spec.path_column)?,
        conversions: required(&spec.conversions_column)?,
        nulls: optional(&spec.nulls_column, DEFAULT_NULLS_COLUMN)?,
        value: if spec.ignore_value {
            None
        } else {
            optional(&spec.value_column, DEFAULT_VALUE_COLUMN)?
        },
    })
}

fn number(raw: &[u8], line: u64, column: &str) -> Result<f64> {
    let text = std::str::from_utf8(raw).unwrap_or("").trim();
    if text.is_empty() {
        bail!("line {line}: column `{column}` is empty (expected a number)");
    }
    text.parse::<f64>()
        .map_err(|_| anyhow!("line {line}: column `{column}` is not a number: `{text}`"))
}

/// Restates a core validation error with the file line instead of the row.
fn row_error(err: PathError, line: u64, spec: &InputSpec) -> anyhow::Error {
    match err {
        PathError::EmptyPath { .. } => {
            anyhow!("line {line}: column `{}` is empty", spec.path_column)
        }
        PathError::EmptyChannel { touchpoint, .. } => anyhow!(
            "line {line}: column `{}` has an empty channel name at touchpoint {touchpoint} \
             (separator `{}`)",
            spec.path_column,
            spec.separator
        ),
        PathError::InvalidNumber { field, value, .. } => {
            let column = match field {
                PathField::Path => spec.path_column.as_str(),
                PathField::Conversions => spec.conversions_column.as_str(),
                PathField::Nulls => nulls_name(spec),
                PathField::Value => value_name(spec),
            };
            anyhow!("line {line}: column `{column}` must be a finite number >= 0, got {value}")
        }
        other => anyhow!("line {line}: {other}"),
    }
}

/// Checks that a path exists before heavier work (clearer than a late error).
pub fn ensure_file(path: &Path) -> Result<()> {
    if !path.is_file() {
        bail!("input file {} does not exist", path.display());
    }
    Ok(())
}
