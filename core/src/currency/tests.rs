use super::*;

fn day(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("day")
}

/// Two days of the ECB history file, its trailing commas and a holiday N/A included.
const ECB: &str = "Date,USD,JPY,GBP,\n\
2026-03-02,1.0850,162.10,0.8550,\n\
2026-03-03,1.0900,N/A,0.8600,\n";

#[test]
fn parses_the_ecb_format_with_trailing_commas_and_na() {
    let rates = parse_ecb_csv(ECB).expect("good");
    assert_eq!(rates.len(), 5, "the N/A cell is no rate");
    assert_eq!(
        rates[0],
        Rate {
            day: day("2026-03-02"),
            currency: "USD".into(),
            per_eur: 1.085
        }
    );
}

#[test]
fn bad_cells_are_reported_with_line_and_column() {
    let csv = "Date,USD,GBP\n2026-03-02,1.08,0.85\n2026-3-x,1.09,0.86\n2026-03-04,-1,abc\n2026-03-05,1.1\n2026-03-02,1.2,0.9\n";
    let errors = parse_ecb_csv(csv).expect_err("bad");
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(
        fields,
        vec![
            "line 3, column Date",
            "line 4, column USD",
            "line 4, column GBP",
            "line 5",
            "line 6, column Date"
        ]
    );
    assert!(errors[4].reason.contains("line 2"), "{}", errors[4].reason);
}

#[test]
fn bad_headers_are_refused() {
    assert_eq!(parse_ecb_csv("").expect_err("empty")[0].field, "line 1");
    assert_eq!(
        parse_ecb_csv("Day,USD\n").expect_err("no Date")[0].field,
        "line 1, column 1"
    );
    assert_eq!(
        parse_ecb_csv("Date,usd\n").expect_err("lower case")[0].field,
        "line 1, column 2"
    );
    assert_eq!(
        parse_ecb_csv("Date,USD,USD\n").expect_err("twice")[0].field,
        "line 1, column USD"
    );
}

#[test]
fn cross_rates_go_through_eur_on_the_day() {
    let table = RateTable::new(&parse_ecb_csv(ECB).expect("good"));
    let d = day("2026-03-02");
    // 100 USD → EUR: 100 / 1.085; → GBP: 100 × 0.855 / 1.085.
    let eur = table.convert(100.0, "USD", "EUR", d).expect("usd→eur");
    assert!((eur - 92.165_898_617_511_52).abs() < 1e-9, "{eur}");
    let gbp = table.convert(100.0, "USD", "GBP", d).expect("usd→gbp");
    assert!((gbp - 78.801_843_317_972_35).abs() < 1e-9, "{gbp}");
    assert_eq!(table.convert(5.0, "EUR", "USD", d), Ok(5.0 * 1.085));
    assert_eq!(table.convert(7.0, "JPY", "JPY", d), Ok(7.0));
}

#[test]
fn two_currencies_on_one_day_use_that_days_rates() {
    let table = RateTable::new(&parse_ecb_csv(ECB).expect("good"));
    let d2 = day("2026-03-03");
    let total = table.convert(42.0, "EUR", "USD", d2).expect("eur")
        + table.convert(10.0, "GBP", "USD", d2).expect("gbp");
    assert!((total - (42.0 * 1.09 + 10.0 * 1.09 / 0.86)).abs() < 1e-9);
}

#[test]
fn a_missing_rate_is_an_error_never_zero() {
    let table = RateTable::new(&parse_ecb_csv(ECB).expect("good"));
    assert_eq!(
        table.convert(1.0, "JPY", "EUR", day("2026-03-03")),
        Err(MissingRate {
            day: day("2026-03-03"),
            currency: "JPY".into()
        }),
        "the holiday N/A"
    );
    assert_eq!(
        table.convert(1.0, "USD", "EUR", day("2026-03-04")),
        Err(MissingRate {
            day: day("2026-03-04"),
            currency: "USD".into()
        }),
        "a day not loaded: no neighbouring day is used"
    );
}

#[test]
fn reporting_currency_codes() {
    assert!(validate_reporting_currency("USD").is_ok());
    assert_eq!(
        validate_reporting_currency("usd").expect_err("lower").field,
        "reporting_currency"
    );
}
