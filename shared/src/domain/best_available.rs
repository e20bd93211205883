//! Best available (issue 19): which `count` adjacent seats to offer a buyer who asks for "the best
//! N seats", chosen from the event's seat statuses. Written once for every backend, and pure: the
//! store still referees each block the caller then holds (`HoldStore::hold`, all or none), so a
//! stale or raced view can only cost a retry, never sell a seat twice.
//!
//! Venues are rows of numbered seats (a row belongs to a section in a venue drawn as a layout),
//! each row of one tier; seats' positions and `aisle` attributes are not used yet. So:
//! - **adjacent** means consecutive seat numbers next to each other in one row of the seat map
//!   (a gap in the numbering counts as an aisle, and so do two neighbours both marked `aisle`: a
//!   block never spans one);
//! - **nearest the stage centre** means the earliest row (the venue's row order, the seat map's
//!   order), then, within a row, the block whose middle is nearest the row's middle (the mean of
//!   the row's lowest and highest seat number), then the lower seat number;
//! - **a stranded seat** is a free seat left alone by a block: between the block and a taken
//!   seat, a row end or an aisle. The picker never chooses a block that strands a seat when a
//!   block of that size that strands none exists in the view it chose from; when every block
//!   strands one, it takes the best of those (a buyer is not refused seats that exist).

use std::sync::Arc;

use uuid::Uuid;

use super::{HoldLimit, Invalid, SeatAttribute, SeatLabel, SeatSelection, SeatState, SeatStatus};

/// What a buyer asks for: `count` adjacent seats, of `tier` and in `section` when given; for a
/// wheelchair user (`accessible`), one wheelchair space and `count - 1` companion seats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BestAvailable {
    count: usize,
    tier: Option<String>,
    section: Option<String>,
    accessible: bool,
    /// Whether the event holds its wheelchair spaces and companion seats back now (before its
    /// accessible release): a general ask then never gets one. Set by whoever knows the event.
    held_back: bool,
}

impl BestAvailable {
    /// `count` 1 to 10 and at most what one account may hold of an event; `tier` not blank.
    pub fn parse(count: i64, tier: Option<String>, limit: HoldLimit) -> Result<Self, Invalid> {
        let max = SeatSelection::MAX_SEATS.min(limit.seats() as usize);
        let count = usize::try_from(count).ok().filter(|c| (1..=max).contains(c));
        let Some(count) = count else {
            return Err(Invalid::new("best_available.count", format!("must be 1 to {max} seats")));
        };
        let tier = match tier.map(|t| t.trim().to_owned()) {
            Some(t) if t.is_empty() => return Err(Invalid::new("best_available.tier", "must not be empty")),
            tier => tier,
        };
        Ok(Self { count, tier, section: None, accessible: false, held_back: false })
    }

    /// The same ask for a wheelchair user: one wheelchair space and `count - 1` adjacent companion
    /// seats, so `count` at most 1 + `MAX_COMPANIONS_PER_SPACE`.
    pub fn for_wheelchair_user(self, accessible: bool) -> Result<Self, Invalid> {
        let max = 1 + super::MAX_COMPANIONS_PER_SPACE;
        if accessible && self.count > max {
            let message = format!(
                "must be 1 to {max} seats with `accessible`: a wheelchair space and up to {} companion seats",
                max - 1
            );
            return Err(Invalid::new("best_available.count", message));
        }
        Ok(Self { accessible, ..self })
    }

    /// The same ask, knowing whether the event holds its accessible seats back now.
    pub fn holding_back(self, held_back: bool) -> Self {
        Self { held_back, ..self }
    }

    pub fn accessible(&self) -> bool {
        self.accessible
    }

    /// Only seats of the section of this name (of a venue drawn as a layout); not blank.
    pub fn in_section(self, section: Option<String>) -> Result<Self, Invalid> {
        let section = match section.map(|s| s.trim().to_owned()) {
            Some(s) if s.is_empty() => return Err(Invalid::new("best_available.section", "must not be empty")),
            section => section,
        };
        Ok(Self { section, ..self })
    }

    pub fn count(&self) -> usize {
        self.count
    }

    pub fn tier(&self) -> Option<&str> {
        self.tier.as_deref()
    }

    pub fn section(&self) -> Option<&str> {
        self.section.as_deref()
    }

    fn admits(&self, seat: &SeatState) -> bool {
        self.tier.as_deref().is_none_or(|tier| seat.tier == tier)
            && self.section.as_deref().is_none_or(|section| seat.section.as_deref() == Some(section))
            && if self.accessible {
                super::is_accessible_seat(&seat.attributes)
            } else {
                !(self.held_back && super::is_accessible_seat(&seat.attributes))
            }
    }

    /// Whether a block of seats the ask admits one by one is what it asks for as a whole: for a
    /// wheelchair user, exactly one wheelchair space (the others companion seats).
    fn admits_block(&self, seats: &[SeatState]) -> bool {
        !self.accessible || seats.iter().filter(|s| s.attributes.contains(&SeatAttribute::Wheelchair)).count() == 1
    }

    /// What a buyer reads when no block of this ask is free (409 `seat_unavailable`).
    pub fn no_block_detail(&self) -> String {
        let mut which = self.tier().map(|t| format!(" of tier {t}")).unwrap_or_default();
        if let Some(section) = self.section() {
            which.push_str(&format!(" in {section}"));
        }
        match (self.accessible(), self.count()) {
            (true, 1) => format!("No wheelchair space{which} is free."),
            (true, 2) => format!("No wheelchair space{which} with 1 companion seat beside it is free."),
            (true, n) => format!("No wheelchair space{which} with {} companion seats beside it is free.", n - 1),
            (false, 1) => format!("No seat{which} is free."),
            (false, n) => format!("No {n} adjacent seats{which} are free in one row."),
        }
    }
}

/// `count` adjacent seats of one row: positions `start..start + len` of the seat map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub start: usize,
    pub len: usize,
    /// Whether choosing it leaves a single free seat beside it, in the view it was chosen from.
    pub strands: bool,
}

impl Block {
    pub fn positions(&self) -> std::ops::Range<usize> {
        self.start..self.start + self.len
    }
}

/// A row of the seat map: positions `start..end`, and twice its middle seat number.
#[derive(Debug, Clone, Copy)]
struct Row {
    start: usize,
    end: usize,
    middle2: i64,
}

/// An event's seats as one buyer sees them: the statuses read from the store, with the seats
/// this buyer has since found taken (its lost holds) marked so.
#[derive(Debug, Clone)]
pub struct SeatView {
    seats: Arc<[SeatState]>,
    free: Vec<bool>,
    rows: Vec<Row>,
}

impl SeatView {
    /// `seats` in the seat map's order (rows in the venue's order, then seat numbers).
    pub fn new(seats: Arc<[SeatState]>) -> Self {
        let free = seats.iter().map(|s| s.status == SeatStatus::Available).collect();
        let mut rows: Vec<Row> = Vec::new();
        for (i, seat) in seats.iter().enumerate() {
            match rows.last_mut() {
                // A row is a section's row: two sections may both have a row "A".
                Some(row) if seats[row.start].row == seat.row && seats[row.start].section == seat.section => {
                    row.end = i + 1
                }
                _ => rows.push(Row { start: i, end: i + 1, middle2: 0 }),
            }
        }
        for row in &mut rows {
            let numbers = seats[row.start..row.end].iter().map(|s| i64::from(s.seat_number));
            let (low, high) = numbers.fold((i64::MAX, i64::MIN), |(lo, hi), n| (lo.min(n), hi.max(n)));
            row.middle2 = low + high;
        }
        Self { seats, free, rows }
    }

    pub fn seats(&self) -> &[SeatState] {
        &self.seats
    }

    pub fn is_free(&self, position: usize) -> bool {
        self.free[position]
    }

    /// The seat ids of a block, for the hold.
    pub fn seat_ids(&self, block: &Block) -> Vec<Uuid> {
        self.seats[block.positions()].iter().map(|s| s.seat_id).collect()
    }

    /// Whether any seat of the map has this tier.
    pub fn has_tier(&self, tier: &str) -> bool {
        self.seats.iter().any(|s| s.tier == tier)
    }

    /// Whether any seat of the map is in the section of this name.
    pub fn has_section(&self, section: &str) -> bool {
        self.seats.iter().any(|s| s.section.as_deref() == Some(section))
    }

    /// Marks the seats a lost hold named as taken; how many were free in the view.
    pub fn mark_taken(&mut self, labels: &[SeatLabel]) -> usize {
        let mut marked = 0;
        for (i, seat) in self.seats.iter().enumerate() {
            if self.free[i]
                && labels
                    .iter()
                    .any(|l| l.section == seat.section && l.row == seat.row && l.seat_number == seat.seat_number)
            {
                self.free[i] = false;
                marked += 1;
            }
        }
        marked
    }

    /// Marks every seat of a block taken (a block this view's buyer, or a simulated one, holds).
    pub fn take(&mut self, block: &Block) {
        self.free[block.positions()].fill(false);
    }

    /// Frees the seats of `block` that are free in `base` (the same seats' statuses as read, less
    /// those found taken since): a block claimed and then not held is given back.
    pub fn free_as_in(&mut self, block: &Block, base: &SeatView) {
        let end = block.positions().end.min(self.free.len()).min(base.free.len());
        for position in block.start.min(end)..end {
            self.free[position] |= base.free[position];
        }
    }

    /// Whether position `i + 1` is the seat next to `i` in the same row (no aisle between them:
    /// neither a gap in the numbering nor two neighbours both marked `aisle`, which an aisle runs
    /// between).
    fn adjacent(&self, row: &Row, i: usize) -> bool {
        let on_aisle = |seat: &SeatState| seat.attributes.contains(&SeatAttribute::Aisle);
        i + 1 < row.end
            && self.seats[i + 1].seat_number == self.seats[i].seat_number + 1
            && !(on_aisle(&self.seats[i]) && on_aisle(&self.seats[i + 1]))
    }

    /// Runs of free adjacent seats of a row, as `(start, end)` positions.
    fn gaps(&self, row: &Row) -> Vec<(usize, usize)> {
        let mut gaps = Vec::new();
        let mut i = row.start;
        while i < row.end {
            if !self.free[i] {
                i += 1;
                continue;
            }
            let start = i;
            while self.adjacent(row, i) && self.free[i + 1] {
                i += 1;
            }
            gaps.push((start, i + 1));
            i += 1;
        }
        gaps
    }

    /// The best block for `want` in this view (see the module's ranking), or `None` when no
    /// `count` adjacent free seats (of the tier) exist in one row.
    pub fn best(&self, want: &BestAvailable) -> Option<Block> {
        // (strands, row, distance of the block's middle from the row's, first seat number).
        let mut best: Option<((bool, usize, i64, i32), Block)> = None;
        for (r, row) in self.rows.iter().enumerate() {
            // A block that strands nothing in an earlier row beats anything in this one.
            if best.as_ref().is_some_and(|(key, _)| !key.0) {
                break;
            }
            for (start, end) in self.gaps(row) {
                let length = end - start;
                if length < want.count {
                    continue;
                }
                for offset in 0..=length - want.count {
                    let first = start + offset;
                    let seats = &self.seats[first..first + want.count];
                    if !seats.iter().all(|s| want.admits(s)) || !want.admits_block(seats) {
                        continue;
                    }
                    let after = length - want.count - offset;
                    let strands = offset == 1 || after == 1;
                    let middle2 = i64::from(seats[0].seat_number) + i64::from(seats[want.count - 1].seat_number);
                    let key = (strands, r, (middle2 - row.middle2).abs(), seats[0].seat_number);
                    if best.as_ref().is_none_or(|(k, _)| key < *k) {
                        best = Some((key, Block { start: first, len: want.count, strands }));
                    }
                }
            }
        }
        best.map(|(_, block)| block)
    }

    /// Up to `max` blocks to choose among, best first: the blocks a run of buyers asking for the
    /// same would get one after another from this view (each taken before the next is chosen), so
    /// buyers who raced for the same block and lost can spread over the next ones instead of all
    /// racing again for one. Each is judged in this view itself: when a block that strands no
    /// seat exists here, only such blocks are offered.
    pub fn choices(&self, want: &BestAvailable, max: usize) -> Vec<Block> {
        let Some(first) = self.best(want) else { return Vec::new() };
        let mut choices = vec![first];
        let mut packed = self.clone();
        packed.take(&first);
        while choices.len() < max {
            let Some(next) = packed.best(want) else { break };
            packed.take(&next);
            let here = Block { strands: self.strands(&next), ..next };
            if first.strands || !here.strands {
                choices.push(here);
            }
        }
        choices
    }

    /// Whether holding `block` would leave a single free seat beside it in this view (its seats
    /// must be free here).
    pub fn strands(&self, block: &Block) -> bool {
        let Some(row) = self.rows.iter().find(|r| r.start <= block.start && block.start < r.end) else {
            return false;
        };
        let last = block.start + block.len - 1;
        let single_before = block.start > row.start
            && self.adjacent(row, block.start - 1)
            && self.free[block.start - 1]
            && !(block.start - 1 > row.start && self.adjacent(row, block.start - 2) && self.free[block.start - 2]);
        let single_after =
            self.adjacent(row, last) && self.free[last + 1] && !(self.adjacent(row, last + 1) && self.free[last + 2]);
        single_before || single_after
    }

    /// The free seats with no free seat beside them (taken seats, row ends or aisles on both
    /// sides): what a checker walking a final map counts.
    pub fn lone_free_seats(&self) -> Vec<usize> {
        let mut lone = Vec::new();
        for row in &self.rows {
            for (start, end) in self.gaps(row) {
                if end - start == 1 {
                    lone.push(start);
                }
            }
        }
        lone
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_section_asked_for_is_the_only_one_chosen_from() {
        let mut seats: Vec<SeatState> = venue(&[("A", 4, "standard"), ("A", 4, "standard")]).seats().to_vec();
        for (i, seat) in seats.iter_mut().enumerate() {
            seat.section = Some(if i < 4 { "Parterre" } else { "Balcony" }.into());
        }
        let view = SeatView::new(seats.into());
        let want = want(2, None).in_section(Some(" Balcony ".into())).unwrap();
        let block = view.best(&want).expect("a block in the balcony");
        assert!(view.seats()[block.positions()].iter().all(|s| s.section.as_deref() == Some("Balcony")));
        assert!(view.has_section("Parterre") && !view.has_section("Box"));
        let nowhere = want.clone().in_section(Some("Box".into())).unwrap();
        assert_eq!(view.best(&nowhere), None);
        assert_eq!(want.in_section(Some(" ".into())).unwrap_err().field, "best_available.section");
    }

    #[test]
    fn a_block_never_spans_two_neighbours_both_on_an_aisle() {
        let mut seats: Vec<SeatState> = venue(&[("A", 6, "standard")]).seats().to_vec();
        // An aisle runs between seats 3 and 4.
        seats[2].attributes = vec![SeatAttribute::Aisle];
        seats[3].attributes = vec![SeatAttribute::Aisle];
        let view = SeatView::new(seats.into());
        let want = BestAvailable::parse(4, None, HoldLimit::default()).unwrap();
        assert_eq!(view.best(&want), None, "no 4 adjacent seats on either side of the aisle");
        let want = BestAvailable::parse(3, None, HoldLimit::default()).unwrap();
        assert!(view.best(&want).is_some());
    }

    #[test]
    fn a_wheelchair_user_gets_a_space_with_companions_and_others_none_while_held_back() {
        // Row A: seats 1-6 plain; row B: 1 plain, 2 wheelchair, 3-4 companion, 5-6 plain.
        let mut seats: Vec<SeatState> = venue(&[("A", 6, "standard"), ("B", 6, "standard")]).seats().to_vec();
        seats[7].attributes = vec![SeatAttribute::Wheelchair];
        seats[8].attributes = vec![SeatAttribute::Companion];
        seats[9].attributes = vec![SeatAttribute::Companion];
        let mut view = SeatView::new(seats.into());
        let accessible = |count| want(count, None).for_wheelchair_user(true).unwrap().holding_back(true);
        let block = view.best(&accessible(3)).expect("the space and its two companions");
        assert_eq!(named(&view, block), ("B".to_owned(), vec![2, 3, 4]));
        assert_eq!(view.best(&accessible(4)), None, "only two companion seats beside the space");
        assert_eq!(want(5, None).for_wheelchair_user(true).unwrap_err().field, "best_available.count");
        // A general ask for 6 gets row A; once A is taken, no 6 in row B while held back, and after
        // the release the whole of row B.
        let general = want(6, None).holding_back(true);
        assert_eq!(named(&view, view.best(&general).unwrap()).0, "A");
        view.take(&Block { start: 0, len: 6, strands: false });
        assert_eq!(view.best(&general), None);
        assert!(view.best(&want(2, None).holding_back(true)).is_some_and(|b| named(&view, b).1 == vec![5, 6]));
        assert_eq!(named(&view, view.best(&want(6, None).holding_back(false)).unwrap()).0, "B");
    }

    /// A venue of `rows` (label, seats, tier), every seat free.
    fn venue(rows: &[(&str, i32, &str)]) -> SeatView {
        let mut seats = Vec::new();
        for (row, count, tier) in rows {
            for n in 1..=*count {
                seats.push(SeatState {
                    seat_id: Uuid::from_u128(seats.len() as u128),
                    row: (*row).into(),
                    seat_number: n,
                    tier: (*tier).into(),
                    price_cents: 1000,
                    status: SeatStatus::Available,
                    section: None,
                    x: None,
                    y: None,
                    attributes: Vec::new(),
                });
            }
        }
        SeatView::new(seats.into())
    }

    fn want(count: i64, tier: Option<&str>) -> BestAvailable {
        BestAvailable::parse(count, tier.map(Into::into), HoldLimit::default()).expect("a valid ask")
    }

    /// The (row, seat numbers) of a block.
    fn named(view: &SeatView, block: Block) -> (String, Vec<i32>) {
        let seats = &view.seats()[block.positions()];
        (seats[0].row.clone(), seats.iter().map(|s| s.seat_number).collect())
    }

    fn take_numbers(view: &mut SeatView, row: &str, numbers: &[i32]) {
        let labels: Vec<SeatLabel> = numbers
            .iter()
            .map(|&n| SeatLabel { section: None, row: row.into(), seat_number: n, tier: String::new() })
            .collect();
        view.mark_taken(&labels);
    }

    #[test]
    fn the_ask_is_one_to_ten_seats_within_the_hold_limit_and_a_tier_not_blank() {
        let limit = HoldLimit::default();
        assert_eq!(BestAvailable::parse(0, None, limit).unwrap_err().field, "best_available.count");
        assert_eq!(BestAvailable::parse(11, None, limit).unwrap_err().field, "best_available.count");
        assert_eq!(BestAvailable::parse(-1, None, limit).unwrap_err().field, "best_available.count");
        assert_eq!(BestAvailable::parse(10, None, limit).unwrap().count(), 10);
        let four = HoldLimit::new(4).unwrap();
        assert_eq!(BestAvailable::parse(5, None, four).unwrap_err().message, "must be 1 to 4 seats");
        assert_eq!(BestAvailable::parse(2, Some(" ".into()), limit).unwrap_err().field, "best_available.tier");
        assert_eq!(BestAvailable::parse(2, Some(" vip ".into()), limit).unwrap().tier(), Some("vip"));
    }

    #[test]
    fn the_front_row_centre_comes_first() {
        let view = venue(&[("A", 10, "standard"), ("B", 10, "standard")]);
        assert_eq!(named(&view, view.best(&want(2, None)).unwrap()), ("A".into(), vec![5, 6]));
        // An odd block in an even row: two middles are as near; the lower seat number wins.
        assert_eq!(named(&view, view.best(&want(3, None)).unwrap()), ("A".into(), vec![4, 5, 6]));
        assert_eq!(named(&view, view.best(&want(10, None)).unwrap()), ("A".into(), (1..=10).collect()));
    }

    #[test]
    fn a_block_never_spans_rows_or_an_aisle_and_goes_back_when_the_front_is_full() {
        let mut view = venue(&[("A", 4, "standard"), ("B", 6, "standard")]);
        take_numbers(&mut view, "A", &[2]);
        // Row A has 1 and 3-4 free: no three adjacent; row B has them (B1-B3: the middle blocks
        // B2-B4 and B3-B5 would leave B1 or B6 alone).
        assert_eq!(named(&view, view.best(&want(3, None)).unwrap()), ("B".into(), vec![1, 2, 3]));
        assert_eq!(view.best(&want(7, None)), None, "no row has seven seats");
        // A gap in the numbering is an aisle.
        let mut seats: Vec<SeatState> = venue(&[("A", 6, "standard")]).seats().to_vec();
        seats.retain(|s| s.seat_number != 3);
        let aisle = SeatView::new(seats.into());
        assert_eq!(named(&aisle, aisle.best(&want(3, None)).unwrap()), ("A".into(), vec![4, 5, 6]));
        assert_eq!(aisle.best(&want(4, None)), None);
    }

    #[test]
    fn the_tier_filter_picks_only_seats_of_that_tier() {
        let view = venue(&[("A", 10, "vip"), ("B", 10, "standard"), ("C", 10, "standard")]);
        assert_eq!(named(&view, view.best(&want(2, Some("standard"))).unwrap()), ("B".into(), vec![5, 6]));
        assert_eq!(named(&view, view.best(&want(2, Some("vip"))).unwrap()), ("A".into(), vec![5, 6]));
        assert_eq!(view.best(&want(2, Some("balcony"))), None);
        assert!(view.has_tier("vip") && !view.has_tier("balcony"));
    }

    #[test]
    fn a_single_seat_is_not_stranded_when_another_choice_avoids_it() {
        // Row A: 1-2 taken, 3-6 free (4), 7-8 taken, 9-12 free. Three seats from 3-6 or 9-12 would
        // leave one alone; from a wider gap they would not.
        let mut view = venue(&[("A", 12, "standard"), ("B", 12, "standard")]);
        take_numbers(&mut view, "A", &[1, 2, 7, 8]);
        let block = view.best(&want(3, None)).unwrap();
        assert!(!block.strands);
        assert_eq!(named(&view, block), ("B".into(), vec![5, 6, 7]), "row B rather than a stranded seat in A");
        // Two seats fit 3-6 without stranding (3-4 or 5-6): row A still.
        let pair = view.best(&want(2, None)).unwrap();
        assert_eq!(named(&view, pair), ("A".into(), vec![5, 6]));
        assert!(!view.strands(&pair));
        // When every block strands one, the best of them is taken rather than nothing.
        let mut tight = venue(&[("A", 4, "standard")]);
        take_numbers(&mut tight, "A", &[1]);
        let forced = tight.best(&want(2, None)).unwrap();
        assert!(forced.strands && tight.strands(&forced));
        assert_eq!(named(&tight, forced), ("A".into(), vec![2, 3]));
    }

    #[test]
    fn choices_are_what_buyers_after_one_another_would_get_and_strand_nothing() {
        let view = venue(&[("A", 10, "standard"), ("B", 10, "standard")]);
        let choices = view.choices(&want(2, None), 6);
        let names: Vec<_> = choices.iter().map(|b| named(&view, *b)).collect();
        assert_eq!(names[0], ("A".into(), vec![5, 6]));
        assert_eq!(choices.len(), 6);
        assert!(choices.iter().all(|b| !b.strands && !view.strands(b)));
        for (i, a) in choices.iter().enumerate() {
            for b in &choices[i + 1..] {
                assert!(a.positions().all(|p| !b.positions().contains(&p)), "choices never overlap");
            }
        }
        assert_eq!(view.choices(&want(2, None), 1), vec![choices[0]]);
    }

    /// Buyers one after another (no race): 200 groups of 2 to 4 on 20 rows of 100 never leave a
    /// lone free seat, and every group is adjacent in one row.
    #[test]
    fn buyers_one_after_another_leave_no_lone_seat() {
        let rows: Vec<(String, i32, &str)> = (1..=20).map(|r| (format!("R{r}"), 100, "standard")).collect();
        let rows: Vec<(&str, i32, &str)> = rows.iter().map(|(r, n, t)| (r.as_str(), *n, *t)).collect();
        let mut view = venue(&rows);
        for buyer in 0..200 {
            let ask = want(2 + (buyer * 7 % 3) as i64, None);
            let block = view.best(&ask).expect("room for every group");
            assert!(!block.strands);
            let seats = &view.seats()[block.positions()];
            assert!(seats.windows(2).all(|w| w[0].row == w[1].row && w[1].seat_number == w[0].seat_number + 1));
            view.take(&block);
        }
        assert_eq!(view.lone_free_seats(), Vec::<usize>::new());
        assert!(view.free.iter().filter(|f| !**f).count() > 500);
    }
}
