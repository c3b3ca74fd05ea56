//! Small helpers for the world's figures; the figures themselves are in `record`.

use crate::payments::time::{Span, Timestamp};

/// The minute index of `at` in a run starting at `start`.
pub(crate) fn minute_of(at: Timestamp, start: Timestamp) -> usize {
    (at.saturating_since(start).as_nanos() / Span::from_minutes(1).as_nanos()) as usize
}
