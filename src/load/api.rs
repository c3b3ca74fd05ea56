//! The payer apps' API of `sim serve`, on hyper: `POST /v1/payments` (a merchant payment by
//! its code, or a remittance by its recipient), `GET /v1/payments/{id}`, `/healthz` and
//! `/metrics` in Prometheus text. A request is checked whole before anything is booked; a
//! bad one gets a 4xx that says which field and why.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use rust_decimal::RoundingStrategy;
use sha2::Digest;
use tokio::sync::{mpsc, oneshot};

use super::journal::{Accepted, WriterStats};
use super::link::LinkShared;
use super::network::{Inbound, PayOrder, Role, Shared, now};
use super::serve::roles_by_name;
use crate::payments::money::{Currency, Money};
use crate::payments::network::app;
use crate::payments::party::Flow;
use crate::payments::qr::{self, PayloadKind};

/// The largest request body the API reads.
pub const BODY_BYTES_MAX: usize = 16 * 1024;

/// The largest QR payload the API takes.
pub const QR_CHARS_MAX: usize = 1024;

/// Payments in flight at once before the API answers 503.
pub const IN_FLIGHT_MAX: usize = 200_000;

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

/// The payer API: the originators' tokens and inboxes, the statuses, the counters.
pub(super) struct Api {
    pub(super) tokens: BTreeMap<String, Role>,
    pub(super) inboxes: BTreeMap<Role, mpsc::UnboundedSender<Inbound>>,
    pub(super) shared: Arc<Shared>,
    pub(super) refusals: Arc<LinkShared>,
    pub(super) writer_stats: Arc<WriterStats>,
    pub(super) idempotency: std::sync::Mutex<BTreeMap<(String, String), (u64, String)>>,
    pub(super) next_id: std::sync::atomic::AtomicU64,
    pub(super) in_flight: std::sync::atomic::AtomicUsize,
    pub(super) rates: MidRates,
}

/// The scenario's mid rates, at which the API converts a payer's or a payee's amount.
#[derive(Clone, Copy, Debug)]
pub(super) struct MidRates {
    pub(super) khr_per_cny: rust_decimal::Decimal,
    pub(super) usd_per_cny: rust_decimal::Decimal,
}

impl MidRates {
    /// `amount` in `to`, rounded as `rounding` says; `None` for a pair this network does not
    /// convert (only CNY against KHR or USD) or a result that does not fit.
    pub(super) fn convert(
        self,
        amount: Money,
        to: Currency,
        rounding: RoundingStrategy,
    ) -> Option<Money> {
        let one = rust_decimal::Decimal::ONE;
        let rate = match (amount.currency, to) {
            (Currency::Cny, Currency::Khr) => Some(self.khr_per_cny),
            (Currency::Cny, Currency::Usd) => Some(self.usd_per_cny),
            (Currency::Khr, Currency::Cny) => one.checked_div(self.khr_per_cny),
            (Currency::Usd, Currency::Cny) => one.checked_div(self.usd_per_cny),
            _ => None,
        }?;
        let value = amount.to_decimal().checked_mul(rate)?;
        Money::from_decimal(value, to, rounding).ok()
    }
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
    pub(super) async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Response<Full<Bytes>> {
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
                Some(self.convert(amount, Currency::Khr, RoundingStrategy::AwayFromZero)?)
            }
            Flow::Inward if amount.currency != Currency::Khr => {
                return Err(bad("amount: an inward KHQR payment is in KHR".into()));
            }
            Flow::Inward => {
                Some(self.convert(amount, Currency::Cny, RoundingStrategy::AwayFromZero)?)
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
        let payee_amount = self.convert(amount, Currency::Cny, RoundingStrategy::ToZero)?;
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
    ///
    /// # Errors
    /// A 422 naming the amount when the pair is not one this network converts, or the result
    /// does not fit.
    fn convert(
        &self,
        amount: Money,
        to: Currency,
        rounding: RoundingStrategy,
    ) -> Result<Money, (StatusCode, String)> {
        self.rates.convert(amount, to, rounding).ok_or_else(|| {
            (
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("amount: {amount} cannot be converted to {to} on this network"),
            )
        })
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
            "# HELP bakong_link_echoes_total Echoes (0800, 301) on the links: sent by the signing-on side, and answered.\n# TYPE bakong_link_echoes_total counter\nbakong_link_echoes_total{{result=\"sent\"}} {}\nbakong_link_echoes_total{{result=\"answered\"}} {}",
            self.refusals.echoes_sent.load(Relaxed),
            self.refusals.echoes_answered.load(Relaxed)
        );
        // The single-valued families: name, type, what, value.
        for (name, kind, help, value) in [
            (
                "bakong_status_inquiries_total",
                "counter",
                "Status inquiries (0600) sent by originators after their timeout.",
                self.shared.inquiries_sent.load(Relaxed),
            ),
            (
                "bakong_reversal_advices_sent_total",
                "counter",
                "Reversal advices the relays sent downstream (first and repeated).",
                self.shared.advices_sent.load(Relaxed),
            ),
            (
                "bakong_reversal_advices_acked_total",
                "counter",
                "Reversal advices acknowledged downstream.",
                self.shared.advices_acked.load(Relaxed),
            ),
            (
                "bakong_journal_commits_total",
                "counter",
                "Journal transactions committed.",
                self.writer_stats.commits.load(Relaxed),
            ),
            (
                "bakong_journal_entries_total",
                "counter",
                "Journal entries committed.",
                self.writer_stats.entries.load(Relaxed),
            ),
            (
                "bakong_payments_in_flight",
                "gauge",
                "Payments accepted and not yet answered.",
                u64::try_from(self.in_flight.load(Relaxed)).unwrap_or(u64::MAX),
            ),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
        }
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

#[cfg(test)]
mod tests {
    //! Goal: the API converts only the pairs the network has, at the scenario's mid rates,
    //! rounded in the provider's favour, and never answers a conversion it cannot make with
    //! some default.

    use rust_decimal::{Decimal, RoundingStrategy};

    use super::MidRates;
    use crate::payments::money::{AMOUNT_MINOR_MAX, Currency, Money};

    fn check(amount: Money, to: Currency, rounding: RoundingStrategy, want: Option<Money>) {
        // USD/CNY 6.9457 and USD/KHR 4025, as the shipped scenarios have them.
        let usd_cny = Decimal::new(69_457, 4);
        let rates = MidRates {
            khr_per_cny: Decimal::from(4025) / usd_cny,
            usd_per_cny: Decimal::ONE / usd_cny,
        };
        assert_eq!(rates.convert(amount, to, rounding), want, "{amount} to {to}");
    }

    #[test]
    fn only_the_networks_pairs_convert() {
        use Currency::{Cny, Khr, Usd};
        use RoundingStrategy::{AwayFromZero as Up, ToZero as Down};
        let m = Money::new;
        // 100 CNY is 57,949.52… KHR: the payer's side rounds up, the payee's down.
        check(m(Cny, 10_000), Khr, Up, Some(m(Khr, 57_950)));
        check(m(Cny, 10_000), Khr, Down, Some(m(Khr, 57_949)));
        check(m(Cny, 10_000), Usd, Down, Some(m(Usd, 1_439)));
        check(m(Khr, 400_000), Cny, Down, Some(m(Cny, 69_025)));
        check(m(Usd, 10_000), Cny, Up, Some(m(Cny, 69_457)));
        // The largest amount converts without overflow.
        check(m(Cny, AMOUNT_MINOR_MAX), Khr, Down, Some(m(Khr, 5_794_952_272_623)));
        // A pair the network does not convert is refused, not taken at a rate of one.
        check(m(Khr, 10_000), Usd, Down, None);
        check(m(Usd, 10_000), Khr, Down, None);
    }
}
