//! Time for people and from people: durations (`30s`, `5m`, `1m30s`) and how they print,
//! calendar dates (`YYYY-MM-DD`, checked against the calendar; a Unix time's UTC date), the
//! index's upload times (RFC 3339 in UTC) and the clock. Pure but for `now` and `today_utc`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Result;

/// `30s`, `5m`, `1h`, `14d`, `500ms`, or a combination such as `1m30s`.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a duration; write it like `30s`, `5m` or `1h`");
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        let unit_end = rest[digits..].find(|c: char| c.is_ascii_digit()).map_or(rest.len(), |i| digits + i);
        let unit = match &rest[digits..unit_end] {
            "ms" => Duration::from_millis(1),
            "s" => Duration::from_secs(1),
            "m" => Duration::from_secs(60),
            "h" => Duration::from_secs(3600),
            "d" => Duration::from_secs(86_400),
            _ => return Err(bad()),
        };
        total += unit.checked_mul(u32::try_from(n).map_err(|_| bad())?).ok_or_else(bad)?;
        rest = &rest[unit_end..];
    }
    Ok(total)
}

/// A duration for people: `850ms`, `12s`, `4m05s`, `2h05m`, `14d`, `3d04h`.
pub fn human(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        86_400.. if secs % 86_400 < 3600 => format!("{}d", secs / 86_400),
        86_400.. => format!("{}d{:02}h", secs / 86_400, secs % 86_400 / 3600),
        0 => format!("{}ms", d.as_millis()),
        1..60 => format!("{secs}s"),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// The wall clock: the one place it is read (tidy: `the_clock_is_read_in_time_rs`).
#[allow(clippy::disallowed_methods)] // the one place
pub fn clock() -> SystemTime {
    SystemTime::now()
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    since_epoch(clock()).as_secs()
}

/// Nanoseconds since the Unix epoch: not a time for people, but a number that differs from
/// one run to the next (the backoff's jitter, a run's directory).
pub fn nanos() -> u128 {
    since_epoch(clock()).as_nanos()
}

fn since_epoch(t: SystemTime) -> Duration {
    t.duration_since(UNIX_EPOCH).unwrap_or_default()
}

/// `2026-12-01 18:02 UTC`.
pub fn utc(secs: u64) -> String {
    format!("{} {:02}:{:02} UTC", civil_date(secs), secs % 86_400 / 3600, secs % 3600 / 60)
}

/// `YYYY-MM-DD`, checked against the calendar (`2026-02-31` is not a date).
pub fn parse_date(text: &str) -> Result<String> {
    let parts: Vec<&str> = text.split('-').collect();
    let ok = parts.len() == 3
        && [4, 2, 2].iter().zip(&parts).all(|(len, p)| p.len() == *len && p.bytes().all(|b| b.is_ascii_digit()))
        && match (parts[0].parse::<u64>(), parts[1].parse::<u64>(), parts[2].parse::<u64>()) {
            (Ok(year), Ok(month), Ok(day)) => is_date(year, month, day),
            _ => false,
        };
    if !ok {
        return Err(crate::usage::usage(format!(
            "`--date {text}` is not a date; write it as YYYY-MM-DD, e.g. `--date 2026-01-21`"
        )));
    }
    Ok(text.to_string())
}

/// Today's date in UTC, `YYYY-MM-DD`.
pub fn today_utc() -> String {
    civil_date(now())
}

/// Whether `day` is a day of `month` (1 to 12) of `year` in the Gregorian calendar.
fn is_date(year: u64, month: u64, day: u64) -> bool {
    let leap = year.is_multiple_of(4) && (!year.is_multiple_of(100) || year.is_multiple_of(400));
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

/// An RFC 3339 time in UTC as the index writes it: `2026-01-05T12:34:56.123456Z`, fractions
/// and the `Z` optional. Anything else (another zone, a malformed date) is `None`: an upload
/// time that cannot be read closes nothing.
pub fn parse_timestamp(text: &str) -> Option<SystemTime> {
    let text = text.strip_suffix('Z').unwrap_or(text);
    let (date, time) = text.split_once('T')?;
    let time = match time.split_once('.') {
        Some((whole, fraction)) if fraction.chars().all(|c| c.is_ascii_digit()) => whole,
        Some(_) => return None,
        None => time,
    };
    let numbers = |s: &str, n: usize| -> Option<Vec<u64>> {
        let parts: Vec<u64> = s.split(['-', ':']).map(|p| p.parse().ok()).collect::<Option<_>>()?;
        (parts.len() == n).then_some(parts)
    };
    let (d, t) = (numbers(date, 3)?, numbers(time, 3)?);
    if d[0] < 1970 || !is_date(d[0], d[1], d[2]) || t[0] > 23 || t[1] > 59 || t[2] > 60 {
        return None;
    }
    let secs = days_from_civil(d[0], d[1], d[2]) * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    Some(UNIX_EPOCH + Duration::from_secs(secs))
}

/// Days since 1970-01-01 of a date from 1970 on (Howard Hinnant's days-from-civil algorithm,
/// the inverse of [`civil_date`]).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The UTC calendar date of a Unix time (Howard Hinnant's days-to-civil algorithm).
pub fn civil_date(unix_secs: u64) -> String {
    let z = (unix_secs / 86_400) as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ok = |s: &str| parse_duration(s).map(|d| d.as_millis());
        assert_eq!(ok("30s"), Ok(30_000));
        assert_eq!(ok("5m"), Ok(300_000));
        assert_eq!(ok("1h"), Ok(3_600_000));
        assert_eq!(ok("1m30s"), Ok(90_000));
        assert_eq!(ok("250ms"), Ok(250));
        assert_eq!(ok("14d"), Ok(14 * 86_400_000));
        for bad in ["", "5", "m", "5x", "-1s", "1.5m", "99999999999h"] {
            assert_eq!(
                parse_duration(bad),
                Err(format!("`{bad}` is not a duration; write it like `30s`, `5m` or `1h`"))
            );
        }
        assert_eq!(human(Duration::from_millis(850)), "850ms");
        assert_eq!(human(Duration::from_secs(245)), "4m05s");
        assert_eq!(human(Duration::from_secs(14 * 86_400 + 59)), "14d");
        assert_eq!(human(Duration::from_secs(3 * 86_400 + 4 * 3600)), "3d04h");
    }

    #[test]
    fn times() {
        assert_eq!(utc(1_767_225_600 + 3600 * 18 + 120), "2026-01-01 18:02 UTC");
    }

    #[test]
    fn upload_times() {
        let secs = |s: &str| parse_timestamp(s).map(|t| t.duration_since(UNIX_EPOCH).unwrap().as_secs());
        assert_eq!(secs("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(secs("2026-01-01T00:00:00.000000Z"), Some(1_767_225_600));
        assert_eq!(secs("2024-02-29T23:59:59"), Some(1_709_251_199));
        assert_eq!(secs("2025-12-31T23:59:59.5Z"), Some(1_767_225_599));
        for bad in [
            "",
            "2026-01-01",
            "2026-02-29T00:00:00Z",
            "2026-13-01T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00+02:00",
            "1969-12-31T23:59:59Z",
            "2026-01-01T00:00:00.x",
        ] {
            assert_eq!(secs(bad), None, "{bad}");
        }
        // The inverse of `civil_date`, day by day across leap years and centuries.
        for day in (0..200_000u64).step_by(7) {
            let date = civil_date(day * 86_400);
            let d: Vec<u64> = date.split('-').map(|p| p.parse().unwrap()).collect();
            assert_eq!(days_from_civil(d[0], d[1], d[2]), day, "{date}");
        }
    }

    #[test]
    fn dates() {
        assert_eq!(civil_date(0), "1970-01-01");
        assert_eq!(civil_date(1_767_225_600), "2026-01-01");
        assert_eq!(civil_date(1_709_164_800), "2024-02-29");
        assert_eq!(civil_date(1_767_225_599), "2025-12-31");
        assert_eq!(parse_date("2026-01-21").unwrap(), "2026-01-21");
        assert_eq!(parse_date("2024-02-29").unwrap(), "2024-02-29");
        for bad in [
            "2026-1-21",
            "21-01-2026",
            "2026-13-01",
            "2026-01-32",
            "today",
            "2026-01-2x",
            "2026-02-31",
            "2026-02-29",
            "2100-02-29",
            "2026-04-31",
        ] {
            let err = parse_date(bad).unwrap_err();
            assert!(err.downcast_ref::<crate::usage::UsageError>().is_some(), "{bad}");
        }
    }
}
