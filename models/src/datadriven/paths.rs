//! The aggregated-journey input shared by every attribution model.
//!
//! Rows follow the ChannelAttribution format: a path string of channel names
//! joined by a separator (`"search > email > display"`), the number of
//! journeys along that path that converted (`total_conversions`), the number
//! that did not (`total_null`) and optionally their summed conversion value
//! (`total_conversion_value`).
//!
//! Channel names are trimmed of surrounding whitespace and interned to dense
//! [`ChannelId`]s in order of first appearance, so the models work on small
//! integers and report channels in a stable, input-defined order.
//!
//! Validation is stricter than ChannelAttribution, which silently skips empty
//! tokens (`"a > > b"` is `a > b` there) and accepts only integer counts: here
//! an empty path or empty channel name is an error naming the row, and counts
//! may be any finite non-negative number (weighted journeys).

use std::fmt;

use thiserror::Error;

use super::interner::ChannelInterner;

/// Dense index of a channel within one [`PathSet`].
pub type ChannelId = u32;

/// Which field of an input row a [`PathError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PathField {
    Path,
    Conversions,
    Nulls,
    Value,
}

impl fmt::Display for PathField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PathField::Path => "path",
            PathField::Conversions => "conversions",
            PathField::Nulls => "nulls",
            PathField::Value => "value",
        })
    }
}

/// Why an input row was rejected. `row` is the 1-based index of the row among
/// the rows pushed into the [`PathSetBuilder`] (a CSV reader adds its header
/// offset when reporting file lines).
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PathError {
    #[error("the channel separator must not be empty")]
    EmptySeparator,
    #[error("row {row}: field `path` is empty")]
    EmptyPath { row: usize },
    #[error("row {row}: field `path` has an empty channel name at touchpoint {touchpoint}")]
    EmptyChannel { row: usize, touchpoint: usize },
    #[error("row {row}: field `{field}` must be a finite number >= 0, got {value}")]
    InvalidNumber {
        row: usize,
        field: PathField,
        value: f64,
    },
    #[error("row {row}: field `value` is missing but the path set carries conversion values")]
    MissingValue { row: usize },
    #[error("row {row}: field `value` is given but the path set was built without values")]
    UnexpectedValue { row: usize },
    #[error("too many distinct channels (more than {max})")]
    TooManyChannels { max: usize },
}

/// Aggregated journeys with interned channels. Built with [`PathSetBuilder`].
#[derive(Debug, Clone, PartialEq)]
pub struct PathSet {
    channel_names: Vec<String>,
    /// `touches[offsets[i]..offsets[i + 1]]` is the channel sequence of row `i`.
    offsets: Vec<usize>,
    touches: Vec<ChannelId>,
    conversions: Vec<f64>,
    nulls: Vec<f64>,
    values: Option<Vec<f64>>,
}

impl PathSet {
    /// Parses rows of `(path, conversions, nulls, value)` in one call.
    pub fn parse<'a, I>(separator: &str, has_values: bool, rows: I) -> Result<Self, PathError>
    where
        I: IntoIterator<Item = (&'a str, f64, f64, Option<f64>)>,
    {
        let rows = rows.into_iter();
        let mut builder = PathSetBuilder::new(separator, has_values)?;
        builder.reserve(rows.size_hint().0);
        for (path, conversions, nulls, value) in rows {
            builder.push(path, conversions, nulls, value)?;
        }
        Ok(builder.finish())
    }

    /// Number of rows (distinct paths as given; duplicates are kept as is).
    pub fn len(&self) -> usize {
        self.conversions.len()
    }

    pub fn is_empty(&self) -> bool {
        self.conversions.is_empty()
    }

    /// Channel names indexed by [`ChannelId`].
    pub fn channel_names(&self) -> &[String] {
        &self.channel_names
    }

    pub fn channel_count(&self) -> usize {
        self.channel_names.len()
    }

    /// Channel sequence of row `row`. Panics if `row >= len()`.
    pub fn path(&self, row: usize) -> &[ChannelId] {
        &self.touches[self.offsets[row]..self.offsets[row + 1]]
    }

    pub fn conversions(&self) -> &[f64] {
        &self.conversions
    }

    pub fn nulls(&self) -> &[f64] {
        &self.nulls
    }

    /// Per-row conversion values, when the input has them.
    pub fn values(&self) -> Option<&[f64]> {
        self.values.as_deref()
    }

    pub fn has_values(&self) -> bool {
        self.values.is_some()
    }

    pub fn total_conversions(&self) -> f64 {
        self.conversions.iter().sum()
    }

    pub fn total_value(&self) -> Option<f64> {
        self.values.as_ref().map(|v| v.iter().sum())
    }

    /// Length of the longest path, in touchpoints.
    pub fn max_path_len(&self) -> usize {
        self.offsets
            .windows(2)
            .map(|w| w[1] - w[0])
            .max()
            .unwrap_or(0)
    }
}

/// Incremental, validating construction of a [`PathSet`], row by row (so a
/// reader can stream a large file without holding its text).
#[derive(Debug)]
pub struct PathSetBuilder {
    separator: String,
    channel_index: ChannelInterner,
    set: PathSet,
}

impl PathSetBuilder {
    /// `separator` splits channels (e.g. `">"`; surrounding whitespace is
    /// trimmed from names). With `has_values`, every row must carry a value.
    pub fn new(separator: &str, has_values: bool) -> Result<Self, PathError> {
        if separator.is_empty() {
            return Err(PathError::EmptySeparator);
        }
        Ok(Self {
            separator: separator.to_owned(),
            channel_index: ChannelInterner::default(),
            set: PathSet {
                channel_names: Vec::new(),
                offsets: vec![0],
                touches: Vec::new(),
                conversions: Vec::new(),
                nulls: Vec::new(),
                values: has_values.then(Vec::new),
            },
        })
    }

    /// Makes room for `rows` more rows (a hint; growing is automatic).
    pub fn reserve(&mut self, rows: usize) {
        let set = &mut self.set;
        set.offsets.reserve(rows);
        set.conversions.reserve(rows);
        set.nulls.reserve(rows);
        if let Some(values) = set.values.as_mut() {
            values.reserve(rows);
        }
        // Journeys average a handful of touchpoints.
        set.touches.reserve(rows.saturating_mul(4));
    }

    /// Rows pushed so far.
    pub fn len(&self) -> usize {
        self.set.len()
    }

    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }

    /// Validates and appends one row. On error nothing is appended.
    pub fn push(
        &mut self,
        path: &str,
        conversions: f64,
        nulls: f64,
        value: Option<f64>,
    ) -> Result<(), PathError> {
        let row = self.set.len() + 1;
        check_number(row, PathField::Conversions, conversions)?;
        check_number(row, PathField::Nulls, nulls)?;
        match (&self.set.values, value) {
            (Some(_), None) => return Err(PathError::MissingValue { row }),
            (None, Some(_)) => return Err(PathError::UnexpectedValue { row }),
            (Some(_), Some(v)) => check_number(row, PathField::Value, v)?,
            (None, None) => {}
        }
        self.push_channels(row, path)?;
        self.set.conversions.push(conversions);
        self.set.nulls.push(nulls);
        if let (Some(values), Some(v)) = (self.set.values.as_mut(), value) {
            values.push(v);
        }
        Ok(())
    }

    pub fn finish(self) -> PathSet {
        self.set
    }

    fn push_channels(&mut self, row: usize, path: &str) -> Result<(), PathError> {
        if path.trim_ascii().is_empty() {
            return Err(PathError::EmptyPath { row });
        }
        let touches_before = self.set.touches.len();
        let channels_before = self.set.channel_names.len();
        let separator = self.separator.as_bytes();
        let mut failure = None;
        let mut rest = path;
        let mut touchpoint = 0;
        loop {
            touchpoint += 1;
            // Single-byte separators (the common `>`) take the fast byte scan.
            let cut = if separator.len() == 1 {
                rest.bytes().position(|b| b == separator[0])
            } else {
                rest.find(self.separator.as_str())
            };
            let (raw, next) = match cut {
                Some(at) => (&rest[..at], Some(&rest[at + separator.len()..])),
                None => (rest, None),
            };
            let name = raw.trim_ascii();
            if name.is_empty() {
                failure = Some(PathError::EmptyChannel { row, touchpoint });
                break;
            }
            let id = match self.channel_index.get(name, &self.set.channel_names) {
                Some(id) => id,
                None => match self.channel_index.intern(&mut self.set.channel_names, name) {
                    Ok(id) => id,
                    Err(err) => {
                        failure = Some(err);
                        break;
                    }
                },
            };
            self.set.touches.push(id);
            match next {
                Some(next) => rest = next,
                None => break,
            }
        }
        if let Some(err) = failure {
            // Roll back so a rejected row leaves no touch or channel behind.
            self.set.touches.truncate(touches_before);
            for name in self.set.channel_names.drain(channels_before..) {
                self.channel_index.forget(&name);
            }
            return Err(err);
        }
        self.set.offsets.push(self.set.touches.len());
        Ok(())
    }
}

fn check_number(row: usize, field: PathField, value: f64) -> Result<(), PathError> {
    if value.is_finite() && value >= 0.0 {
        Ok(())
    } else {
        Err(PathError::InvalidNumber { row, field, value })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interns_channels_in_first_appearance_order_and_trims_names() {
        let set = PathSet::parse(
            ">",
            false,
            [("b > a", 1.0, 0.0, None), (" a>c ", 0.0, 2.0, None)],
        )
        .unwrap();
        assert_eq!(set.channel_names(), ["b", "a", "c"]);
        assert_eq!(set.path(0), [0, 1]);
        assert_eq!(set.path(1), [1, 2]);
        assert_eq!(set.total_conversions(), 1.0);
        assert_eq!(set.max_path_len(), 2);
    }

    #[test]
    fn interning_survives_cache_collisions_and_shared_prefixes() {
        // Thousands of names (far more than cache slots), long ones sharing
        // their first 8 bytes and length, short ones of every length.
        let names: Vec<String> = (0..3000)
            .map(|i| format!("campaign_{i:05}"))
            .chain((0..600).map(|i| format!("c{i}")))
            .collect();
        let n = names.len();
        let rows: Vec<String> = (0..2 * n)
            .map(|i| {
                format!(
                    "{} > {} > {}",
                    names[i % n],
                    names[(i * 7) % n],
                    names[(i * 13 + 5) % n]
                )
            })
            .collect();
        let set = PathSet::parse(
            ">",
            false,
            rows.iter().map(|r| (r.as_str(), 1.0, 0.0, None)),
        )
        .unwrap();
        assert_eq!(set.channel_count(), n);
        for (row, text) in rows.iter().enumerate() {
            let rebuilt: Vec<&str> = set
                .path(row)
                .iter()
                .map(|&c| set.channel_names()[c as usize].as_str())
                .collect();
            assert_eq!(rebuilt.join(" > "), *text);
        }
    }

    #[test]
    fn multi_character_separator_splits_exactly() {
        let set = PathSet::parse(" > ", false, [("x > y>z", 1.0, 0.0, None)]).unwrap();
        assert_eq!(set.channel_names(), ["x", "y>z"]);
    }

    #[test]
    fn rejects_empty_channel_with_row_and_touchpoint() {
        let err = PathSet::parse(
            ">",
            false,
            [("a", 1.0, 0.0, None), ("a > > b", 1.0, 0.0, None)],
        )
        .unwrap_err();
        assert_eq!(
            err,
            PathError::EmptyChannel {
                row: 2,
                touchpoint: 2
            }
        );
        assert!(err.to_string().contains("row 2"));
    }

    #[test]
    fn rejects_bad_numbers_naming_the_field() {
        let err = PathSet::parse(">", false, [("a", -1.0, 0.0, None)]).unwrap_err();
        assert!(matches!(
            err,
            PathError::InvalidNumber {
                row: 1,
                field: PathField::Conversions,
                ..
            }
        ));
        let err = PathSet::parse(">", true, [("a", 1.0, f64::NAN, Some(1.0))]).unwrap_err();
        assert!(matches!(
            err,
            PathError::InvalidNumber {
                field: PathField::Nulls,
                ..
            }
        ));
        assert!(err.to_string().contains("`nulls`"));
    }

    #[test]
    fn value_presence_must_match_the_builder() {
        let err = PathSet::parse(">", true, [("a", 1.0, 0.0, None)]).unwrap_err();
        assert_eq!(err, PathError::MissingValue { row: 1 });
        let err = PathSet::parse(">", false, [("a", 1.0, 0.0, Some(2.0))]).unwrap_err();
        assert_eq!(err, PathError::UnexpectedValue { row: 1 });
    }

    #[test]
    fn failed_row_leaves_builder_unchanged() {
        let mut builder = PathSetBuilder::new(">", false).unwrap();
        builder.push("a > b", 1.0, 0.0, None).unwrap();
        assert!(builder.push("c > ", 1.0, 0.0, None).is_err());
        builder.push("d", 1.0, 0.0, None).unwrap();
        let set = builder.finish();
        assert_eq!(set.len(), 2);
        assert_eq!(set.path(1), [2]);
        assert_eq!(set.channel_names(), ["a", "b", "d"]);
    }

    #[test]
    fn rejects_empty_path_and_separator() {
        assert_eq!(
            PathSet::parse(">", false, [("  ", 1.0, 0.0, None)]).unwrap_err(),
            PathError::EmptyPath { row: 1 }
        );
        assert_eq!(
            PathSetBuilder::new("", false).unwrap_err(),
            PathError::EmptySeparator
        );
    }
}
