//! A member bank's liquidity at the settlement agent, in one currency, through a netting
//! cycle: how much it may owe (its cap: its prefunded balance, or a debit cap below it), what
//! it owes so far this cycle (its net debit position), and what payments already on their way
//! have reserved. A payment that would take the bank past its cap is refused before anything
//! is booked; the caller declines it or holds it for the next cycle.
//!
//! Amounts are the currency's minor units. A credit to the bank (it is owed) lowers its
//! position and so raises its headroom; a reversal books the opposite, and is never refused
//! (what is undone must be undone).

/// A reservation would take the bank past its cap.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("short of liquidity: {amount_minor} needed, {headroom_minor} left under the cap")]
pub struct Short {
    /// The amount asked for.
    pub amount_minor: i64,
    /// What was left.
    pub headroom_minor: i64,
}

/// One bank's liquidity in one currency.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Liquidity {
    cap: i64,
    position: i64,
    reserved: i64,
}

impl Liquidity {
    /// A bank that may owe at most `cap` this cycle, owing nothing yet.
    pub fn new(cap: i64) -> Liquidity {
        Liquidity { cap, position: 0, reserved: 0 }
    }

    /// What it may owe this cycle.
    pub fn cap(&self) -> i64 {
        self.cap
    }

    /// What it owes so far this cycle, net (negative: it is owed).
    pub fn position(&self) -> i64 {
        self.position
    }

    /// What payments on their way have reserved.
    pub fn reserved(&self) -> i64 {
        self.reserved
    }

    /// What is left under the cap (negative when a reversal or a credit undone pushed it over).
    pub fn headroom(&self) -> i64 {
        self.cap - self.position - self.reserved
    }

    /// Reserves `amount` for a payment that will make the bank owe it.
    ///
    /// # Errors
    /// [`Short`] when it would pass the cap; nothing is reserved.
    ///
    /// # Panics
    /// If `amount` is not positive.
    pub fn reserve(&mut self, amount: i64) -> Result<(), Short> {
        assert!(amount > 0, "a reservation is positive");
        let headroom = self.headroom();
        if amount > headroom {
            return Err(Short { amount_minor: amount, headroom_minor: headroom });
        }
        self.reserved += amount;
        Ok(())
    }

    /// A reservation of `amount` is given back (its payment booked nothing).
    ///
    /// # Panics
    /// If more is released than is reserved.
    pub fn release(&mut self, amount: i64) {
        assert!(0 < amount && amount <= self.reserved, "release {amount} of {}", self.reserved);
        self.reserved -= amount;
    }

    /// An obligation is booked: the bank owes `delta` more (negative: it is owed), and the
    /// `reserved` part of the reservations (what this obligation was reserved under) is spent.
    ///
    /// # Panics
    /// If more is spent than is reserved.
    pub fn book(&mut self, delta: i64, reserved: i64) {
        assert!(
            0 <= reserved && reserved <= self.reserved,
            "spend {reserved} of {}",
            self.reserved
        );
        self.reserved -= reserved;
        self.position += delta;
    }

    /// The cycle was settled: the bank now owes nothing this cycle, and may owe `cap` in the
    /// next (its balance after settlement, or its debit cap). Reservations carry over: their
    /// payments are still on their way.
    pub fn new_cycle(&mut self, cap: i64) {
        self.position = 0;
        self.cap = cap;
    }
}

#[cfg(test)]
mod tests {
    //! Goal: reservations stop at the cap, booking spends them, credits and new cycles give
    //! room back. Method: one bank's day by hand.

    use super::*;

    #[test]
    fn reservations_stop_at_the_cap_and_a_cycle_gives_room_back() {
        let mut l = Liquidity::new(1_000);
        l.reserve(600).expect("room");
        assert_eq!(l.reserve(500), Err(Short { amount_minor: 500, headroom_minor: 400 }));
        l.reserve(400).expect("exactly to the cap");
        assert_eq!(l.headroom(), 0);
        l.book(600, 600);
        l.release(400);
        assert_eq!((l.position(), l.reserved(), l.headroom()), (600, 0, 400));
        // Its merchants are paid 300: it is owed, so it may owe more.
        l.book(-300, 0);
        assert_eq!(l.headroom(), 700);
        // A reversal of a credit it received is booked even past the cap.
        l.book(1_500, 0);
        assert_eq!(l.headroom(), -800);
        assert!(l.reserve(1).is_err());
        l.new_cycle(2_000);
        assert_eq!((l.position(), l.headroom()), (0, 2_000));
    }

    #[test]
    #[should_panic(expected = "release")]
    fn releasing_what_was_not_reserved_is_a_bug() {
        Liquidity::new(10).release(1);
    }
}
