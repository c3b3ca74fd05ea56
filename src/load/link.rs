//! ISO 8583 links between participants over TCP: sign-on, MAC on every frame, STANs, replay
//! refusal.
//!
//! A link is one TCP connection, opened by the participant that signs on (a member bank or an
//! issuer toward the switch or UPI, the switch toward UPI) and keyed by that participant's key
//! in both directions. The first frame must be a sign-on (0800, DE 70 = 001) whose DE 33 names a
//! participant allowed on this listener and whose MAC verifies under that participant's key;
//! anything else closes the connection. After it, every frame must carry a valid MAC, and a
//! request whose STAN this link has carried within the last [`REPLAY_WINDOW`] requests is a
//! replay; both are refused (dropped and counted), the link stays up.
//!
//! The side that signed on sends an echo (0800, DE 70 = 301) every `echo_every` while the link
//! is up; the other side answers it (0810) itself. Echoes sent and answered are counted, so a
//! link that carries no payments still shows that it is alive.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, BufWriter};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::payments::network::iso8583::{
    self, Frame, FrameReader, InstitutionId, MacKey, NetworkCode, NetworkFrame,
};
use crate::payments::network::{ResponseCode, Stan};
use crate::payments::time::Timestamp;

/// Requests a link remembers for replay refusal.
pub const REPLAY_WINDOW: usize = 100_000;

/// How long a new connection has to sign on.
pub const SIGN_ON_TIMEOUT: Duration = Duration::from_secs(5);

/// The most frames `--capture-frames` writes.
pub const CAPTURE_FRAMES_MAX: u64 = 10_000;

/// What every link shares: the frames refused, by reason (for `/metrics` and the tests), and
/// the capture file of `sim serve --capture-frames` (the first frames sent, one hex line each).
#[derive(Debug, Default)]
pub struct LinkShared {
    /// Where sent frames are captured, and how many have been.
    pub capture: std::sync::Mutex<Option<(std::fs::File, u64)>>,
    /// A MAC that did not verify.
    pub bad_mac: AtomicU64,
    /// A request STAN seen before on the link.
    pub replayed: AtomicU64,
    /// A sign-on from a participant not known or not allowed here.
    pub unknown_participant: AtomicU64,
    /// A frame that did not parse.
    pub malformed: AtomicU64,
    /// Echoes (0800, 301) sent by the side that signed on.
    pub echoes_sent: AtomicU64,
    /// Echo answers (0810) received.
    pub echoes_answered: AtomicU64,
}

/// Why a link could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The socket failed.
    #[error("link: {0}")]
    Io(#[from] std::io::Error),
    /// The peer did not sign on properly.
    #[error("link: sign-on refused: {0}")]
    SignOn(String),
}

/// Frames to send on a link; the writer seals them under the link key.
pub type Outbox = mpsc::UnboundedSender<Frame>;

fn is_request(frame: &Frame) -> bool {
    match frame {
        Frame::Payment(p) => p.message.mti.response().is_some(),
        Frame::Network(n) => n.response.is_none(),
    }
}

fn set_stan(frame: &mut Frame, stan: Stan) {
    match frame {
        Frame::Payment(p) => p.message.stan = stan,
        Frame::Network(n) => n.stan = stan,
    }
}

async fn write_frame<W: AsyncWriteExt + Unpin>(
    w: &mut W,
    frame: &Frame,
    key: &MacKey,
) -> std::io::Result<()> {
    let bytes = iso8583::seal(frame, key)
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
    w.write_all(&iso8583::prefix(&bytes)).await?;
    w.write_all(&bytes).await
}

async fn read_frame(
    stream: &mut tokio::net::tcp::OwnedReadHalf,
    reader: &mut FrameReader,
) -> std::io::Result<Option<Vec<u8>>> {
    let mut buf = [0u8; 16 * 1024];
    loop {
        if let Some(frame) = reader.next_frame() {
            return frame
                .map(Some)
                .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e));
        }
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        reader.push(&buf[..n]);
    }
}

/// Writes a frame to the capture file, while there is one and it is under its limit.
fn capture(shared: &LinkShared, frame: &Frame, key: &MacKey) {
    if let Ok(mut capture) = shared.capture.lock()
        && let Some((file, n)) = capture.as_mut()
        && *n < CAPTURE_FRAMES_MAX
        && let Ok(bytes) = iso8583::seal(frame, key)
    {
        use std::io::Write as _;
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        if writeln!(file, "{hex}").is_ok() {
            *n += 1;
        }
    }
}

fn sign_on(me: InstitutionId, now: Timestamp, response: Option<ResponseCode>) -> Frame {
    network(me, now, response, NetworkCode::SignOn, Stan::new(1).expect("1 is a STAN"))
}

fn network(
    me: InstitutionId,
    now: Timestamp,
    response: Option<ResponseCode>,
    code: NetworkCode,
    stan: Stan,
) -> Frame {
    Frame::Network(NetworkFrame {
        response,
        stan,
        sent: iso8583::TransmissionTime::of(now),
        sender: me,
        code,
    })
}

/// Who is at each end of a link, and how often the side that signed on echoes.
#[derive(Clone, Copy, Debug)]
pub struct Ends {
    /// This end.
    pub me: InstitutionId,
    /// The other end.
    pub peer: InstitutionId,
    /// Echo every this long (the side that signed on); `None` on the side that answers.
    pub echo_every: Option<Duration>,
}

/// A frame read, parsed and its MAC verified; `None` (counted) when it is malformed or its
/// MAC does not verify.
fn verified(bytes: &[u8], key: &MacKey, refusals: &LinkShared) -> Option<Frame> {
    match iso8583::peek(bytes) {
        Ok((raw, frame)) => match iso8583::verify(bytes, &raw, key) {
            Ok(()) => Some(frame),
            Err(_) => {
                refusals.bad_mac.fetch_add(1, Ordering::Relaxed);
                None
            }
        },
        Err(e) if e.kind == iso8583::CodecErrorKind::MacInvalid => {
            refusals.bad_mac.fetch_add(1, Ordering::Relaxed);
            None
        }
        Err(_) => {
            refusals.malformed.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// The signing-on side's echoes: one every `every` until the link is down.
fn spawn_echoes(me: InstitutionId, every: Duration, outbox: Outbox, shared: Arc<LinkShared>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await; // The first tick is at once: the sign-on has just been answered.
        loop {
            tick.tick().await;
            let now = super::network::now();
            let echo = network(me, now, None, NetworkCode::Echo, Stan::new(1).expect("1"));
            if outbox.send(echo).is_err() {
                return; // The link is down.
            }
            shared.echoes_sent.fetch_add(1, Ordering::Relaxed);
        }
    });
}

/// Starts the writer and reader of a signed-on connection: frames read go to `deliver` with
/// the peer's id; the returned outbox sends. STANs of requests are this end's own counter.
fn run(
    stream: TcpStream,
    reader: FrameReader,
    key: MacKey,
    ends: Ends,
    deliver: mpsc::UnboundedSender<(InstitutionId, Frame)>,
    refusals: Arc<LinkShared>,
) -> Outbox {
    let Ends { me, peer, echo_every } = ends;
    let _ = stream.set_nodelay(true);
    let (mut rd, wr) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Frame>();
    let write_key = key.clone();
    let shared = refusals.clone();
    tokio::spawn(async move {
        let mut w = BufWriter::with_capacity(64 * 1024, wr);
        let mut stan: u32 = 1;
        while let Some(mut frame) = rx.recv().await {
            loop {
                if is_request(&frame) {
                    stan = if stan >= Stan::MAX { 1 } else { stan + 1 };
                    set_stan(&mut frame, Stan::new(stan).expect("under MAX"));
                }
                capture(&shared, &frame, &write_key);
                if write_frame(&mut w, &frame, &write_key).await.is_err() {
                    return;
                }
                match rx.try_recv() {
                    Ok(next) => frame = next,
                    Err(_) => break,
                }
            }
            if w.flush().await.is_err() {
                return;
            }
        }
    });
    if let Some(every) = echo_every {
        spawn_echoes(me, every, tx.clone(), refusals.clone());
    }
    let answers = tx.clone();
    tokio::spawn(async move {
        let mut reader = reader;
        let mut seen = BTreeSet::new();
        let mut order = VecDeque::new();
        while let Ok(Some(bytes)) = read_frame(&mut rd, &mut reader).await {
            let Some(frame) = verified(&bytes, &key, &refusals) else { continue };
            if is_request(&frame) {
                let stan = frame.stan().get();
                if !seen.insert(stan) {
                    refusals.replayed.fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                order.push_back(stan);
                if order.len() > REPLAY_WINDOW
                    && let Some(old) = order.pop_front()
                {
                    seen.remove(&old);
                }
            }
            if let Frame::Network(n) = &frame
                && n.code == NetworkCode::Echo
            {
                // Echoes are the link's own business: answered or counted here.
                match n.response {
                    None => {
                        let now = super::network::now();
                        let answer = network(
                            me,
                            now,
                            Some(ResponseCode::Approved),
                            NetworkCode::Echo,
                            n.stan,
                        );
                        let _ = answers.send(answer);
                    }
                    Some(_) => {
                        refusals.echoes_answered.fetch_add(1, Ordering::Relaxed);
                    }
                }
                continue;
            }
            if deliver.send((peer, frame)).is_err() {
                return;
            }
        }
    });
    tx
}

/// Connects to `addr`, signs on as `ends.me` with `key`, and runs the link.
///
/// # Errors
/// [`LinkError`] when the connection or the sign-on fails.
pub async fn connect(
    addr: std::net::SocketAddr,
    ends: Ends,
    key: MacKey,
    now: Timestamp,
    deliver: mpsc::UnboundedSender<(InstitutionId, Frame)>,
    refusals: Arc<LinkShared>,
) -> Result<Outbox, LinkError> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = sign_on(ends.me, now, None);
    capture(&refusals, &request, &key);
    write_frame(&mut stream, &request, &key).await?;
    let (mut rd, wr) = stream.into_split();
    let mut reader = FrameReader::new();
    let answer = tokio::time::timeout(SIGN_ON_TIMEOUT, read_frame(&mut rd, &mut reader)).await;
    let bytes = match answer {
        Ok(Ok(Some(bytes))) => bytes,
        Ok(Ok(None)) => return Err(LinkError::SignOn("the peer closed the connection".into())),
        Ok(Err(e)) => return Err(LinkError::Io(e)),
        Err(_) => return Err(LinkError::SignOn("no answer to the sign-on".into())),
    };
    match iso8583::open(&bytes, &key) {
        Ok(Frame::Network(NetworkFrame {
            response: Some(ResponseCode::Approved),
            code: NetworkCode::SignOn,
            ..
        })) => {}
        Ok(other) => return Err(LinkError::SignOn(format!("unexpected answer {other:?}"))),
        Err(e) => return Err(LinkError::SignOn(e.to_string())),
    }
    let stream = rd.reunite(wr).map_err(|e| LinkError::SignOn(e.to_string()))?;
    Ok(run(stream, reader, key, ends, deliver, refusals))
}

/// Accepts one connection's sign-on: the participant must be one of `allowed` (with its key).
/// Returns the peer and its running link.
///
/// # Errors
/// [`LinkError`] when the sign-on is missing, malformed, from an unknown participant or not
/// MACed under that participant's key.
pub async fn accept(
    stream: TcpStream,
    me: InstitutionId,
    allowed: &[(InstitutionId, MacKey)],
    now: Timestamp,
    deliver: mpsc::UnboundedSender<(InstitutionId, Frame)>,
    refusals: Arc<LinkShared>,
) -> Result<(InstitutionId, Outbox), LinkError> {
    let (mut rd, mut wr) = stream.into_split();
    let mut reader = FrameReader::new();
    let first = tokio::time::timeout(SIGN_ON_TIMEOUT, read_frame(&mut rd, &mut reader)).await;
    let bytes = match first {
        Ok(Ok(Some(bytes))) => bytes,
        Ok(Ok(None)) => return Err(LinkError::SignOn("closed before signing on".into())),
        Ok(Err(e)) => return Err(LinkError::Io(e)),
        Err(_) => return Err(LinkError::SignOn("no sign-on within the time allowed".into())),
    };
    let (raw, frame) = iso8583::peek(&bytes).map_err(|e| {
        refusals.malformed.fetch_add(1, Ordering::Relaxed);
        LinkError::SignOn(e.to_string())
    })?;
    let Frame::Network(NetworkFrame { response: None, code: NetworkCode::SignOn, sender, .. }) =
        frame
    else {
        return Err(LinkError::SignOn("the first frame is not a sign-on".into()));
    };
    let Some((_, key)) = allowed.iter().find(|(id, _)| *id == sender) else {
        refusals.unknown_participant.fetch_add(1, Ordering::Relaxed);
        return Err(LinkError::SignOn(format!("participant {} is not known here", sender.get())));
    };
    if iso8583::verify(&bytes, &raw, key).is_err() {
        refusals.bad_mac.fetch_add(1, Ordering::Relaxed);
        return Err(LinkError::SignOn("the sign-on's MAC does not verify".into()));
    }
    let answer = sign_on(me, now, Some(ResponseCode::Approved));
    capture(&refusals, &answer, key);
    write_frame(&mut wr, &answer, key).await?;
    let stream = rd.reunite(wr).map_err(|e| LinkError::SignOn(e.to_string()))?;
    let ends = Ends { me, peer: sender, echo_every: None };
    Ok((sender, run(stream, reader, key.clone(), ends, deliver, refusals)))
}
