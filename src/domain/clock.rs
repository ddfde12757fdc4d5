//! The clock for stored timestamps.

/// The current time, for storing. SQLite keeps timestamps as RFC 3339 text whose fraction the
/// encoder trims of trailing zeros, so `…12.5Z` sorts after `…12.51Z` and comparisons or
/// `ORDER BY` in SQL go wrong within a second. Timestamps from here always have nine fraction
/// digits (the last nanosecond digit is never 0), so text order is time order; they are at most
/// 9 ns off. PostgreSQL stores microseconds either way.
pub fn now() -> time::OffsetDateTime {
    fixed_width(time::OffsetDateTime::now_utc())
}

/// `t` with a last nanosecond digit of 1 (see [`now`]); durations of whole nanoseconds ending in
/// 0 — seconds, minutes, days — keep it so.
pub fn fixed_width(t: time::OffsetDateTime) -> time::OffsetDateTime {
    let nanos = t.nanosecond();
    t.replace_nanosecond(nanos - nanos % 10 + 1).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use time::{format_description::well_known::Rfc3339, macros::datetime};

    use super::*;

    #[test]
    fn stored_timestamps_are_fixed_width_so_text_order_is_time_order() {
        let times = [
            datetime!(2026-11-22 12:00:00 UTC),
            datetime!(2026-11-22 12:00:00.5 UTC),
            datetime!(2026-11-22 12:00:00.51 UTC),
            datetime!(2026-11-22 12:00:00.512345678 UTC),
            datetime!(2026-11-22 12:00:01 UTC),
        ];
        let texts: Vec<String> = times
            .iter()
            .map(|t| fixed_width(*t).format(&Rfc3339).unwrap())
            .collect();
        assert!(texts.iter().all(|t| t.len() == texts[0].len()), "{texts:?}");
        let mut sorted = texts.clone();
        sorted.sort();
        assert_eq!(sorted, texts, "text order is time order");
        // Without the adjustment the encoder's text would not sort in time order.
        let raw: Vec<String> = times.iter().map(|t| t.format(&Rfc3339).unwrap()).collect();
        let mut raw_sorted = raw.clone();
        raw_sorted.sort();
        assert_ne!(raw_sorted, raw);
        assert_eq!(now().nanosecond() % 10, 1);
    }
}
