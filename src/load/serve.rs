//! `sim serve`: a scenario's network in one process on loopback sockets, the payer apps' HTTP
//! API in front, the durable journal behind the switch.
//!
//! Start-up: open the journal (refusing a file that is not ours), recover from it (statuses,
//! idempotency keys, the switch's settlement ledger rebuilt and its invariants checked; every
//! payment left open is reversed: its advice is journaled and sent when the links are up),
//! start the switch's and UPI's listeners, sign every member on, then answer the API.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use rust_decimal::RoundingStrategy;
use sha2::Digest;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::journal::{
    self, Accepted, Booking, Entry, Journal, SettlementBook, Writer, WriterStats,
};
use super::link::{self, LinkShared};
use super::network::{Inbound, Member, PayOrder, Relay, Role, Setup, Shared, now, outcome_of};
use crate::payments::clearing::Rrn;
use crate::payments::ledger::TransferId;
use crate::payments::money::{Currency, Money};
use crate::payments::network::iso8583::{
    InstitutionId, MacKey, PaymentFrame, Processing, TransmissionTime,
};
use crate::payments::network::{Message, Mti, Outcome, Stan, app};
use crate::payments::party::Flow;
use crate::payments::qr::{self, PayloadKind};
use crate::scenario::Scenario;
use crate::sim::network::Latency;
use crate::sim::world::config::{Config, FailureRates};

/// The largest request body the API reads.
pub const BODY_BYTES_MAX: usize = 16 * 1024;

/// The largest QR payload the API takes.
pub const QR_CHARS_MAX: usize = 1024;

/// Payments in flight at once before the API answers 503.
pub const IN_FLIGHT_MAX: usize = 200_000;

/// The participants' keys and the originators' API tokens.
#[derive(Clone, Debug, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFile {
    /// Each participant's link key, 64 hex digits, by name.
    pub keys: BTreeMap<String, String>,
    /// Each originator's bearer token, by name.
    pub tokens: BTreeMap<String, String>,
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The journal.
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    /// A socket.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// The error.
        source: std::io::Error,
    },
    /// A link's sign-on.
    #[error(transparent)]
    Link(#[from] link::LinkError),
    /// The key file.
    #[error("key file: {0}")]
    Keys(String),
    /// The journal's books do not balance.
    #[error("journal: the settlement ledger rebuilt from it breaks an invariant: {0}")]
    Ledger(String),
    /// A participant stopped while serving.
    #[error("the network stopped: {0}")]
    Stopped(String),
    /// An address that is not loopback, without `--allow-remote`.
    #[error(
        "{0} is not a loopback address; name it together with --allow-remote to serve beyond this machine"
    )]
    NotLoopback(SocketAddr),
}

/// What `sim serve` is told.
pub struct ServeOptions {
    /// The API's address.
    pub listen: SocketAddr,
    /// Whether a non-loopback address is allowed.
    pub allow_remote: bool,
    /// The journal's path.
    pub journal: std::path::PathBuf,
    /// Real time is emulated time divided by this.
    pub speedup: f64,
    /// Keys and tokens.
    pub keys: KeyFile,
    /// A new file to capture the first frames sent on the links into (hex, one per line).
    pub capture: Option<std::fs::File>,
    /// Whether the emulated far sides take the scenario's time (off: they answer at once, so
    /// that the latency measured is the server's own, as the model check wants).
    pub far_delays: bool,
}

/// Every participant of a scenario's network.
pub fn roles(s: &Scenario) -> Vec<Role> {
    let banks = u16::try_from(s.population.bank_shares_pct.len()).expect("at most 64");
    let issuers = u16::try_from(s.population.cn_issuer_shares_pct.len()).expect("at most 64");
    let acquirers = u16::try_from(crate::scenario::topology::CN_ACQUIRERS_COUNT).expect("2");
    let mut out = vec![Role::Switch, Role::Upi];
    out.extend((0..banks).map(Role::KhBank));
    out.extend((0..issuers).map(Role::CnIssuer));
    out.extend((0..acquirers).map(Role::CnAcquirer));
    out
}

/// Whether a role originates payments for payers (and so has an API token).
pub fn originates(role: Role) -> bool {
    matches!(role, Role::KhBank(_) | Role::CnIssuer(_))
}

/// What the API reads.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct PayRequest {
    /// The merchant's code (a payment), or
    #[serde(default)]
    qr: Option<String>,
    /// the recipient (a remittance).
    #[serde(default)]
    recipient: Option<Recipient>,
    amount: String,
    currency: String,
    payer: String,
    idempotency_key: String,
}

/// A remittance's recipient: an account at a Chinese issuer.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Recipient {
    /// The issuer, by participant name (`cn_issuer_3`).
    institution: String,
    /// The account (a UnionPay card number): 12 to 19 digits.
    account: String,
}

/// The payee of a payer's request, once checked.
struct Payee {
    flow: Flow,
    role: Role,
    account: String,
    /// The payee's amount, when it is not the amount the payer named.
    amount: Option<Money>,
    /// What the payer pays, when another currency.
    billing: Option<Money>,
}

struct Api {
    tokens: BTreeMap<String, Role>,
    inboxes: BTreeMap<Role, mpsc::UnboundedSender<Inbound>>,
    shared: Arc<Shared>,
    refusals: Arc<LinkShared>,
    writer_stats: Arc<WriterStats>,
    idempotency: std::sync::Mutex<BTreeMap<(String, String), (u64, String)>>,
    next_id: std::sync::atomic::AtomicU64,
    in_flight: std::sync::atomic::AtomicUsize,
    timeouts: BTreeMap<Flow, Duration>,
    khr_per_cny: rust_decimal::Decimal,
    usd_per_cny: rust_decimal::Decimal,
}

fn json_response(code: StatusCode, body: &impl serde::Serialize) -> Response<Full<Bytes>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(bytes)))
        .expect("a valid response")
}

fn error(code: StatusCode, message: &str) -> Response<Full<Bytes>> {
    json_response(code, &serde_json::json!({"error": message}))
}

impl Api {
    async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let path = req.uri().path().to_string();
        match (req.method().clone(), path.as_str()) {
            (Method::GET, "/healthz") => {
                json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
            }
            (Method::GET, "/metrics") => Response::builder()
                .header("content-type", "text/plain; version=0.0.4")
                .body(Full::new(Bytes::from(self.metrics())))
                .expect("a valid response"),
            (Method::POST, "/v1/payments") => self.pay(req).await,
            (Method::GET, p) if p.starts_with("/v1/payments/") => {
                let Ok(id) = p["/v1/payments/".len()..].parse::<u64>() else {
                    return error(StatusCode::BAD_REQUEST, "the payment id is a number");
                };
                let Some(_) = self.originator(&req) else {
                    return error(
                        StatusCode::UNAUTHORIZED,
                        "a bearer token of an originator is required",
                    );
                };
                match self.shared.statuses.lock().expect("not poisoned").get(&id) {
                    Some(s) => json_response(StatusCode::OK, s),
                    None => error(StatusCode::NOT_FOUND, "no such payment"),
                }
            }
            _ => error(
                StatusCode::NOT_FOUND,
                "no such route: POST /v1/payments, GET /v1/payments/{id}, GET /healthz, GET /metrics",
            ),
        }
    }

    fn originator(&self, req: &Request<Incoming>) -> Option<Role> {
        let auth = req.headers().get("authorization")?.to_str().ok()?;
        let token = auth.strip_prefix("Bearer ")?;
        self.tokens.get(token).copied()
    }

    async fn pay(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
        let Some(originator) = self.originator(&req) else {
            return error(StatusCode::UNAUTHORIZED, "a bearer token of an originator is required");
        };
        let body = match Limited::new(req.into_body(), BODY_BYTES_MAX).collect().await {
            Ok(b) => b.to_bytes(),
            Err(_) => {
                return error(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    &format!("the body is over {BODY_BYTES_MAX} bytes"),
                );
            }
        };
        let request: PayRequest = match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("the body is not a payment request: {e}"),
                );
            }
        };
        let mut order = match self.order(originator, &request, &body) {
            Ok(order) => order,
            Err((code, message)) => return error(code, &message),
        };
        // Idempotency: the same key with the same request answers the first payment.
        let key = (originator.name(), request.idempotency_key.clone());
        {
            let mut map = self.idempotency.lock().expect("not poisoned");
            if let Some((id, digest)) = map.get(&key) {
                if *digest != order.accepted.request_sha256 {
                    return error(
                        StatusCode::UNPROCESSABLE_ENTITY,
                        "this idempotency key was used for another request",
                    );
                }
                let status = self.shared.statuses.lock().expect("not poisoned").get(id).cloned();
                return match status {
                    Some(s) => json_response(
                        if s.status == "pending" { StatusCode::ACCEPTED } else { StatusCode::OK },
                        &s,
                    ),
                    None => {
                        error(StatusCode::CONFLICT, "this payment is being accepted; ask again")
                    }
                };
            }
            // Numbers are given only to new payments, so they count the payments accepted.
            let id = self.next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            order.id = id;
            order.accepted.id = id;
            map.insert(key, (id, order.accepted.request_sha256.clone()));
        }
        use std::sync::atomic::Ordering::Relaxed;
        if self.in_flight.fetch_add(1, Relaxed) >= IN_FLIGHT_MAX {
            self.in_flight.fetch_sub(1, Relaxed);
            return error(StatusCode::SERVICE_UNAVAILABLE, "too many payments in flight");
        }
        let (tx, rx) = oneshot::channel();
        let inbox = &self.inboxes[&originator];
        let sent = inbox.send(Inbound::Pay(Box::new(order), tx));
        let status = match sent {
            Ok(()) => rx.await.ok(),
            Err(_) => None,
        };
        self.in_flight.fetch_sub(1, Relaxed);
        match status {
            Some(s) if s.status == "pending" => json_response(StatusCode::ACCEPTED, &s),
            Some(s) => json_response(StatusCode::OK, &s),
            None => error(StatusCode::SERVICE_UNAVAILABLE, "the originator is not running"),
        }
    }

    /// The order of a payer's request, checked in the order reported.
    fn order(
        &self,
        originator: Role,
        r: &PayRequest,
        body: &[u8],
    ) -> Result<PayOrder, (StatusCode, String)> {
        let bad = |m: String| (StatusCode::BAD_REQUEST, m);
        if r.idempotency_key.is_empty() || r.idempotency_key.len() > 64 {
            return Err(bad("idempotency_key: 1 to 64 characters".into()));
        }
        if r.payer.is_empty()
            || r.payer.len() > 28
            || !r.payer.bytes().all(|b| (0x21..=0x7e).contains(&b))
        {
            return Err(bad("payer: 1 to 28 printable ASCII characters without spaces".into()));
        }
        let currency = Currency::from_alpha(&r.currency)
            .ok_or_else(|| bad(format!("currency: {:?} is not KHR, USD or CNY", r.currency)))?;
        let amount = Money::parse(&r.amount, currency).map_err(|e| bad(format!("amount: {e}")))?;
        if amount.minor <= 0 {
            return Err(bad("amount: must be positive".into()));
        }
        let payee = match (&r.qr, &r.recipient) {
            (Some(qr), None) => self.merchant(originator, qr, amount)?,
            (None, Some(recipient)) => self.recipient(originator, recipient, amount)?,
            _ => return Err(bad("give either qr (a payment) or recipient (a remittance)".into())),
        };
        let flow = payee.flow;
        let md5 = md5::Md5::digest(r.qr.as_deref().unwrap_or(&payee.account).as_bytes());
        let id = 0; // Given by the caller once the idempotency key is known to be new.
        let digest = sha2::Sha256::digest(body);
        let request_sha256 = digest.iter().map(|b| format!("{b:02x}")).collect::<String>();
        let mut qr_md5 = [0u8; 16];
        qr_md5.copy_from_slice(&md5);
        Ok(PayOrder {
            id,
            flow,
            amount: payee.amount.unwrap_or(amount),
            billing: payee.billing,
            payee: payee.role,
            payer: r.payer.clone(),
            payee_account: payee.account,
            qr_md5,
            accepted: Accepted {
                id,
                idempotency_key: r.idempotency_key.clone(),
                originator: originator.name(),
                originator_participant: originator.participant(),
                request_sha256,
                flow: flow.name().into(),
                amount: payee.amount.unwrap_or(amount),
                payer: r.payer.clone(),
                payee: payee.role.participant(),
                at: now(),
            },
            timeout: self.timeouts[&flow],
        })
    }

    /// The payee of a merchant payment: the flow the code and the originator make, the
    /// code verified as the payer's app verifies it, the acquirer, and the payer's currency.
    fn merchant(
        &self,
        originator: Role,
        qr: &str,
        amount: Money,
    ) -> Result<Payee, (StatusCode, String)> {
        let bad = |m: String| (StatusCode::BAD_REQUEST, m);
        if qr.len() > QR_CHARS_MAX {
            return Err(bad(format!("qr: more than {QR_CHARS_MAX} characters")));
        }
        let kind = qr::classify(qr);
        let flow = match (originator, kind) {
            (Role::KhBank(_), PayloadKind::Khqr) => Flow::Domestic,
            (Role::KhBank(_), PayloadKind::Emvco | PayloadKind::WechatUrl) => Flow::Outward,
            (Role::CnIssuer(_), PayloadKind::Khqr) => Flow::Inward,
            _ => {
                return Err(bad(format!(
                    "qr: a {kind:?} code cannot be paid from {}",
                    originator.name()
                )));
            }
        };
        if let Some(decline) = app::scan(flow, qr, now().as_millis()) {
            return Err(bad(format!("qr: the code does not verify ({})", decline.name())));
        }
        let (payee, payee_account) = match flow {
            Flow::Outward => {
                let acquirer = if matches!(kind, PayloadKind::WechatUrl) { 0 } else { 1 };
                (Role::CnAcquirer(acquirer), qr.chars().take(28).collect())
            }
            _ => {
                let decoded = qr::decode(qr).map_err(|e| bad(format!("qr: {e}")))?;
                let account = decoded.account_id().unwrap_or_default().to_string();
                let bank = account
                    .rsplit_once("@kb")
                    .and_then(|(_, n)| n.parse::<u16>().ok())
                    .filter(|&b| self.inboxes.contains_key(&Role::KhBank(b)))
                    .ok_or_else(|| {
                        (
                            StatusCode::UNPROCESSABLE_ENTITY,
                            format!(
                                "qr: the account {account:?} is at no member bank of this network"
                            ),
                        )
                    })?;
                (Role::KhBank(bank), account.chars().take(28).collect())
            }
        };
        // The payer's currency: KHR or USD for Bakong wallets paying in China, CNY for UnionPay
        // wallets paying KHQR codes (the merchant's currency is the amount's).
        let billing = match flow {
            Flow::Outward if amount.currency != Currency::Cny => {
                return Err(bad("amount: an outward payment is in CNY".into()));
            }
            Flow::Outward => {
                Some(self.convert(amount, Currency::Khr, RoundingStrategy::AwayFromZero))
            }
            Flow::Inward if amount.currency != Currency::Khr => {
                return Err(bad("amount: an inward KHQR payment is in KHR".into()));
            }
            Flow::Inward => {
                Some(self.convert(amount, Currency::Cny, RoundingStrategy::AwayFromZero))
            }
            _ => None,
        };
        Ok(Payee { flow, role: payee, account: payee_account, amount: None, billing })
    }

    /// The payee of a remittance: an account at a Chinese issuer of this network, paid in CNY
    /// converted from the sender's KHR or USD (the sender's amount is fixed).
    fn recipient(
        &self,
        originator: Role,
        to: &Recipient,
        amount: Money,
    ) -> Result<Payee, (StatusCode, String)> {
        let bad = |m: String| (StatusCode::BAD_REQUEST, m);
        if !matches!(originator, Role::KhBank(_)) {
            return Err(bad(format!("recipient: {} cannot send remittances", originator.name())));
        }
        let role = roles_by_name(&to.institution)
            .filter(|r| matches!(r, Role::CnIssuer(_)) && self.inboxes.contains_key(r))
            .ok_or_else(|| {
                (
                    StatusCode::UNPROCESSABLE_ENTITY,
                    format!(
                        "recipient.institution: {:?} is no Chinese issuer of this network",
                        to.institution
                    ),
                )
            })?;
        if !(12..=19).contains(&to.account.len()) || !to.account.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad("recipient.account: 12 to 19 digits".into()));
        }
        if amount.currency == Currency::Cny {
            return Err(bad("amount: a remittance is sent in KHR or USD".into()));
        }
        let payee_amount = self.convert(amount, Currency::Cny, RoundingStrategy::ToZero);
        if payee_amount.minor <= 0 {
            return Err(bad("amount: too small to convert to CNY".into()));
        }
        Ok(Payee {
            flow: Flow::Remittance,
            role,
            account: to.account.clone(),
            amount: Some(payee_amount),
            billing: Some(amount),
        })
    }

    /// A conversion at the scenario's mid rates, rounded as `rounding` says: the payer's side
    /// away from zero and the payee's toward it (both in the provider's favour, as the core's
    /// `RoundingRule::TOWARD_PROVIDER`).
    fn convert(&self, amount: Money, to: Currency, rounding: RoundingStrategy) -> Money {
        let one = rust_decimal::Decimal::ONE;
        let rate = match (amount.currency, to) {
            (Currency::Cny, Currency::Khr) => self.khr_per_cny,
            (Currency::Cny, Currency::Usd) => self.usd_per_cny,
            (Currency::Khr, Currency::Cny) => one / self.khr_per_cny,
            (Currency::Usd, Currency::Cny) => one / self.usd_per_cny,
            _ => one,
        };
        Money::from_decimal(amount.to_decimal() * rate, to, rounding).unwrap_or(Money::zero(to))
    }

    #[allow(clippy::too_many_lines)] // One exposition, family by family.
    fn metrics(&self) -> String {
        use std::fmt::Write;
        use std::sync::atomic::Ordering::Relaxed;
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP bakong_payments_total Payments by flow and outcome (a decline by its class).\n# TYPE bakong_payments_total counter"
        );
        for ((flow, outcome), n) in self.shared.outcomes.lock().expect("not poisoned").iter() {
            let _ =
                writeln!(out, "bakong_payments_total{{flow=\"{flow}\",outcome=\"{outcome}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP bakong_payment_latency_seconds From acceptance to the payer's answer.\n# TYPE bakong_payment_latency_seconds histogram"
        );
        let bounds_us = [
            1_000u64, 2_000, 5_000, 10_000, 20_000, 50_000, 100_000, 200_000, 500_000, 1_000_000,
            2_000_000, 5_000_000, 10_000_000, 30_000_000,
        ];
        for (flow, h) in self.shared.latency.lock().expect("not poisoned").iter() {
            for b in bounds_us {
                let n = h.count_between(0, b);
                let _ = writeln!(
                    out,
                    "bakong_payment_latency_seconds_bucket{{flow=\"{flow}\",le=\"{}\"}} {n}",
                    b as f64 / 1e6
                );
            }
            let _ = writeln!(
                out,
                "bakong_payment_latency_seconds_bucket{{flow=\"{flow}\",le=\"+Inf\"}} {}",
                h.len()
            );
            let sum_s = h
                .iter_recorded()
                .map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64)
                .sum::<f64>()
                / 1e6;
            let _ = writeln!(out, "bakong_payment_latency_seconds_sum{{flow=\"{flow}\"}} {sum_s}");
            let _ = writeln!(
                out,
                "bakong_payment_latency_seconds_count{{flow=\"{flow}\"}} {}",
                h.len()
            );
        }
        let _ = writeln!(
            out,
            "# HELP bakong_frames_total ISO 8583 frames handled by each participant.\n# TYPE bakong_frames_total counter"
        );
        for (node, n) in self.shared.frames.lock().expect("not poisoned").iter() {
            let _ = writeln!(out, "bakong_frames_total{{node=\"{node}\"}} {n}");
        }
        let _ = writeln!(
            out,
            "# HELP bakong_frames_refused_total Frames refused on the links, by reason.\n# TYPE bakong_frames_refused_total counter"
        );
        for (reason, n) in [
            ("bad_mac", &self.refusals.bad_mac),
            ("replayed", &self.refusals.replayed),
            ("unknown_participant", &self.refusals.unknown_participant),
            ("malformed", &self.refusals.malformed),
        ] {
            let _ = writeln!(
                out,
                "bakong_frames_refused_total{{reason=\"{reason}\"}} {}",
                n.load(Relaxed)
            );
        }
        let _ = writeln!(
            out,
            "# TYPE bakong_reversal_advices_sent_total counter\nbakong_reversal_advices_sent_total {}",
            self.shared.advices_sent.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE bakong_reversal_advices_acked_total counter\nbakong_reversal_advices_acked_total {}",
            self.shared.advices_acked.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE bakong_journal_commits_total counter\nbakong_journal_commits_total {}",
            self.writer_stats.commits.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE bakong_journal_entries_total counter\nbakong_journal_entries_total {}",
            self.writer_stats.entries.load(Relaxed)
        );
        let _ = writeln!(
            out,
            "# TYPE bakong_payments_in_flight gauge\nbakong_payments_in_flight {}",
            self.in_flight.load(Relaxed)
        );
        {
            let wait = self.writer_stats.wait_us.lock().expect("not poisoned");
            let _ = writeln!(
                out,
                "# HELP bakong_journal_wait_seconds From a submission to the journal to its commit (what group commit adds to each step that waits for durability).\n# TYPE bakong_journal_wait_seconds summary"
            );
            for q in [0.5, 0.9, 0.99] {
                let v = if wait.is_empty() { 0 } else { wait.value_at_quantile(q) };
                let _ = writeln!(
                    out,
                    "bakong_journal_wait_seconds{{quantile=\"{q}\"}} {}",
                    v as f64 / 1e6
                );
            }
            let _ = writeln!(
                out,
                "bakong_journal_wait_seconds_sum {}\nbakong_journal_wait_seconds_count {}",
                wait.mean() * wait.len() as f64 / 1e6,
                wait.len()
            );
        }
        let _ = writeln!(
            out,
            "# HELP bakong_worker_threads The runtime's worker threads.\n# TYPE bakong_worker_threads gauge\nbakong_worker_threads {}",
            tokio::runtime::Handle::current().metrics().num_workers()
        );
        if let Some(cpu_s) = super::model::process_cpu_seconds() {
            let _ = writeln!(
                out,
                "# HELP process_cpu_seconds_total User and system CPU time of the server process.\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total {cpu_s}"
            );
        }
        out
    }
}

fn far_delays(cfg: &Config, role: Role) -> Vec<Latency> {
    let node = |name: &str| cfg.nodes.iter().find(|n| n.name == name).map(|n| n.service.clone());
    let link =
        |name: &str| cfg.links.iter().find(|l| l.name == name).map(|l| l.link.latency.clone());
    let (n, l) = match role {
        Role::KhBank(_) => (node("kh_bank"), link("kh_backbone")),
        Role::CnAcquirer(_) => (node("cn_acquirer"), link("cn_backbone")),
        Role::CnIssuer(_) => (node("cn_issuer"), link("cn_backbone")),
        _ => (None, None),
    };
    let mut out: Vec<Latency> = n.into_iter().collect();
    if let Some(l) = l {
        out.push(l.clone());
        out.push(l);
    }
    out
}

fn deadline(cfg: &Config, node: &str, default: Duration) -> Duration {
    cfg.nodes
        .iter()
        .find(|n| n.name == node)
        .and_then(|n| n.deadline)
        .map_or(default, |d| Duration::from_nanos(d.as_nanos()))
}

fn is_loopback(addr: SocketAddr) -> bool {
    addr.ip().is_loopback()
}

/// A running server: the API's address and the handle that ends it.
pub struct Running {
    /// Where the API listens.
    pub api: SocketAddr,
    /// The payments recovered from the journal and reversed at start-up.
    pub recovered_open: usize,
}

/// Starts the network and the API, and serves until `stop` resolves.
///
/// # Errors
/// [`ServeError`] when it cannot start.
#[allow(clippy::too_many_lines)] // The start-up sequence; to be split into recovery, participants and links.
pub async fn serve(
    scenario: &Scenario,
    options: ServeOptions,
    started: impl FnOnce(&Running),
    stop: impl std::future::Future<Output = ()>,
) -> Result<(), ServeError> {
    if !options.allow_remote && !is_loopback(options.listen) {
        return Err(ServeError::NotLoopback(options.listen));
    }
    let cfg = Config::new(scenario, scenario.meta.seed);
    let all = roles(scenario);
    let mut keys = BTreeMap::new();
    for role in &all {
        let name = role.name();
        let hex = options
            .keys
            .keys
            .get(&name)
            .ok_or_else(|| ServeError::Keys(format!("no key for {name}")))?;
        let key = MacKey::from_hex(hex)
            .ok_or_else(|| ServeError::Keys(format!("the key of {name} is not 64 hex digits")))?;
        keys.insert(*role, key);
    }
    let mut tokens = BTreeMap::new();
    for role in all.iter().copied().filter(|r| originates(*r)) {
        let name = role.name();
        let token = options
            .keys
            .tokens
            .get(&name)
            .ok_or_else(|| ServeError::Keys(format!("no API token for {name}")))?;
        if token.len() < 16 {
            return Err(ServeError::Keys(format!(
                "the API token of {name} is shorter than 16 characters"
            )));
        }
        tokens.insert(token.clone(), role);
    }

    // The journal, and what it says happened before.
    let journal = Journal::open(&options.journal)?;
    let recovered = journal.recover()?;
    let mut book = SettlementBook::default();
    for b in &recovered.bookings {
        book.apply(b, now())
            .map_err(|e| ServeError::Ledger(format!("booking {}: {e:?}", b.transfer.0)))?;
    }
    book.check().map_err(|e| ServeError::Ledger(format!("{e:?}")))?;
    let next_transfer = recovered.bookings.iter().map(|b| b.transfer.0 + 1).max().unwrap_or(1);
    let mut net: BTreeMap<u64, Booking> = BTreeMap::new();
    for b in &recovered.bookings {
        if b.reversal {
            net.remove(&b.payment);
        } else {
            net.insert(b.payment, *b);
        }
    }
    let shared = Arc::new(Shared::default());
    let mut idempotency = BTreeMap::new();
    let mut open = Vec::new();
    for p in &recovered.payments {
        idempotency.insert(
            (p.originator.clone(), p.idempotency_key.clone()),
            (p.id, p.request_sha256.clone()),
        );
        let flow = Flow::ALL.into_iter().find(|f| f.name() == p.flow).unwrap_or(Flow::Domestic);
        match p.outcome.as_deref() {
            Some(outcome) => {
                shared.finish(p.id, flow, outcome_of(outcome, p.decline.as_deref()), None);
            }
            None => open.push(p.clone()),
        }
    }
    let next_id = recovered.payments.last().map_or(1, |p| p.id + 1);
    let writer_stats = Arc::new(WriterStats::default());
    let writer = Writer::start(journal, writer_stats.clone());

    // Payments left open by a crash: reverse them. The switch journals the intent (with the
    // reversal of its booking, if it booked) and advises the far side until acknowledged; the
    // outcome is `reversed`, never acknowledged to a payer who got no answer.
    let mut switch_relay_advices = Vec::new();
    let mut recovery = Vec::new();
    let t = now();
    let mut next_transfer = next_transfer;
    for p in &open {
        if let Some(b) = net.remove(&p.id) {
            let undo = Booking {
                transfer: TransferId(next_transfer),
                reversal: true,
                debit: b.credit,
                credit: b.debit,
                ..b
            };
            next_transfer += 1;
            book.apply(&undo, t).map_err(|e| ServeError::Ledger(format!("{e:?}")))?;
            recovery.push(Entry::Booked(undo));
        }
        recovery.push(Entry::ReversalIntent { payment: p.id, at: t });
        recovery.push(Entry::Final {
            payment: p.id,
            outcome: "reversed".into(),
            decline: None,
            at: t,
            acknowledged: false,
        });
        let flow = Flow::ALL.into_iter().find(|f| f.name() == p.flow).unwrap_or(Flow::Domestic);
        shared.finish(p.id, flow, Outcome::Reversed, None);
        switch_relay_advices.push(p.clone());
    }
    for id in &recovered.reversals_open {
        if let Some(p) = recovered.payments.iter().find(|p| p.id == *id)
            && !switch_relay_advices.iter().any(|q| q.id == *id)
        {
            switch_relay_advices.push(p.clone());
        }
    }
    if !recovery.is_empty() {
        let (tx, rx) = std::sync::mpsc::channel();
        writer.submit(
            recovery,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )?;
        rx.recv()
            .map_err(|_| journal::JournalError::Stopped)?
            .map_err(|e| ServeError::Keys(format!("journal: {e}")))?;
    }

    // Participants.
    let refusals = Arc::new(LinkShared::default());
    if let Some(file) = options.capture {
        *refusals.capture.lock().expect("not yet shared") = Some((file, 0));
    }
    let speedup = options.speedup;
    let backoff: Vec<Duration> =
        [1u64, 2, 4, 8, 16, 32, 60].iter().map(|s| Duration::from_secs(*s)).collect();
    let rates: Arc<BTreeMap<Flow, FailureRates>> =
        Arc::new(cfg.flows.iter().map(|f| (f.flow, f.failures)).collect());
    let setup = |role: Role, far: Vec<Latency>, dl: Duration| Setup {
        role,
        speedup,
        far_delay: far,
        rates: rates.clone(),
        deadline: dl,
        seed: scenario.meta.seed,
        advice_backoff: backoff.clone(),
    };
    let mut inboxes = BTreeMap::new();
    let mut receivers = Vec::new();
    for role in &all {
        let (tx, rx) = mpsc::unbounded_channel();
        inboxes.insert(*role, tx);
        receivers.push((*role, rx));
    }
    let mut switch = Relay::new(
        setup(Role::Switch, Vec::new(), deadline(&cfg, "bakong_switch", Duration::from_secs(8))),
        Some((book, writer.clone())),
        next_transfer,
        net,
        shared.clone(),
    );
    for p in &switch_relay_advices {
        let frame = recovery_advice(p);
        let to = Role::of(frame_receiver(&frame))
            .map_or(Role::Upi, |r| if r.on_the_switch() { r } else { Role::Upi });
        switch.resume_advice(frame, to.institution());
    }
    let upi = Relay::new(
        setup(Role::Upi, Vec::new(), deadline(&cfg, "upi", Duration::from_secs(12))),
        None,
        1,
        BTreeMap::new(),
        shared.clone(),
    );
    let mut tasks = tokio::task::JoinSet::new();
    let mut switch = Some(switch);
    let mut upi = Some(upi);
    for (role, rx) in receivers {
        let tx = inboxes[&role].clone();
        match role {
            Role::Switch => {
                let relay = switch.take().expect("one switch");
                tasks.spawn(relay.run(tx, rx));
            }
            Role::Upi => {
                let relay = upi.take().expect("one UPI");
                tasks.spawn(relay.run(tx, rx));
            }
            _ => {
                let member = Member::new(
                    setup(
                        role,
                        if options.far_delays { far_delays(&cfg, role) } else { Vec::new() },
                        Duration::ZERO,
                    ),
                    writer.clone(),
                    shared.clone(),
                );
                tasks.spawn(member.run(tx, rx));
            }
        }
    }

    // Links: the switch and UPI listen on loopback; members and the switch sign on.
    let io = |what: &str| {
        let what = what.to_string();
        move |source| ServeError::Io { what, source }
    };
    let switch_listener =
        TcpListener::bind("127.0.0.1:0").await.map_err(io("binding the switch's listener"))?;
    let upi_listener =
        TcpListener::bind("127.0.0.1:0").await.map_err(io("binding UPI's listener"))?;
    let switch_addr = switch_listener.local_addr().map_err(io("the switch's address"))?;
    let upi_addr = upi_listener.local_addr().map_err(io("UPI's address"))?;
    for (listener, me, allowed) in [
        (
            switch_listener,
            Role::Switch,
            all.iter().copied().filter(|r| r.on_the_switch()).collect::<Vec<_>>(),
        ),
        (
            upi_listener,
            Role::Upi,
            all.iter()
                .copied()
                .filter(|r| matches!(r, Role::Switch | Role::CnIssuer(_) | Role::CnAcquirer(_)))
                .collect(),
        ),
    ] {
        let allowed: Vec<(InstitutionId, MacKey)> =
            allowed.iter().map(|r| (r.institution(), keys[r].clone())).collect();
        let inbox = inboxes[&me].clone();
        let refusals = refusals.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else { return };
                let (allowed, inbox, refusals) = (allowed.clone(), inbox.clone(), refusals.clone());
                tokio::spawn(async move {
                    let (deliver, mut frames) = mpsc::unbounded_channel();
                    if let Ok((peer, outbox)) =
                        link::accept(stream, &allowed, now(), deliver, refusals).await
                    {
                        let _ = inbox.send(Inbound::LinkUp(peer, outbox));
                        while let Some((from, frame)) = frames.recv().await {
                            if inbox.send(Inbound::Frame(from, Box::new(frame))).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
    }
    for role in all.iter().copied().filter(|r| !matches!(r, Role::Upi)) {
        let (addr, peer) =
            if role.on_the_switch() { (switch_addr, Role::Switch) } else { (upi_addr, Role::Upi) };
        let (deliver, mut frames) = mpsc::unbounded_channel();
        let outbox = link::connect(
            addr,
            role.institution(),
            peer.institution(),
            keys[&role].clone(),
            now(),
            deliver,
            refusals.clone(),
        )
        .await?;
        let inbox = inboxes[&role].clone();
        let _ = inbox.send(Inbound::LinkUp(peer.institution(), outbox));
        tokio::spawn(async move {
            while let Some((from, frame)) = frames.recv().await {
                if inbox.send(Inbound::Frame(from, Box::new(frame))).is_err() {
                    return;
                }
            }
        });
    }

    // The payer API.
    let timeouts: BTreeMap<Flow, Duration> = Flow::ALL
        .into_iter()
        .map(|f| {
            let t = cfg.flows.iter().find(|c| c.flow == f).map_or(Duration::from_secs(15), |c| {
                Duration::from_nanos(c.policy.timeout.as_nanos())
            });
            (f, t)
        })
        .collect();
    let api = Arc::new(Api {
        tokens,
        inboxes,
        shared,
        refusals,
        writer_stats,
        idempotency: std::sync::Mutex::new(idempotency),
        next_id: std::sync::atomic::AtomicU64::new(next_id),
        in_flight: std::sync::atomic::AtomicUsize::new(0),
        timeouts,
        khr_per_cny: cfg.usd_khr / cfg.usd_cny,
        usd_per_cny: rust_decimal::Decimal::ONE / cfg.usd_cny,
    });
    let listener =
        TcpListener::bind(options.listen).await.map_err(io("binding the API's address"))?;
    let api_addr = listener.local_addr().map_err(io("the API's address"))?;
    started(&Running { api: api_addr, recovered_open: open.len() });
    let accept = async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            let api = api.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let api = api.clone();
                    async move { Ok::<_, std::convert::Infallible>(api.handle(req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    };
    // A participant's task ends only if it failed (its inbox never closes while serving): then
    // the network is not whole, and the server stops rather than answer for it.
    tokio::select! {
        () = accept => Ok(()),
        () = stop => Ok(()),
        ended = tasks.join_next() => Err(ServeError::Stopped(match ended {
            Some(Err(e)) if e.is_panic() => "a participant's task panicked (its message is above)".into(),
            _ => "a participant's task ended".into(),
        })),
    }
}

fn frame_receiver(frame: &crate::payments::network::iso8583::Frame) -> InstitutionId {
    match frame {
        crate::payments::network::iso8583::Frame::Payment(p) => {
            p.receiver.unwrap_or(Role::Upi.institution())
        }
        crate::payments::network::iso8583::Frame::Network(_) => Role::Upi.institution(),
    }
}

fn recovery_advice(p: &journal::RecoveredPayment) -> crate::payments::network::iso8583::Frame {
    let rrn = Rrn::new(p.id).expect("payment ids are RRNs");
    let message = Message::request(Mti::ReversalAdvice, Stan::new(0).expect("0"), rrn, p.amount);
    let originator = roles_by_name(&p.originator).unwrap_or(Role::Switch);
    crate::payments::network::iso8583::Frame::Payment(PaymentFrame {
        message,
        processing: Processing::Purchase,
        sent: TransmissionTime::of(now()),
        acquirer: originator.institution(),
        forwarder: Some(Role::Switch.institution()),
        receiver: Role::of(InstitutionId::new(u64::from(p.payee.0)).expect("small"))
            .map(Role::institution),
        payer: None,
        payee: None,
        qr_md5: None,
        original: None,
    })
}

fn roles_by_name(name: &str) -> Option<Role> {
    let (kind, n) = name.rsplit_once('_')?;
    let n: u16 = n.parse().ok()?;
    match kind {
        "kh_bank" => Some(Role::KhBank(n)),
        "cn_issuer" => Some(Role::CnIssuer(n)),
        "cn_acquirer" => Some(Role::CnAcquirer(n)),
        _ => None,
    }
}
