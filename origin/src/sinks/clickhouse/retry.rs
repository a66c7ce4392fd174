//! Which ClickHouse failures refuse the data for good (Vector's `RetryLogic`): exceptions about
//! the rows themselves. Everything else (network, overload, a server restarting, too many
//! parts, memory) is retried until it goes through.

use super::ClickHouseError;

/// ClickHouse exception codes that a retry of the same rows cannot fix.
const PERMANENT_CODES: [u32; 13] = [
    6,   // CANNOT_PARSE_TEXT
    26,  // CANNOT_PARSE_QUOTED_STRING
    27,  // CANNOT_PARSE_INPUT_ASSERTION_FAILED
    33,  // CANNOT_READ_ALL_DATA
    38,  // CANNOT_PARSE_DATE
    41,  // CANNOT_PARSE_DATETIME
    53,  // TYPE_MISMATCH
    69,  // ARGUMENT_OUT_OF_BOUND
    70,  // CANNOT_CONVERT_TYPE
    72,  // CANNOT_PARSE_NUMBER
    117, // INCORRECT_DATA
    131, // TOO_LARGE_STRING_SIZE
    321, // VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
];

pub fn is_permanent(err: &ClickHouseError) -> bool {
    match err {
        ClickHouseError::Server { body, .. } => {
            exception_code(body).is_some_and(|code| PERMANENT_CODES.contains(&code))
        }
        ClickHouseError::Http(_) | ClickHouseError::Spool(_) => false,
    }
}

/// `Code: 27, e.displayText() = DB::Exception: ...` (18.16) or `Code: 27. DB::Exception: ...`.
fn exception_code(body: &str) -> Option<u32> {
    let rest = &body[body.find("Code: ")? + 6..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server(body: &str) -> ClickHouseError {
        ClickHouseError::Server {
            status: 500,
            statement: "INSERT".into(),
            body: body.into(),
        }
    }

    #[test]
    fn row_errors_are_permanent_the_rest_is_retried() {
        assert!(is_permanent(&server(
            "Code: 27, e.displayText() = DB::Exception: Cannot parse input"
        )));
        assert!(is_permanent(&server(
            "Code: 53. DB::Exception: Type mismatch"
        )));
        assert!(!is_permanent(&server(
            "Code: 252. DB::Exception: Too many parts"
        )));
        assert!(!is_permanent(&server("Code: 241. Memory limit exceeded")));
        assert!(!is_permanent(&server("502 Bad Gateway")));
    }
}
