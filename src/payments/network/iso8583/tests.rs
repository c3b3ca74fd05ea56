//! Goal: frames round-trip through seal and open for every message type; a changed byte or a
//! wrong key never opens; malformed frames are errors that say where; no input panics; the
//! stream reader cuts the same frames whatever the read sizes. Method: tables with one `check`
//! helper per property, and a property test over arbitrary bytes.

use proptest::prelude::*;
use rust_decimal::Decimal;

use super::*;
use crate::payments::network::outcome::Decline;

fn key(b: u8) -> MacKey {
    MacKey::new([b; KEY_BYTES])
}

fn payment(mti: Mti) -> PaymentFrame {
    let rrn = Rrn::new(600_123_000_042).expect("rrn");
    let mut message =
        Message::request(mti, Stan::new(42).expect("stan"), rrn, Money::new(Currency::Cny, 12_345));
    message.billing = Some(Money::new(Currency::Khr, 70_100));
    message.rate = Some(Decimal::new(5_678_901_234, 7));
    PaymentFrame {
        message,
        processing: Processing::Purchase,
        sent: TransmissionTime::of(Timestamp::from_millis(1_770_000_123_000)),
        acquirer: InstitutionId::new(100_001).expect("id"),
        forwarder: Some(InstitutionId::new(900_001).expect("id")),
        receiver: Some(InstitutionId::new(300_002).expect("id")),
        payer: Some("payer-000123@aba".to_string()),
        payee: Some("merchant-77@upi".to_string()),
        qr_md5: Some([0xab; 16]),
        original: None,
    }
}

fn network(response: Option<ResponseCode>, code: NetworkCode) -> Frame {
    Frame::Network(NetworkFrame {
        response,
        stan: Stan::new(7).expect("stan"),
        sent: TransmissionTime::of(Timestamp::from_millis(1_770_000_000_000)),
        sender: InstitutionId::new(100_001).expect("id"),
        code,
    })
}

fn frames() -> Vec<Frame> {
    let request = payment(Mti::FinancialRequest);
    let mut approved = request.clone();
    approved.message = request.message.respond(ResponseCode::Approved);
    let mut declined = request.clone();
    declined.message =
        request.message.respond(ResponseCode::Declined(Decline::InsufficientLiquidity));
    declined.payer = None;
    declined.qr_md5 = None;
    let original = Original {
        mti: Mti::FinancialRequest,
        stan: request.message.stan,
        sent: request.sent,
        acquirer: request.acquirer,
    };
    let mut advice = payment(Mti::ReversalAdvice);
    advice.original = Some(original);
    advice.message.billing = None;
    advice.message.rate = None;
    let mut inquiry = payment(Mti::StatusInquiry);
    inquiry.original = Some(original);
    inquiry.forwarder = None;
    inquiry.receiver = None;
    inquiry.payer = None;
    inquiry.payee = None;
    inquiry.processing = Processing::Transfer;
    let mut not_found = inquiry.clone();
    not_found.message = inquiry.message.respond(ResponseCode::NotFound);
    vec![
        Frame::Payment(request),
        Frame::Payment(approved),
        Frame::Payment(declined),
        Frame::Payment(advice),
        Frame::Payment(inquiry),
        Frame::Payment(not_found),
        network(None, NetworkCode::SignOn),
        network(Some(ResponseCode::Approved), NetworkCode::Echo),
    ]
}

/// The rate on the wire: DE 10 keeps seven digits.
fn on_the_wire(mut frame: Frame) -> Frame {
    if let Frame::Payment(p) = &mut frame {
        p.message.rate =
            p.message.rate.map(|r| parse_rate(&rate_digits(r).expect("encodes")).expect("decodes"));
    }
    frame
}

#[test]
fn every_message_type_round_trips_through_seal_and_open() {
    for frame in frames() {
        let bytes = seal(&frame, &key(1)).expect("seals");
        assert!(bytes.len() < 300, "{} bytes", bytes.len());
        let opened = open(&bytes, &key(1)).expect("opens");
        assert_eq!(opened, on_the_wire(frame.clone()));
        assert_eq!(seal(&opened, &key(1)).expect("reseals"), bytes, "one encoding per frame");
    }
}

#[test]
fn the_sign_on_frame_is_byte_for_byte_what_the_standard_says() {
    let bytes = seal(&network(None, NetworkCode::SignOn), &key(1)).expect("seals");
    // MTI, primary bitmap with bit 1 (secondary), 7, 11, 33; secondary with 70 and 128.
    assert_eq!(&bytes[..4], b"0800");
    assert_eq!(&bytes[4..12], &[0x82, 0x20, 0x00, 0x00, 0x80, 0x00, 0x00, 0x00]);
    assert_eq!(&bytes[12..20], &[0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01]);
    // DE 7 (2 February 02:40:00 UTC), DE 11, DE 33 (LLVAR), DE 70, then the MAC in DE 128.
    assert_eq!(&bytes[20..bytes.len() - MAC_BYTES], b"020202400000000706100001001".as_slice());
    assert_eq!(bytes.len(), 47 + MAC_BYTES);
}

#[test]
fn a_changed_byte_or_another_key_never_opens() {
    for frame in frames() {
        let bytes = seal(&frame, &key(1)).expect("seals");
        assert_eq!(open(&bytes, &key(2)).map_err(|e| e.kind), Err(CodecErrorKind::MacInvalid));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(open(&bad, &key(1)).is_err(), "byte {i} of {frame:?} flipped and still opened");
        }
    }
}

fn check(bytes: &[u8], offset: usize, field: Option<u8>, kind: CodecErrorKind) {
    let got = RawMessage::parse(bytes).and_then(|raw| Frame::from_raw(&raw).map(|_| ()));
    assert_eq!(
        got,
        Err(CodecError { offset, field, kind }),
        "{:?}",
        String::from_utf8_lossy(bytes)
    );
}

#[test]
fn malformed_frames_say_where_and_what() {
    let bitmap = |bits: &[u8]| {
        let mut b = [0u8; 8];
        for &n in bits {
            b[usize::from(n - 1) / 8] |= 0x80 >> ((n - 1) % 8);
        }
        b
    };
    let with = |mti: &[u8], bits: &[u8], rest: &[u8]| [mti, &bitmap(bits), rest].concat();
    check(b"02", 0, None, CodecErrorKind::Truncated);
    check(b"02A0", 0, None, CodecErrorKind::UnknownMti("02A0".into()));
    check(&with(b"0200", &[11], b"12345"), 12, Some(11), CodecErrorKind::Truncated);
    check(&with(b"0200", &[11], b"12x456"), 14, Some(11), CodecErrorKind::NotNumeric);
    check(&with(b"0200", &[5], b"000000000001"), 12, Some(5), CodecErrorKind::UnsupportedField);
    check(
        &with(b"0200", &[32], b"1x123"),
        12,
        Some(32),
        CodecErrorKind::BadLengthPrefix("1x".into()),
    );
    check(
        &with(b"0200", &[32], b"12123456789012"),
        12,
        Some(32),
        CodecErrorKind::FieldTooLong { len: 12, max: 11 },
    );
    check(&with(b"0200", &[37], b"00000000004\x01"), 23, Some(37), CodecErrorKind::NotText);
    check(&with(b"0200", &[11], b"000001xy"), 18, None, CodecErrorKind::TrailingBytes(2));
    check(&with(b"0200", &[11], b"000001"), 0, Some(7), CodecErrorKind::Missing);
    check(&with(b"0210", &[7, 11], b"0101000000000001"), 0, Some(39), CodecErrorKind::Missing);
    check(
        &with(b"0800", &[7, 11, 39], b"010100000000000100"),
        0,
        Some(39),
        CodecErrorKind::BadValue("a request carries no response code".into()),
    );
    check(
        &with(b"0200", &[7, 11], b"1301000000000001"),
        0,
        Some(7),
        CodecErrorKind::BadValue("1301000000".into()),
    );
    let long = vec![b'0'; FRAME_BYTES_MAX + 1];
    check(&long, 0, None, CodecErrorKind::FrameTooLong { len: FRAME_BYTES_MAX + 1 });
}

#[test]
fn a_frame_without_its_mac_last_is_refused() {
    let frame = &frames()[0];
    let raw = frame.to_raw().expect("raw");
    let bytes = raw.write().expect("writes");
    assert_eq!(open(&bytes, &key(1)).map_err(|e| e.kind), Err(CodecErrorKind::MacMissing));
}

#[test]
fn conversion_rates_keep_seven_digits_rounded_half_even() {
    for (rate, digits) in [
        (Decimal::new(5_678_901_234, 7), "45678901"), // 567.8901234 → 567.8901
        (Decimal::new(12_345_675, 8), "71234568"),    // 0.12345675 → 0.1234568 (half to even)
        (Decimal::new(12_345_665, 8), "71234566"),
        (Decimal::new(4100, 0), "34100000"),
        (Decimal::new(9_999_999, 0), "09999999"),
    ] {
        assert_eq!(rate_digits(rate).as_deref(), Ok(digits), "{rate}");
    }
    assert!(rate_digits(Decimal::new(10_000_000, 0)).is_err());
    assert!(rate_digits(Decimal::new(-1, 0)).is_err());
}

#[test]
fn the_reader_cuts_the_same_frames_whatever_the_read_sizes() {
    let sealed: Vec<Vec<u8>> = frames().iter().map(|f| seal(f, &key(3)).expect("seals")).collect();
    let stream: Vec<u8> = sealed.iter().flat_map(|f| [&prefix(f)[..], f].concat()).collect();
    for chunk in [1, 2, 3, 7, 64, 4096] {
        let mut reader = FrameReader::new();
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            reader.push(piece);
            while let Some(frame) = reader.next_frame() {
                got.push(frame.expect("within the limit"));
            }
        }
        assert_eq!(got, sealed, "read {chunk} bytes at a time");
        assert_eq!(reader.buffered(), 0);
    }
    let mut reader = FrameReader::new();
    reader.push(&[0xff, 0xff, 0]);
    let err = reader.next_frame().expect("an answer").expect_err("over the limit");
    assert_eq!(err.kind, CodecErrorKind::FrameTooLong { len: 65_535 });
}

proptest! {
    #[test]
    fn no_input_panics(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = open(&bytes, &key(1));
        let mut reader = FrameReader::new();
        reader.push(&bytes);
        while let Some(Ok(_)) = reader.next_frame() {}
    }

    #[test]
    fn frames_with_a_valid_bitmap_but_random_fields_never_panic(
        mti in prop::sample::select(vec!["0200", "0210", "0420", "0430", "0600", "0610", "0800", "0810"]),
        bits in proptest::collection::vec(prop::sample::select(vec![3u8, 4, 6, 7, 10, 11, 32, 33, 37, 39, 48, 49, 51, 70, 90, 100, 102, 103]), 0..12),
        rest in proptest::collection::vec(prop::sample::select(b"0123456789 x".to_vec()), 0..200),
    ) {
        let mut bitmap = [0u8; 16];
        for &n in &bits {
            bitmap[usize::from(n - 1) / 8] |= 0x80 >> ((n - 1) % 8);
        }
        let wide = bits.iter().any(|&n| n > 64);
        if wide { bitmap[0] |= 0x80; }
        let bytes = [mti.as_bytes(), &bitmap[..if wide { 16 } else { 8 }], &rest].concat();
        let _ = peek(&bytes);
    }
}
