//! Instants and calendar dates for the payments core.
//!
//! A [`Timestamp`] is integer nanoseconds since the Unix epoch, UTC: no floats, no clock reads.
//! The caller (the simulator in virtual time, or the command line) says what time it is.
//! Cambodia (UTC+7) and China (UTC+8) keep no daylight saving, so local dates are fixed offsets.

use std::fmt;

/// An instant: nanoseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(u64);

/// A span of time in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Span(u64);

const NS_PER_MS: u64 = 1_000_000;
const NS_PER_SECOND: u64 = 1_000_000_000;
const NS_PER_MINUTE: u64 = 60 * NS_PER_SECOND;
const NS_PER_HOUR: u64 = 60 * NS_PER_MINUTE;
const NS_PER_DAY: u64 = 24 * NS_PER_HOUR;

impl Timestamp {
    /// The Unix epoch.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From nanoseconds since the epoch.
    pub const fn from_nanos(ns: u64) -> Self {
        Timestamp(ns)
    }

    /// From milliseconds since the epoch (as KHQR writes them).
    ///
    /// # Panics
    /// If the instant is after the year 2554 (beyond `u64` nanoseconds).
    pub const fn from_millis(ms: u64) -> Self {
        match ms.checked_mul(NS_PER_MS) {
            Some(ns) => Timestamp(ns),
            None => panic!("timestamp beyond u64 nanoseconds"),
        }
    }

    /// Nanoseconds since the epoch.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Whole milliseconds since the epoch (truncated).
    pub const fn as_millis(self) -> u64 {
        self.0 / NS_PER_MS
    }

    /// This instant plus `span`, or `None` past the representable range.
    pub fn checked_add(self, span: Span) -> Option<Timestamp> {
        self.0.checked_add(span.0).map(Timestamp)
    }

    /// This instant less `span`, the epoch if that is before it.
    pub fn saturating_before(self, span: Span) -> Timestamp {
        Timestamp(self.0.saturating_sub(span.0))
    }

    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_since(self, earlier: Timestamp) -> Span {
        Span(self.0.saturating_sub(earlier.0))
    }

    /// The local calendar date at a fixed UTC offset.
    pub fn date_at(self, zone: Zone) -> Date {
        Date::from_days_since_epoch(self.local_days(zone))
    }

    /// Whether two instants fall on the same local date at a fixed UTC offset: the dates'
    /// comparison without building either.
    pub fn same_date_at(self, other: Timestamp, zone: Zone) -> bool {
        self.local_days(zone) == other.local_days(zone)
    }

    /// Whole local days since 1970-01-01 at a fixed UTC offset.
    fn local_days(self, zone: Zone) -> i64 {
        let local =
            i128::from(self.0) + i128::from(zone.offset_minutes) * i128::from(NS_PER_MINUTE);
        let days = local.div_euclid(i128::from(NS_PER_DAY));
        i64::try_from(days).expect("within u64 nanoseconds")
    }

    /// The instant of local wall-clock `hour:minute` on `date` at a fixed UTC offset.
    ///
    /// # Panics
    /// If the result is before the epoch or after 2554, or `hour`/`minute` are out of range
    /// ([`Timestamp::try_at_local`] is the twin that says so instead).
    pub fn at_local(date: Date, hour: u8, minute: u8, zone: Zone) -> Timestamp {
        assert!(hour < 24 && minute < 60, "wall-clock time out of range");
        Self::try_at_local(date, hour, minute, zone).expect("instant within 1970..2554")
    }

    /// As [`Timestamp::at_local`], or `None` when the instant is not representable (before the
    /// epoch, after 2554) or `hour`/`minute` are out of range.
    pub fn try_at_local(date: Date, hour: u8, minute: u8, zone: Zone) -> Option<Timestamp> {
        if hour >= 24 || minute >= 60 {
            return None;
        }
        let local = i128::from(date.days_since_epoch()) * i128::from(NS_PER_DAY)
            + i128::from(hour) * i128::from(NS_PER_HOUR)
            + i128::from(minute) * i128::from(NS_PER_MINUTE);
        let utc = local - i128::from(zone.offset_minutes) * i128::from(NS_PER_MINUTE);
        u64::try_from(utc).ok().map(Timestamp)
    }
}

impl fmt::Display for Timestamp {
    /// ISO 8601 in UTC with milliseconds, e.g. `2026-02-16T00:00:00.000Z`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let date = self.date_at(Zone::UTC);
        let in_day = self.0 % NS_PER_DAY;
        let (h, m) = (in_day / NS_PER_HOUR, in_day % NS_PER_HOUR / NS_PER_MINUTE);
        let (s, ms) = (in_day % NS_PER_MINUTE / NS_PER_SECOND, in_day % NS_PER_SECOND / NS_PER_MS);
        write!(f, "{date}T{h:02}:{m:02}:{s:02}.{ms:03}Z")
    }
}

impl Span {
    /// No time at all.
    pub const ZERO: Span = Span(0);

    /// From nanoseconds.
    pub const fn from_nanos(ns: u64) -> Self {
        Span(ns)
    }

    /// From milliseconds.
    pub const fn from_millis(ms: u64) -> Self {
        Span(ms * NS_PER_MS)
    }

    /// From seconds.
    pub const fn from_secs(s: u64) -> Self {
        Span(s * NS_PER_SECOND)
    }

    /// From minutes.
    pub const fn from_minutes(m: u64) -> Self {
        Span(m * NS_PER_MINUTE)
    }

    /// Nanoseconds.
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
}

/// A fixed UTC offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Zone {
    /// Minutes east of UTC.
    pub offset_minutes: i16,
}

impl Zone {
    /// UTC.
    pub const UTC: Zone = Zone { offset_minutes: 0 };
    /// Phnom Penh (ICT, UTC+7, no daylight saving).
    pub const PHNOM_PENH: Zone = Zone { offset_minutes: 7 * 60 };
    /// Beijing (CST, UTC+8, no daylight saving).
    pub const BEIJING: Zone = Zone { offset_minutes: 8 * 60 };
}

/// A proleptic Gregorian calendar date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    /// Year, e.g. 2026.
    pub year: i32,
    /// Month, 1–12.
    pub month: u8,
    /// Day of the month, 1–31.
    pub day: u8,
}

/// A day of the week.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

impl Date {
    /// The date, if it exists in the calendar.
    pub fn new(year: i32, month: u8, day: u8) -> Option<Date> {
        let days_in_month = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
            2 => 28,
            _ => return None,
        };
        (1..=days_in_month).contains(&day).then_some(Date { year, month, day })
    }

    /// Days since 1970-01-01 (negative before). Howard Hinnant's `days_from_civil`.
    pub fn days_since_epoch(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y - era * 400;
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The date `days` after 1970-01-01. Howard Hinnant's `civil_from_days`.
    pub fn from_days_since_epoch(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = u8::try_from(doy - (153 * mp + 2) / 5 + 1).expect("1..=31");
        let month = u8::try_from(if mp < 10 { mp + 3 } else { mp - 9 }).expect("1..=12");
        let year = i32::try_from(yoe + era * 400 + i64::from(month <= 2)).expect("year fits i32");
        Date { year, month, day }
    }

    /// The next calendar day.
    pub fn succ(self) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() + 1)
    }

    /// The previous calendar day.
    pub fn pred(self) -> Date {
        Date::from_days_since_epoch(self.days_since_epoch() - 1)
    }

    /// The day of the week.
    pub fn weekday(self) -> Weekday {
        // 1970-01-01 was a Thursday.
        const ORDER: [Weekday; 7] = [
            Weekday::Thursday,
            Weekday::Friday,
            Weekday::Saturday,
            Weekday::Sunday,
            Weekday::Monday,
            Weekday::Tuesday,
            Weekday::Wednesday,
        ];
        ORDER[usize::try_from(self.days_since_epoch().rem_euclid(7)).expect("0..7")]
    }

    /// Whether it is Saturday or Sunday.
    pub fn is_weekend(self) -> bool {
        matches!(self.weekday(), Weekday::Saturday | Weekday::Sunday)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}
