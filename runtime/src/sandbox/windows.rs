//! Maintenance windows (docs/budgets.md): a change of an effect that has
//! windows is allowed only inside one, written as operators write them,
//! `"Sat,Sun 02:00-04:00 Europe/Berlin"`. Days and times are the zone's
//! civil time, so a window follows its zone's daylight saving changes; the
//! zone rules are jiff's bundled copy of the IANA database, never the
//! machine's files (the static binary's image has none).

use std::fmt;

use jiff::civil::{Date, Weekday};
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};

use crate::sandbox::budgets::Effect;

/// Minutes in a day: `24:00`, the latest end.
const DAY: u16 = 24 * 60;

/// The day names, Monday first.
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// One window: on some weekdays, from a time to a time, in a zone. One
/// that ends at or before it starts runs past midnight into the next day.
#[derive(Debug, Clone)]
pub struct Window {
    /// Which weekdays it opens on, Monday first.
    days: [bool; 7],
    /// When it opens, in minutes after midnight.
    start: u16,
    /// When it closes, in minutes after midnight (1 to 1440).
    end: u16,
    zone: TimeZone,
    text: String,
}

impl Window {
    /// Parses `<days> <HH:MM>-<HH:MM> <IANA zone>`: days as `Mon`..`Sun`,
    /// lists (`Sat,Sun`) and ranges (`Mon-Fri`, `Fri-Mon`).
    pub fn parse(text: &str) -> Result<Window, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [days, times, zone] = fields[..] else {
            return Err(format!(
                "window {text:?} is not \"<days> <HH:MM>-<HH:MM> <time zone>\", e.g. \
                 \"Sat,Sun 02:00-04:00 Europe/Berlin\""
            ));
        };
        let days = parse_days(days).map_err(|why| format!("window {text:?}: {why}"))?;
        let (start, end) = times
            .split_once('-')
            .ok_or_else(|| format!("window {text:?}: {times:?} is not a range like 02:00-04:00"))?;
        let start = parse_time(start, false).map_err(|why| format!("window {text:?}: {why}"))?;
        let end = parse_time(end, true).map_err(|why| format!("window {text:?}: {why}"))?;
        if start == end {
            return Err(format!("window {text:?} opens and closes at the same time"));
        }
        let zone = TimeZone::get(zone).map_err(|_| {
            format!("window {text:?}: {zone:?} is not a time zone of the IANA database (e.g. Europe/Berlin, UTC)")
        })?;
        Ok(Window {
            days,
            start,
            end,
            zone,
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
        })
    }

    /// Whether the window is open at `at`.
    pub fn contains(&self, at: Timestamp) -> bool {
        let local = at.to_zoned(self.zone.clone());
        let day = weekday_index(local.weekday());
        let minute = u16::from(local.hour() as u8) * 60 + u16::from(local.minute() as u8);
        if self.end > self.start {
            return self.days[day] && (self.start..self.end).contains(&minute);
        }
        // Past midnight: the evening of an opening day, or the early hours
        // after one.
        (self.days[day] && minute >= self.start) || (self.days[(day + 6) % 7] && minute < self.end)
    }

    /// When the window next opens after `after` (`None` only for a window
    /// on no day, which parsing refuses).
    pub fn next_opening(&self, after: Timestamp) -> Option<Zoned> {
        let today = after.to_zoned(self.zone.clone()).date();
        (-1i64..=8)
            .filter_map(|offset| today.checked_add(jiff::Span::new().days(offset)).ok())
            .filter(|date: &Date| self.days[weekday_index(date.weekday())])
            .filter_map(|date| {
                let (hour, minute) = (self.start / 60, self.start % 60);
                // A time that does not exist that day (a gap of daylight
                // saving) opens at the first moment after it.
                date.at(hour as i8, minute as i8, 0, 0)
                    .to_zoned(self.zone.clone())
                    .ok()
            })
            .filter(|opening| opening.timestamp() > after)
            .min_by_key(Zoned::timestamp)
    }
}

/// Two windows are the same when written the same (the text decides all).
impl PartialEq for Window {
    fn eq(&self, other: &Window) -> bool {
        self.text == other.text
    }
}

impl Eq for Window {}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

fn weekday_index(day: Weekday) -> usize {
    day.to_monday_zero_offset() as usize
}

fn parse_days(text: &str) -> Result<[bool; 7], String> {
    let index = |name: &str| {
        DAYS.iter()
            .position(|day| day.eq_ignore_ascii_case(name))
            .ok_or_else(|| format!("{name:?} is not a day (Mon, Tue, Wed, Thu, Fri, Sat, Sun)"))
    };
    let mut days = [false; 7];
    for item in text.split(',') {
        match item.split_once('-') {
            Some((first, last)) => {
                let (first, last) = (index(first)?, index(last)?);
                let mut day = first;
                loop {
                    days[day] = true;
                    if day == last {
                        break;
                    }
                    day = (day + 1) % 7;
                }
            }
            None => days[index(item)?] = true,
        }
    }
    Ok(days)
}

/// `HH:MM` in minutes after midnight; `24:00` only as an end.
fn parse_time(text: &str, end: bool) -> Result<u16, String> {
    let bad = || format!("{text:?} is not a time of day like 02:00");
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    if hours.len() != 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: u16 = hours.parse().map_err(|_| bad())?;
    let minutes: u16 = minutes.parse().map_err(|_| bad())?;
    let total = hours * 60 + minutes;
    if minutes >= 60 || total > DAY || (total == DAY && !end) {
        return Err(bad());
    }
    Ok(total)
}

/// The windows of one effect from one place in the configuration: a call
/// must be inside one of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    /// The effect they open.
    pub effect: Effect,
    /// The windows; open when any is.
    pub any_of: Vec<Window>,
    /// Where they are configured: `[windows]` or `[modules.<name>.windows]`.
    pub source: String,
}

impl Windows {
    /// `Ok` saying so when `at` is inside a window; `Err` with the
    /// refusal's text when it is outside every one.
    pub fn check(&self, at: Timestamp) -> Result<String, String> {
        let listed: Vec<String> = self
            .any_of
            .iter()
            .map(|w| format!("{:?}", w.text))
            .collect();
        if self.any_of.iter().any(|window| window.contains(at)) {
            return Ok(format!(
                "inside the {} windows of {} ({})",
                self.effect,
                self.source,
                listed.join(", ")
            ));
        }
        let next = self
            .any_of
            .iter()
            .filter_map(|window| window.next_opening(at))
            .min_by_key(Zoned::timestamp);
        let opens = match next {
            Some(opening) => {
                let wait = opening.timestamp().as_second() - at.as_second();
                format!(
                    "; the next opens at {} ({}, in {})",
                    opening.strftime("%a %Y-%m-%d %H:%M %Z"),
                    opening.timestamp().strftime("%Y-%m-%dT%H:%M:%SZ"),
                    humantime::format_duration(std::time::Duration::from_secs(wait.max(0) as u64))
                )
            }
            None => String::new(),
        };
        Err(format!(
            "outside the {} windows of {} ({}){opens}",
            self.effect,
            self.source,
            listed.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn days_times_and_zones_are_written_the_way_operators_write_them() {
        let window = Window::parse("Sat,Sun 02:00-04:00 Europe/Berlin").unwrap();
        assert_eq!(window.days, [false, false, false, false, false, true, true]);
        assert_eq!((window.start, window.end), (120, 240));
        let wrapping = Window::parse("fri-mon 22:00-06:00 America/Chicago").unwrap();
        assert_eq!(wrapping.days, [true, false, false, false, true, true, true]);
        assert!(Window::parse("Mon-Sun 00:00-24:00 UTC").is_ok());
        for bad in [
            "Sat 02:00-04:00",
            "Someday 02:00-04:00 UTC",
            "Sat 2:00-04:00 UTC",
            "Sat 02:00-24:01 UTC",
            "Sat 24:00-02:00 UTC",
            "Sat 02:00-02:00 UTC",
            "Sat 02:00-04:00 Mars/Olympus",
            "Sat 02:00 04:00 UTC",
        ] {
            assert!(Window::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_window_past_midnight_belongs_to_the_day_it_opens() {
        let window = Window::parse("Fri 22:00-06:00 UTC").unwrap();
        assert!(window.contains(at("2026-12-04T23:00:00Z")), "Friday night");
        assert!(
            window.contains(at("2026-12-05T05:59:00Z")),
            "Saturday morning"
        );
        assert!(!window.contains(at("2026-12-05T06:00:00Z")));
        assert!(
            !window.contains(at("2026-12-04T05:00:00Z")),
            "Friday morning"
        );
        assert!(
            !window.contains(at("2026-12-05T23:00:00Z")),
            "Saturday night"
        );
    }

    #[test]
    fn a_window_follows_daylight_saving_in_its_zone() {
        // 2026-03-29: Berlin skips 02:00-03:00; the window is open from 03:00.
        let window = Window::parse("Sun 02:00-04:00 Europe/Berlin").unwrap();
        assert!(!window.contains(at("2026-03-29T00:59:00Z")), "01:59 CET");
        assert!(window.contains(at("2026-03-29T01:00:00Z")), "03:00 CEST");
        assert!(!window.contains(at("2026-03-29T02:00:00Z")), "04:00 CEST");
        let opening = window.next_opening(at("2026-03-28T12:00:00Z")).unwrap();
        assert_eq!(opening.timestamp(), at("2026-03-29T01:00:00Z"));
        // 2026-10-25: 02:00-03:00 happens twice; the window is open for both.
        assert!(window.contains(at("2026-10-25T00:30:00Z")), "02:30 CEST");
        assert!(window.contains(at("2026-10-25T01:30:00Z")), "02:30 CET");
        assert!(window.contains(at("2026-10-25T02:30:00Z")), "03:30 CET");
        assert!(!window.contains(at("2026-10-25T03:00:00Z")), "04:00 CET");
        // In summer the same civil window is an hour earlier in UTC.
        let summer = window.next_opening(at("2026-07-01T00:00:00Z")).unwrap();
        assert_eq!(summer.timestamp(), at("2026-07-05T00:00:00Z"));
        let winter = window.next_opening(at("2026-12-01T00:00:00Z")).unwrap();
        assert_eq!(winter.timestamp(), at("2026-12-06T01:00:00Z"));
    }

    #[test]
    fn the_next_opening_from_every_day_of_a_week() {
        let window = Window::parse("Wed 10:00-11:00 UTC").unwrap();
        // 2026-11-30 is a Monday.
        for day in 0..7 {
            let from = at("2026-11-30T12:00:00Z")
                .checked_add(jiff::SignedDuration::from_hours(24 * day))
                .unwrap();
            let opening = window.next_opening(from).unwrap().timestamp();
            let expected = if day < 2 {
                at("2026-12-02T10:00:00Z")
            } else {
                at("2026-12-09T10:00:00Z")
            };
            assert_eq!(opening, expected, "from day {day}");
        }
    }

    #[test]
    fn outside_every_window_the_refusal_names_them_and_the_next_opening() {
        let windows = Windows {
            effect: Effect::Stop,
            any_of: vec![
                Window::parse("Sat,Sun 02:00-04:00 Europe/Berlin").unwrap(),
                Window::parse("Wed 23:00-01:00 UTC").unwrap(),
            ],
            source: "[windows]".into(),
        };
        assert!(windows.check(at("2026-12-05T01:30:00Z")).is_ok());
        let refused = windows.check(at("2026-12-02T12:00:00Z")).unwrap_err();
        assert_eq!(
            refused,
            "outside the stop windows of [windows] (\"Sat,Sun 02:00-04:00 Europe/Berlin\", \
             \"Wed 23:00-01:00 UTC\"); the next opens at Wed 2026-12-02 23:00 UTC \
             (2026-12-02T23:00:00Z, in 11h)"
        );
    }
}
