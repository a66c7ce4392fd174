//! Which Kafka failures refuse a message for good (Vector's `RetryLogic`): the broker or the
//! client found the record itself unacceptable. Those are reported per message
//! ([`super::KafkaError::Refused`]); everything else is retried.

use rdkafka::error::{KafkaError, RDKafkaErrorCode};

pub fn is_permanent_code(code: RDKafkaErrorCode) -> bool {
    matches!(
        code,
        RDKafkaErrorCode::MessageSizeTooLarge
            | RDKafkaErrorCode::InvalidMessageSize
            | RDKafkaErrorCode::InvalidRecord
            | RDKafkaErrorCode::InvalidMessage
    )
}

pub fn is_permanent(err: &KafkaError) -> bool {
    err.rdkafka_error_code().is_some_and(is_permanent_code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oversized_and_invalid_records_are_permanent_the_rest_is_retried() {
        let produce = |c| KafkaError::MessageProduction(c);
        assert!(is_permanent(&produce(
            RDKafkaErrorCode::MessageSizeTooLarge
        )));
        assert!(is_permanent(&produce(RDKafkaErrorCode::InvalidRecord)));
        assert!(!is_permanent(&produce(RDKafkaErrorCode::QueueFull)));
        assert!(!is_permanent(&produce(
            RDKafkaErrorCode::BrokerTransportFailure
        )));
        assert!(!is_permanent(&produce(RDKafkaErrorCode::MessageTimedOut)));
    }
}
