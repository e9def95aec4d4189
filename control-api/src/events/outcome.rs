//! What an attempt's answer means for the delivery, per the Standard Webhooks recommendations: a 2xx is
//! delivered; 410 Gone means the receiver wants nothing more (the endpoint is disabled); anything else, a
//! redirect included (they are not followed), a timeout or a connection failure, is a failure to retry.

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The receiver answered with this status code.
    Status(u16),
    /// No answer: why (timed out, connection refused…).
    NoAnswer(String),
}

/// What the delivery does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Delivered,
    /// Try again on the retry schedule.
    Failed,
    /// Stop, and send nothing more to this endpoint.
    EndpointGone,
}

impl Verdict {
    /// The outcome label for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Delivered => "delivered",
            Verdict::Failed => "failed",
            Verdict::EndpointGone => "endpoint_gone",
        }
    }
}

/// How long a `Retry-After` value (seconds, or an HTTP date) asks to wait from `now`, in milliseconds.
pub fn retry_after_ms(value: &str, now: i64) -> Option<i64> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u32>() {
        return Some(i64::from(seconds) * 1000);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at = i64::try_from(at.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis()).ok()?;
    Some(at.saturating_sub(now).max(0))
}

pub fn verdict(answer: &Answer) -> Verdict {
    match answer {
        Answer::Status(code) if (200..300).contains(code) => Verdict::Delivered,
        Answer::Status(410) => Verdict::EndpointGone,
        Answer::Status(_) | Answer::NoAnswer(_) => Verdict::Failed,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn answers_and_their_verdicts() {
        assert_eq!(verdict(&Answer::Status(200)), Verdict::Delivered);
        assert_eq!(verdict(&Answer::Status(204)), Verdict::Delivered);
        assert_eq!(verdict(&Answer::Status(301)), Verdict::Failed, "redirects are not followed");
        assert_eq!(verdict(&Answer::Status(410)), Verdict::EndpointGone);
        assert_eq!(verdict(&Answer::Status(429)), Verdict::Failed);
        assert_eq!(verdict(&Answer::Status(500)), Verdict::Failed);
        assert_eq!(verdict(&Answer::NoAnswer("timed out".into())), Verdict::Failed);
    }

    #[test]
    fn retry_after_in_seconds_or_as_a_date() {
        assert_eq!(retry_after_ms("120", 0), Some(120_000));
        assert_eq!(retry_after_ms(" 0 ", 0), Some(0));
        // 2023-11-14T22:13:20Z is 1_700_000_000 s.
        assert_eq!(retry_after_ms("Tue, 14 Nov 2023 22:13:20 GMT", 1_699_999_990_000), Some(10_000));
        assert_eq!(retry_after_ms("Tue, 14 Nov 2023 22:13:20 GMT", 1_800_000_000_000), Some(0));
        assert_eq!(retry_after_ms("soon", 0), None);
        assert_eq!(retry_after_ms("-5", 0), None);
    }

    proptest! {
        #[test]
        fn only_2xx_delivers(code in 100_u16..600) {
            prop_assert_eq!(verdict(&Answer::Status(code)) == Verdict::Delivered, (200..300).contains(&code));
        }
    }
}
