//! The network's shape: the names of the standard nodes and links, the participants' nodes,
//! and each flow's default route. Every other module takes these names from here.
//!
//! A scenario may add nodes and links of its own (`[nodes.NAME]`, `[links.NAME]`) and give a
//! flow another route (`[routes.FLOW]`); without `[routes]` the network is the one below.
//!
//! | flow | route (nodes; the link crossed to reach each) | scheme | credit |
//! |---|---|---|---|
//! | inward | cn_issuer (payer_app) → upi (cn_backbone) → bakong_gateway (wan) → bakong_switch (kh_backbone) → kh_bank (kh_backbone) | upi | kh_bank |
//! | outward | kh_bank (payer_app) → bakong_switch (kh_backbone) → bakong_gateway (kh_backbone) → upi (wan) → cn_acquirer (cn_backbone) | upi | cn_acquirer |
//! | remittance | kh_bank (payer_app) → bakong_switch (kh_backbone) → bakong_gateway (kh_backbone) → upi (wan) → cn_issuer (cn_backbone) | upi | cn_issuer |
//! | domestic | kh_bank (payer_app) → bakong_switch (kh_backbone) → kh_bank (kh_backbone) | bakong_switch | bakong_switch |

use crate::payments::party::Flow;

/// A Chinese issuer's host, one node per issuer.
pub const CN_ISSUER: &str = "cn_issuer";
/// The UPI switch: the scheme, which keeps the scheme's clearing file.
pub const UPI: &str = "upi";
/// The Bakong cross-border gateway, where the switch's clearing file is kept.
pub const BAKONG_GATEWAY: &str = "bakong_gateway";
/// The Bakong switch.
pub const BAKONG_SWITCH: &str = "bakong_switch";
/// A Bakong member bank's host, one node per bank.
pub const KH_BANK: &str = "kh_bank";
/// A Chinese acquirer's host: WeChat Pay's and UnionPay's.
pub const CN_ACQUIRER: &str = "cn_acquirer";

/// The standard nodes, in the order the world numbers them (each node's random stream is
/// derived from its number, so this order is part of every run's result). Nodes a scenario
/// adds come after these, by name.
pub const NODES: [&str; 6] = [CN_ISSUER, UPI, BAKONG_GATEWAY, BAKONG_SWITCH, KH_BANK, CN_ACQUIRER];

/// The payer's phone to its bank or wallet.
pub const PAYER_APP: &str = "payer_app";
/// Inside China.
pub const CN_BACKBONE: &str = "cn_backbone";
/// UPI to the Bakong gateway, Shanghai to Phnom Penh.
pub const WAN: &str = "wan";
/// Inside Cambodia.
pub const KH_BACKBONE: &str = "kh_backbone";
/// The merchant's notification (app or soundbox).
pub const MERCHANT_NOTIFY: &str = "merchant_notify";

/// The standard links, in the order the world numbers them; added links come after, by name.
pub const LINKS: [&str; 5] = [PAYER_APP, CN_BACKBONE, WAN, KH_BACKBONE, MERCHANT_NOTIFY];

/// The Chinese acquirers: WeChat Pay's (0) and UnionPay's (1).
pub const CN_ACQUIRERS_COUNT: u32 = 2;

/// Most hops a route may have.
pub const ROUTE_HOPS_MAX: usize = 16;

/// A node that stands for one kind of participant: one node per participant of that kind, and
/// a payment uses the payer's or the payee's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Participants {
    /// One per Chinese issuer.
    CnIssuers,
    /// One per Bakong member bank.
    KhBanks,
    /// One per Chinese acquirer.
    CnAcquirers,
}

impl Participants {
    /// The participant kind a node stands for, if it stands for one.
    pub fn of_node(name: &str) -> Option<Participants> {
        match name {
            CN_ISSUER => Some(Participants::CnIssuers),
            KH_BANK => Some(Participants::KhBanks),
            CN_ACQUIRER => Some(Participants::CnAcquirers),
            _ => None,
        }
    }

    /// Its node's name.
    pub fn node(self) -> &'static str {
        match self {
            Participants::CnIssuers => CN_ISSUER,
            Participants::KhBanks => KH_BANK,
            Participants::CnAcquirers => CN_ACQUIRER,
        }
    }
}

/// Where a flow's payer and payee hold their accounts: the first and last nodes of its route.
pub fn ends(flow: Flow) -> [Participants; 2] {
    match flow {
        Flow::Inward => [Participants::CnIssuers, Participants::KhBanks],
        Flow::Outward => [Participants::KhBanks, Participants::CnAcquirers],
        Flow::Remittance => [Participants::KhBanks, Participants::CnIssuers],
        Flow::Domestic => [Participants::KhBanks, Participants::KhBanks],
    }
}

/// A route by name: hop `i` crosses `links[i]` to reach `nodes[i]` (hop 0 is the payer's own
/// institution, reached over the payer's app link); `scheme` is the hop that may fail with
/// the scheme's technical error, `credit` the hop that books the payee's side.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteNames {
    /// The nodes, in order.
    pub nodes: Vec<String>,
    /// The link crossed to reach each.
    pub links: Vec<String>,
    /// The scheme's node.
    pub scheme: String,
    /// The node that books the credit.
    pub credit: String,
}

/// A flow's route when the scenario gives none.
pub fn default_route(flow: Flow) -> RouteNames {
    let names = |x: &[&str]| x.iter().map(|s| (*s).to_string()).collect::<Vec<_>>();
    let (nodes, links, scheme, credit) = match flow {
        Flow::Inward => (
            [CN_ISSUER, UPI, BAKONG_GATEWAY, BAKONG_SWITCH, KH_BANK].as_slice(),
            [PAYER_APP, CN_BACKBONE, WAN, KH_BACKBONE, KH_BACKBONE].as_slice(),
            UPI,
            KH_BANK,
        ),
        Flow::Outward => (
            [KH_BANK, BAKONG_SWITCH, BAKONG_GATEWAY, UPI, CN_ACQUIRER].as_slice(),
            [PAYER_APP, KH_BACKBONE, KH_BACKBONE, WAN, CN_BACKBONE].as_slice(),
            UPI,
            CN_ACQUIRER,
        ),
        Flow::Remittance => (
            [KH_BANK, BAKONG_SWITCH, BAKONG_GATEWAY, UPI, CN_ISSUER].as_slice(),
            [PAYER_APP, KH_BACKBONE, KH_BACKBONE, WAN, CN_BACKBONE].as_slice(),
            UPI,
            CN_ISSUER,
        ),
        Flow::Domestic => (
            [KH_BANK, BAKONG_SWITCH, KH_BANK].as_slice(),
            [PAYER_APP, KH_BACKBONE, KH_BACKBONE].as_slice(),
            BAKONG_SWITCH,
            BAKONG_SWITCH,
        ),
    };
    RouteNames {
        nodes: names(nodes),
        links: names(links),
        scheme: scheme.to_string(),
        credit: credit.to_string(),
    }
}
