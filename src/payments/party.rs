//! Who takes part and in which flow: identifiers shared by FX, the ledger and settlement.

use std::fmt;

/// A participant: a member bank, the Bakong switch (NBC), UPI, an acquirer. The simulator
/// assigns the numbers and keeps the names; the core only needs them to be distinct.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ParticipantId(pub u16);

impl fmt::Display for ParticipantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.0)
    }
}

/// The flows of the network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Flow {
    /// Phase 1: UnionPay wallets pay Cambodian merchants' KHQR codes.
    Inward,
    /// Phase 2: Bakong wallets pay UnionPay and WeChat Pay merchants in China.
    Outward,
    /// Workers send money home, in either direction.
    Remittance,
    /// Bakong payments inside Cambodia, sharing the switch.
    Domestic,
}

impl Flow {
    /// Every flow, in a fixed order.
    pub const ALL: [Flow; 4] = [Flow::Inward, Flow::Outward, Flow::Remittance, Flow::Domestic];

    /// The name used in files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Flow::Inward => "inward",
            Flow::Outward => "outward",
            Flow::Remittance => "remittance",
            Flow::Domestic => "domestic",
        }
    }

    /// The flow of this name, as [`Flow::name`] writes it.
    pub fn from_name(name: &str) -> Option<Flow> {
        Flow::ALL.into_iter().find(|f| f.name() == name)
    }
}
