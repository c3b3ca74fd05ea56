//! Goal: our ISO 8583 frames are standard ones: an independent implementation (the PyPI
//! package `pyiso8583`, its `default` specification) reads every frame we write to the same
//! fields, and we read every frame it writes (with a MAC computed in Python) to the fields it
//! meant. Method: a differential test both ways through `tests/iso8583/pyiso8583_check.py`;
//! `deploy/test-deps.sh iso8583` installs the pinned package when it is missing.

use std::process::Command;

use bakong_sim::payments::clearing::Rrn;
use bakong_sim::payments::money::{Currency, Money};
use bakong_sim::payments::network::iso8583::{
    self, Frame, InstitutionId, MacKey, NetworkCode, NetworkFrame, Original, PaymentFrame,
    Processing, RawMessage, TransmissionTime,
};
use bakong_sim::payments::network::{Decline, Message, Mti, ResponseCode, Stan};
use bakong_sim::payments::time::Timestamp;
use rust_decimal::Decimal;
use serde_json::{Map, Value, json};

/// Frames of every type and shape we send.
pub(crate) fn sample_frames() -> Vec<Frame> {
    let id = |n| InstitutionId::new(n).expect("id");
    let sent = TransmissionTime::of(Timestamp::from_millis(1_770_012_345_000));
    let mut frames = Vec::new();
    for (i, (mti, response)) in [
        (Mti::FinancialRequest, None),
        (Mti::FinancialResponse, Some(ResponseCode::Approved)),
        (Mti::FinancialResponse, Some(ResponseCode::Declined(Decline::InsufficientLiquidity))),
        (Mti::ReversalAdvice, None),
        (Mti::ReversalAdviceResponse, Some(ResponseCode::Approved)),
        (Mti::StatusInquiry, None),
        (Mti::StatusInquiryResponse, Some(ResponseCode::NotFound)),
    ]
    .into_iter()
    .enumerate()
    {
        let n = u64::try_from(i).expect("small");
        let rrn = Rrn::new(600_000_000_000 + n).expect("rrn");
        let stan = Stan::new(u32::try_from(100 + n).expect("small")).expect("stan");
        let mut message = Message::request(mti, stan, rrn, Money::new(Currency::Cny, 12_345));
        message.response = response;
        let cross_border = i % 2 == 0;
        if cross_border {
            message.billing =
                Some(Money::new(Currency::Khr, 7_010_000 + i64::try_from(n).expect("small")));
            message.rate = Some(Decimal::new(5_678_901, 4));
        }
        let original = matches!(
            mti,
            Mti::ReversalAdvice
                | Mti::ReversalAdviceResponse
                | Mti::StatusInquiry
                | Mti::StatusInquiryResponse
        )
        .then_some(Original {
            mti: Mti::FinancialRequest,
            stan,
            sent,
            acquirer: id(100_001),
        });
        frames.push(Frame::Payment(PaymentFrame {
            message,
            processing: if i == 3 { Processing::Transfer } else { Processing::Purchase },
            sent,
            acquirer: id(100_001),
            forwarder: (i % 3 == 0).then_some(id(900_001)),
            receiver: cross_border.then_some(id(300_002)),
            payer: (i < 3).then(|| format!("payer-{i}@aba")),
            payee: (i != 5).then(|| "merchant-77@acleda".to_string()),
            qr_md5: (mti == Mti::FinancialRequest).then_some([0x5a; 16]),
            original,
        }));
    }
    for (response, code) in [
        (None, NetworkCode::SignOn),
        (Some(ResponseCode::Approved), NetworkCode::SignOn),
        (None, NetworkCode::Echo),
    ] {
        frames.push(Frame::Network(NetworkFrame {
            response,
            stan: Stan::new(7).expect("stan"),
            sent,
            sender: id(100_001),
            code,
        }));
    }
    frames
}

fn fields_json(raw: &RawMessage) -> Map<String, Value> {
    raw.fields
        .iter()
        .map(|(n, bytes)| {
            let value = if *n == 64 || *n == 128 {
                bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
            } else {
                String::from_utf8(bytes.clone()).expect("text fields are ASCII")
            };
            (n.to_string(), Value::String(value))
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// Runs the differential check on `frames` sealed under `key`; returns pyiso8583's frames.
pub(crate) fn check_with_pyiso8583(frames: &[Vec<u8>], key: &MacKey) -> usize {
    let root = env!("CARGO_MANIFEST_DIR");
    let deps =
        Command::new(format!("{root}/deploy/test-deps.sh")).arg("iso8583").status().expect("runs");
    assert!(deps.success(), "deploy/test-deps.sh iso8583 failed");
    let dir = std::env::temp_dir().join(format!(
        "bakong-sim-iso8583-{}-{}",
        std::process::id(),
        frames.len()
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ours: Vec<Value> = frames
        .iter()
        .map(|bytes| {
            let raw = RawMessage::parse(bytes).expect("our frames parse");
            json!({"frame": hex(bytes), "mti": String::from_utf8_lossy(&raw.mti), "fields": fields_json(&raw)})
        })
        .collect();
    let (ours_path, theirs_path) = (dir.join("ours.json"), dir.join("theirs.json"));
    std::fs::write(&ours_path, serde_json::to_vec(&ours).expect("json")).expect("writes");
    let out = Command::new("python3")
        .arg(format!("{root}/tests/iso8583/pyiso8583_check.py"))
        .args([&ours_path, &theirs_path])
        .arg(key.to_hex())
        .output()
        .expect("python3 runs");
    let (stdout, stderr) =
        (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(
        out.status.success() && stdout.contains(": ok: "),
        "pyiso8583 disagrees:\n{stdout}\n{stderr}"
    );
    let theirs: Vec<Value> =
        serde_json::from_slice(&std::fs::read(&theirs_path).expect("reads")).expect("json");
    for (i, item) in theirs.iter().enumerate() {
        let bytes = unhex(item["frame"].as_str().expect("hex"));
        iso8583::open(&bytes, key).unwrap_or_else(|e| panic!("their frame {i} does not open: {e}"));
        let raw = RawMessage::parse(&bytes).expect("parses");
        assert_eq!(Value::Object(fields_json(&raw)), item["fields"], "their frame {i}");
        assert_eq!(String::from_utf8_lossy(&raw.mti), item["mti"].as_str().expect("mti"));
    }
    std::fs::remove_dir_all(&dir).expect("removes its own temp dir");
    theirs.len()
}

#[test]
fn pyiso8583_reads_our_frames_and_we_read_theirs() {
    let key = MacKey::new([0x42; 32]);
    let frames: Vec<Vec<u8>> =
        sample_frames().iter().map(|f| iso8583::seal(f, &key).expect("seals")).collect();
    assert_eq!(check_with_pyiso8583(&frames, &key), 200);
}
