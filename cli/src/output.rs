//! Rendering model results as a text table, JSON or CSV.
//!
//! The table puts channels in rows and models in columns (conversions, and
//! value when the input has values) so models can be compared at a glance.
//! JSON keeps each model's full result (including Markov removal effects and
//! ordered-Shapley positions); CSV is long format, one row per model and
//! channel, for spreadsheets and scripts.

use std::fmt::Write as _;

use attrib_models::datadriven::ChannelCredits;
use serde::Serialize;

/// One model's result, with optional model-specific details for JSON.
#[derive(Debug, Serialize)]
pub struct ModelReport {
    #[serde(flatten)]
    pub credits: ChannelCredits,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}

pub fn to_json(reports: &[ModelReport]) -> serde_json::Result<String> {
    serde_json::to_string_pretty(&serde_json::json!({ "models": reports }))
}

pub fn to_csv(reports: &[ModelReport]) -> String {
    let mut out = String::from("model,channel,conversions,value\n");
    for report in reports {
        for channel in &report.credits.channels {
            let value = channel.value.map(|v| v.to_string()).unwrap_or_default();
            let _ = writeln!(
                out,
                "{},{},{},{}",
                report.credits.model,
                csv_field(&channel.channel),
                channel.conversions,
                value
            );
        }
    }
    out
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

pub fn to_table(reports: &[ModelReport]) -> String {
    let Some(first) = reports.first() else {
        return String::new();
    };
    let with_value = first.credits.total_value.is_some();
    let mut header = vec!["channel".to_owned()];
    for report in reports {
        header.push(format!("{} conv", report.credits.model));
        if with_value {
            header.push(format!("{} value", report.credits.model));
        }
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for (i, channel) in first.credits.channels.iter().enumerate() {
        let mut row = vec![channel.channel.clone()];
        for report in reports {
            let credit = &report.credits.channels[i];
            row.push(format!("{:.2}", credit.conversions));
            if with_value {
                row.push(format!("{:.2}", credit.value.unwrap_or(0.0)));
            }
        }
        rows.push(row);
    }
    let mut total = vec!["TOTAL".to_owned()];
    for report in reports {
        let sum: f64 = report.credits.channels.iter().map(|c| c.conversions).sum();
        total.push(format!("{sum:.2}"));
        if with_value {
            let sum: f64 = report.credits.channels.iter().filter_map(|c| c.value).sum();
            total.push(format!("{sum:.2}"));
        }
    }
    rows.push(total);
    let widths: Vec<usize> = (0..header.len())
        .map(|col| {
            rows.iter()
                .map(|r| r[col].chars().count())
                .chain([header[col].chars().count()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let line = |cells: &[String], out: &mut String| {
        let rendered: Vec<String> = cells
            .iter()
            .enumerate()
            .map(|(col, cell)| {
                if col == 0 {
                    format!("{cell:<width$}", width = widths[col])
                } else {
                    format!("{cell:>width$}", width = widths[col])
                }
            })
            .collect();
        out.push_str(rendered.join("  ").trim_end());
        out.push('\n');
    };
    line(&header, &mut out);
    let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
    line(&rule, &mut out);
    for row in &rows {
        line(row, &mut out);
    }
    out
}
