use super::*;
use crate::currency::{Rate, RateTable};

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

fn rows_err(result: Result<Vec<SpendRow>, SpendUploadError>) -> Vec<RowError> {
    match result {
        Err(SpendUploadError::Rows(errors)) => errors,
        other => panic!("expected row errors, got {other:?}"),
    }
}

fn body_err(result: Result<Vec<SpendRow>, SpendUploadError>) -> FieldError {
    match result {
        Err(SpendUploadError::Body(e)) => e,
        other => panic!("expected a body error, got {other:?}"),
    }
}

#[test]
fn json_rows_are_normalised_like_touches() {
    let rows = parse_json(
        br#"[{"day":"2026-03-01","source":" Google ","campaign":" spring ","spend":120.5,
              "currency":"USD","impressions":1000,"clicks":"40"},
             {"day":"2026-03-01","source":"google","campaign":"spring","ad_group":"a1",
              "spend":"10.25","currency":"EUR","clicks":null}]"#,
    );
    // Two rows of one day, source and campaign differ by their ad group.
    let rows = rows.expect("good rows");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].source, "google", "lowercased as touch sources are");
    assert_eq!(rows[0].campaign, "spring", "trimmed as touch campaigns are");
    assert_eq!(rows[0].ad_group, "");
    assert_eq!(rows[0].spend, 120.5);
    assert_eq!(rows[0].impressions, Some(1000));
    assert_eq!(rows[0].clicks, Some(40));
    assert_eq!(rows[1].spend, 10.25);
    assert_eq!(rows[1].clicks, None);
}

#[test]
fn every_bad_field_of_every_row_is_named() {
    let errors = rows_err(parse_json(
        br#"[{"day":"2026-03-01","source":"g","campaign":"c","spend":1,"currency":"USD"},
             {"day":"2026-3-1","source":"","campaign":"c","spend":-1,"currency":"usd"},
             {"day":"2026-03-02","source":"g","campaign":"c","spend":"1e3","currency":"USD",
              "clicks":-2,"impresions":5},
             "not an object",
             {"source":"g"}]"#,
    ));
    let got: Vec<(usize, &str)> = errors.iter().map(|e| (e.row, e.field.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (2, "day"),
            (2, "source"),
            (2, "spend"),
            (2, "currency"),
            (3, "impresions"),
            (3, "spend"),
            (3, "clicks"),
            (4, "row"),
            (5, "day"),
            (5, "campaign"),
            (5, "spend"),
            (5, "currency"),
        ]
    );
    assert!(errors[2].reason.contains("negative"), "{:?}", errors[2]);
    assert_eq!(errors[0].to_field_error().field, "row 2, day");
}

#[test]
fn amounts_are_plain_decimals_within_bounds() {
    for good in ["0", "12", "12.5", "0.01", "1000000000000"] {
        assert!(decimal(good).is_some(), "{good}");
    }
    for bad in [
        "", ".5", "5.", "1e3", "-1", "+1", "1,000", "NaN", "inf", "1.2.3", " ",
    ] {
        assert!(decimal(bad).is_none(), "{bad}");
    }
    let over = format!(
        r#"[{{"day":"2026-03-01","source":"g","campaign":"c","spend":{},"currency":"USD"}}]"#,
        MAX_SPEND_AMOUNT * 10.0
    );
    assert_eq!(rows_err(parse_json(over.as_bytes()))[0].field, "spend");
    let far = br#"[{"day":"0202-03-01","source":"g","campaign":"c","spend":1,"currency":"USD"}]"#;
    assert_eq!(rows_err(parse_json(far))[0].field, "day");
}

#[test]
fn a_repeated_key_is_refused_not_silently_summed() {
    let errors = rows_err(parse_json(
        br#"[{"day":"2026-03-01","source":"G","campaign":"c","spend":1,"currency":"USD"},
             {"day":"2026-03-01","source":"g","campaign":"c","spend":2,"currency":"EUR"},
             {"day":"2026-03-01","source":"g","campaign":"c","ad_group":"x","spend":2,"currency":"EUR"}]"#,
    ));
    assert_eq!(errors.len(), 1);
    assert_eq!((errors[0].row, errors[0].field.as_str()), (2, "row"));
    assert!(errors[0].reason.contains("row 1"), "{:?}", errors[0]);
}

#[test]
fn body_level_refusals() {
    assert_eq!(body_err(parse_json(b"{}")).field, "body");
    assert_eq!(body_err(parse_json(b"[]")).field, "body");
    assert_eq!(body_err(parse_json(b"not json")).field, "body");
    let one = r#"{"day":"2026-03-01","source":"g","campaign":"c","spend":1,"currency":"USD"}"#;
    let many = format!("[{}]", vec![one; MAX_SPEND_ROWS + 1].join(","));
    assert!(body_err(parse_json(many.as_bytes()))
        .reason
        .contains("more than"));
}

#[test]
fn errors_are_capped() {
    let bad = r#"{"day":"x","source":"g","campaign":"c","spend":1,"currency":"USD"}"#;
    let body = format!("[{}]", vec![bad; MAX_SPEND_ERRORS * 2].join(","));
    assert_eq!(
        rows_err(parse_json(body.as_bytes())).len(),
        MAX_SPEND_ERRORS
    );
}

#[test]
fn csv_with_quoted_fields_crlf_and_any_column_order() {
    let text = "\u{feff}Day,Source,Campaign,Ad_Group,Spend,Currency,Impressions,Clicks\r\n\
                2026-03-01,google,\"spring, 2026\",,120.50,USD,1000,\r\n\
                2026-03-01,google,\"say \"\"hi\"\"\", \"g1\" ,1,EUR,,3\r\n\
                \r\n";
    let rows = parse_csv(text).expect("good csv");
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].campaign, "spring, 2026");
    assert_eq!(rows[0].ad_group, "", "an empty cell is no ad group");
    assert_eq!(rows[0].clicks, None);
    assert_eq!(rows[1].campaign, "say \"hi\"");
    assert_eq!(rows[1].ad_group, "g1");
    assert_eq!(rows[1].clicks, Some(3));

    let reordered = parse_csv("currency,spend,campaign,source,day\nJPY,5000,c,g,2026-03-02\n")
        .expect("reordered");
    assert_eq!(reordered[0].currency, "JPY");
    assert_eq!(reordered[0].spend, 5000.0);
}

#[test]
fn csv_errors_name_row_and_line() {
    let text = "day,source,campaign,spend,currency\n\
                2026-03-01,g,\"multi\nline\",1,USD\n\
                2026-03-01,g,c,abc,USD\n\
                2026-03-02,g,c,1\n";
    let errors = rows_err(parse_csv(text));
    let got: Vec<(usize, Option<usize>, &str)> = errors
        .iter()
        .map(|e| (e.row, e.line, e.field.as_str()))
        .collect();
    assert_eq!(
        got,
        vec![
            (1, Some(2), "campaign"), // a line break in a campaign is a control character
            (2, Some(4), "spend"),
            (3, Some(5), "row"),
        ]
    );
}

#[test]
fn csv_body_errors() {
    assert_eq!(body_err(parse_csv("")).field, "body");
    assert_eq!(
        body_err(parse_csv("day,source,campaign,spend\n")).field,
        "header"
    );
    assert_eq!(
        body_err(parse_csv("day,source,campaign,spend,currency,cost\n")).field,
        "header, column 6"
    );
    assert_eq!(
        body_err(parse_csv("day,day,source,campaign,spend,currency\n")).field,
        "header, column 2"
    );
    assert_eq!(
        body_err(parse_csv("day,source,campaign,spend,currency\n")).field,
        "body",
        "a header alone holds no rows"
    );
    let unclosed = "day,source,campaign,spend,currency\n2026-03-01,g,\"c,1,USD\n";
    assert_eq!(body_err(parse_csv(unclosed)).field, "line 2");
    let stray = "day,source,campaign,spend,currency\n2026-03-01,g,c\"x,1,USD\n";
    assert_eq!(body_err(parse_csv(stray)).field, "line 2");
    let after = "day,source,campaign,spend,currency\n2026-03-01,g,\"c\"x,1,USD\n";
    assert_eq!(body_err(parse_csv(after)).field, "line 2");
    let mut many = String::from("day,source,campaign,spend,currency\n");
    for i in 0..=MAX_SPEND_ROWS {
        many.push_str(&format!("2026-03-01,g,c{i},1,USD\n"));
    }
    assert!(body_err(parse_csv(&many)).reason.contains("more than"));
}

fn table() -> RateTable {
    RateTable::new(&[
        Rate {
            day: day("2026-03-01"),
            currency: "USD".into(),
            per_eur: 1.25,
        },
        Rate {
            day: day("2026-03-01"),
            currency: "JPY".into(),
            per_eur: 160.0,
        },
    ])
}

#[test]
fn spend_converts_on_its_own_day_and_a_missing_rate_is_never_zero() {
    // 100 USD + 80 EUR on 2026-03-01 in USD: 100 + 80 × 1.25 = 200.
    let amounts = [
        (day("2026-03-01"), "USD", 100.0),
        (day("2026-03-01"), "EUR", 80.0),
    ];
    assert_eq!(total_in(&amounts, &table(), "USD"), Ok(200.0));
    // 16000 JPY in USD: 16000 / 160 × 1.25 = 125.
    let jpy = [(day("2026-03-01"), "JPY", 16_000.0)];
    assert_eq!(total_in(&jpy, &table(), "USD"), Ok(125.0));
    // No USD rate on the 2nd: the whole total is unknown and the pair is named.
    let gap = [
        (day("2026-03-01"), "USD", 1.0),
        (day("2026-03-02"), "EUR", 1.0),
        (day("2026-03-02"), "EUR", 2.0),
    ];
    let missing = total_in(&gap, &table(), "USD").expect_err("missing");
    assert_eq!(missing.len(), 1, "each pair once");
    assert_eq!(missing[0].day, day("2026-03-02"));
    assert_eq!(missing[0].currency, "USD");
}

#[test]
fn metrics_are_null_on_a_zero_or_unknown_denominator() {
    let m = CostMetrics::new(Some(200.0), 4.0, Some(500.0), false);
    assert_eq!((m.cpa, m.cpi, m.roas), (Some(50.0), None, Some(2.5)));
    let m = CostMetrics::new(Some(200.0), 4.0, Some(500.0), true);
    assert_eq!(m.cpi, Some(50.0));
    let m = CostMetrics::new(Some(0.0), 0.0, Some(10.0), true);
    assert_eq!((m.cpa, m.cpi, m.roas), (None, None, None));
    let m = CostMetrics::new(None, 3.0, Some(10.0), false);
    assert_eq!(
        (m.cpa, m.roas),
        (None, None),
        "a missing rate stays unknown"
    );
    assert!(conversions_are_installs(&[INSTALL_EVENT.to_owned()]));
    assert!(!conversions_are_installs(&[
        INSTALL_EVENT.to_owned(),
        "Order Completed".to_owned()
    ]));
    assert!(!conversions_are_installs(&[]));
}

/// A small seeded generator (xorshift), so the run is the same every time.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Mutations of good uploads (bytes flipped, quotes, commas and line breaks inserted, cut
/// short) never panic, and whatever is accepted is within the bounds.
#[test]
fn mutated_uploads_never_panic_and_accepted_rows_are_bounded() {
    let csv = "day,source,campaign,ad_group,spend,currency,impressions,clicks\n\
               2026-03-01,google,\"spring, 2026\",a,120.50,USD,1000,40\n\
               2026-03-02,meta,summer,,80,GBP,,\n";
    let json = r#"[{"day":"2026-03-01","source":"g","campaign":"c","spend":"1.5","currency":"USD","clicks":3}]"#;
    let specials = [b'"', b',', b'\n', b'\r', b'.', b'-', b'0', b'[', b'{', 0xff];
    let mut rng = Rng(0x5eed_5eed_5eed_5eed);
    for i in 0..4_000 {
        let mut bytes = if i % 2 == 0 { csv } else { json }.as_bytes().to_vec();
        for _ in 0..1 + rng.below(4) {
            let at = rng.below(bytes.len() + 1);
            match rng.below(4) {
                0 if at < bytes.len() => bytes[at] = specials[rng.below(specials.len())],
                1 => bytes.insert(at, specials[rng.below(specials.len())]),
                2 => bytes.truncate(at),
                _ if at < bytes.len() => {
                    bytes.remove(at);
                }
                _ => {}
            }
        }
        let results = [
            parse_json(&bytes),
            parse_csv(&String::from_utf8_lossy(&bytes)),
        ];
        for result in results {
            match result {
                Ok(rows) => {
                    assert!(!rows.is_empty() && rows.len() <= MAX_SPEND_ROWS);
                    for row in rows {
                        assert!(row.spend >= 0.0 && row.spend <= MAX_SPEND_AMOUNT);
                        assert!(!row.source.is_empty() && !row.campaign.is_empty());
                        assert!(row.source.chars().count() <= MAX_SPEND_FIELD_CHARS);
                        assert!(valid_code(&row.currency));
                        assert!(SPEND_YEARS.contains(&row.day.year()));
                    }
                }
                Err(SpendUploadError::Rows(errors)) => {
                    assert!(!errors.is_empty() && errors.len() <= MAX_SPEND_ERRORS)
                }
                Err(SpendUploadError::Body(_)) => {}
            }
        }
    }
}
