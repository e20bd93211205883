//! The live state of an event's seats in a few bytes (issue 19): what a seat map polls once it has
//! the seats themselves. The statuses go in the order of the event's seat map (`GET
//! /events/events/{event_id}/seats`, rows then numbers), run-length encoded: each run is its
//! length (left out when 1) followed by a letter, `a` available, `h` held, `s` sold. So
//! `"118a2h4s"` is 118 available seats, then 2 held, then 4 sold. An on-sale leaves long runs (a
//! block sold together, the rest available), so a 20,000-seat arena's state is a few KB where its
//! full map is over 2 MB.

use super::{SeatState, SeatStatus};

/// The letter of each status in the encoding.
fn letter(status: SeatStatus) -> char {
    match status {
        SeatStatus::Available => 'a',
        SeatStatus::Held => 'h',
        SeatStatus::Sold => 's',
    }
}

/// How many seats have each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeatCounts {
    pub available: u32,
    pub held: u32,
    pub sold: u32,
}

/// The run-length encoding of `seats`' statuses, in their order, and how many have each.
pub fn encode_seat_states(seats: &[SeatState]) -> (String, SeatCounts) {
    let mut encoded = String::new();
    let mut counts = SeatCounts::default();
    let mut run: Option<(SeatStatus, u32)> = None;
    let close = |encoded: &mut String, (status, length): (SeatStatus, u32)| {
        if length > 1 {
            encoded.push_str(&length.to_string());
        }
        encoded.push(letter(status));
    };
    for seat in seats {
        match seat.status {
            SeatStatus::Available => counts.available += 1,
            SeatStatus::Held => counts.held += 1,
            SeatStatus::Sold => counts.sold += 1,
        }
        run = match run {
            Some((status, length)) if status == seat.status => Some((status, length + 1)),
            Some(ended) => {
                close(&mut encoded, ended);
                Some((seat.status, 1))
            }
            None => Some((seat.status, 1)),
        };
    }
    if let Some(ended) = run {
        close(&mut encoded, ended);
    }
    (encoded, counts)
}

/// The statuses `encoded` stands for, or `None` when it is not an encoding of them (what a client
/// does with the string; the tests check the encoding against it).
pub fn decode_seat_states(encoded: &str) -> Option<Vec<SeatStatus>> {
    let mut statuses = Vec::new();
    let mut length: Option<usize> = None;
    for c in encoded.chars() {
        if let Some(digit) = c.to_digit(10) {
            length = Some(length.unwrap_or(0).checked_mul(10)?.checked_add(digit as usize)?);
            continue;
        }
        let status = match c {
            'a' => SeatStatus::Available,
            'h' => SeatStatus::Held,
            's' => SeatStatus::Sold,
            _ => return None,
        };
        let n = length.take().unwrap_or(1);
        if n == 0 || statuses.len() + n > 1_000_000 {
            return None;
        }
        statuses.extend(std::iter::repeat_n(status, n));
    }
    length.is_none().then_some(statuses)
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    fn seats(statuses: &[SeatStatus]) -> Vec<SeatState> {
        statuses
            .iter()
            .enumerate()
            .map(|(i, &status)| SeatState {
                seat_id: Uuid::from_u128(i as u128),
                row: format!("R{}", i / 500),
                seat_number: (i % 500) as i32 + 1,
                tier: "standard".into(),
                price_cents: 1000,
                status,
                section: None,
                x: None,
                y: None,
                attributes: Vec::new(),
            })
            .collect()
    }

    #[test]
    fn runs_are_a_length_and_a_letter_and_a_single_seat_is_its_letter() {
        use SeatStatus::{Available as A, Held as H, Sold as S};
        let (encoded, counts) = encode_seat_states(&seats(&[A, A, A, H, S, S, A]));
        assert_eq!(encoded, "3ah2sa");
        assert_eq!(counts, SeatCounts { available: 4, held: 1, sold: 2 });
        assert_eq!(encode_seat_states(&[]), (String::new(), SeatCounts::default()));
        assert_eq!(decode_seat_states("3ah2sa"), Some(vec![A, A, A, H, S, S, A]));
        for broken in ["3", "0a", "3x", "a3"] {
            assert_eq!(decode_seat_states(broken), None, "{broken}");
        }
    }

    /// The target: the live state of a 20,000-seat event on sale is under 8 KB compressed
    /// (gzip, as `/seat-states` sends it). Mid-sale as an on-sale leaves it, drawn from a fixed
    /// seed: buyers took blocks of 1 to 6 seats, some held and some paid, leaving gaps of 0 to 3
    /// free seats between blocks, until half the arena was gone.
    #[test]
    fn a_20000_seat_event_mid_sale_is_a_few_kilobytes() {
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |below: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below) as usize
        };
        let mut statuses = Vec::with_capacity(20_000);
        while statuses.len() < 10_000 {
            let status = if next(4) == 0 { SeatStatus::Held } else { SeatStatus::Sold };
            statuses.extend(std::iter::repeat_n(status, 1 + next(6)));
            statuses.extend(std::iter::repeat_n(SeatStatus::Available, next(4)));
        }
        statuses.resize(20_000, SeatStatus::Available);
        let (encoded, _) = encode_seat_states(&seats(&statuses));
        let gzipped = crate::gzip::compress(encoded.as_bytes()).len();
        eprintln!("20,000 seats mid-sale: {} bytes encoded, {gzipped} gzipped", encoded.len());
        assert!(gzipped < 8 * 1024, "{gzipped} bytes gzipped");
        assert_eq!(decode_seat_states(&encoded), Some(statuses));
    }
}
