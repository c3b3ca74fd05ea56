//! EMVCo Merchant-Presented Mode TLV: the lexer, the CRC and the writer.
//!
//! A payload is a run of data objects `ID LEN VALUE`: a two-digit id, a two-digit length and a
//! value of exactly that many *characters* (Unicode scalar values, not bytes: Khmer and Chinese
//! names are multi-byte in UTF-8). Templates hold the same structure inside their value. The last
//! object is always `63 04 XXXX`, a CRC-16/CCITT-FALSE over the UTF-8 bytes of everything before
//! `XXXX` (so `6304` itself is covered), written as four hex digits.
//!
//! This module knows only structure. It does not know what any id means beyond which ids are
//! templates; field rules live in `verify`. It never panics on any input: every malformed payload
//! comes back as a [`DecodeError`] that carries the character offset and what was wrong.

use std::fmt;

/// The longest payload accepted, in characters. EMVCo MPM caps a payload at 512 characters.
pub const PAYLOAD_CHARS_MAX: usize = 512;
/// The shortest payload that can hold `000201` and `6304XXXX` (the SDK's own minimum is 12).
pub const PAYLOAD_CHARS_MIN: usize = 14;
/// The most data objects at one level. With ids 00–99 unique this is 100; duplicates are lexed
/// (so that verification can name them) but never beyond this bound.
pub const FIELDS_PER_LEVEL_MAX: usize = 128;

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF, no reflection, xorout 0) over `bytes`.
pub fn crc16(bytes: &[u8]) -> u16 {
    let crc = crc_fast::checksum(crc_fast::CrcAlgorithm::Crc16Ibm3740, bytes);
    u16::try_from(crc).expect("a 16-bit CRC fits 16 bits")
}

/// Whether a root-level id holds a template: 26–51 (merchant account templates), 62 (additional
/// data), 64 (language template) and 80–99 (unreserved templates, KHQR's 99 among them).
pub fn is_root_template(id: u8) -> bool {
    ROOT_TEMPLATES.get(usize::from(id)).is_some_and(|&template| template)
}

/// [`is_root_template`] as a table: one load where the ranges took a chain of comparisons.
static ROOT_TEMPLATES: [bool; 100] = {
    let mut table = [false; 100];
    let mut id = 0;
    while id < 100 {
        table[id] = matches!(id, 26..=51 | 62 | 64 | 80..=99);
        id += 1;
    }
    table
};

/// Whether sub-id `sub` of root template `parent` is itself a template: only 62/50–99
/// (payment-system-specific templates inside the additional data field).
pub fn is_sub_template(parent: u8, sub: u8) -> bool {
    parent == 62 && (50..=99).contains(&sub)
}

/// One data object as it stands in the payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// The id, 0–99.
    pub id: u8,
    /// The value, exactly `LEN` characters.
    pub value: &'a str,
    /// Character offset of the id's first digit in the whole payload.
    pub offset: usize,
}

impl Field<'_> {
    /// Character offset of the value's first character in the whole payload.
    pub fn value_offset(&self) -> usize {
        self.offset + 4
    }
}

/// What was wrong with a payload's structure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeErrorKind {
    /// The payload is empty.
    Empty,
    /// The payload is not UTF-8 (only from [`check_utf8`]); `offset` is the first bad byte.
    NotUtf8,
    /// More characters than [`PAYLOAD_CHARS_MAX`].
    TooLong {
        /// Characters in the payload.
        chars: usize,
    },
    /// Fewer characters than [`PAYLOAD_CHARS_MIN`].
    TooShort {
        /// Characters in the payload.
        chars: usize,
    },
    /// The payload does not end in `6304` and four hex digits.
    CrcMissing,
    /// The CRC written in the payload differs from the CRC of its content.
    CrcMismatch {
        /// The CRC written in the payload.
        written: u16,
        /// The CRC computed over the payload.
        computed: u16,
    },
    /// Fewer than four characters remain where an id and a length must stand.
    HeaderTruncated,
    /// The id is not two ASCII digits.
    IdNotDigits,
    /// The length is not two ASCII digits.
    LengthNotDigits,
    /// The length says more characters than remain in the payload or template.
    ValueTruncated {
        /// The length written.
        length: u8,
        /// The characters that remain.
        remaining: usize,
    },
    /// The `6304` at the end is not a data object of its own: the objects before it overrun it.
    CrcNotLast,
    /// More than [`FIELDS_PER_LEVEL_MAX`] data objects at one level.
    TooManyFields,
    /// An id occurs twice at one level (EMVCo allows each id once).
    DuplicateId {
        /// The repeated id.
        id: u8,
    },
    /// The payload does not start with `000201` (the payload format indicator, version 01).
    FormatIndicatorMissing,
}

impl DecodeErrorKind {
    /// A stable, dotted identifier for scripts and reports.
    pub fn id(&self) -> &'static str {
        match self {
            Self::Empty => "tlv.empty",
            Self::NotUtf8 => "tlv.not_utf8",
            Self::TooLong { .. } => "tlv.too_long",
            Self::TooShort { .. } => "tlv.too_short",
            Self::CrcMissing => "crc.missing",
            Self::CrcMismatch { .. } => "crc.mismatch",
            Self::HeaderTruncated => "tlv.header_truncated",
            Self::IdNotDigits => "tlv.id_not_digits",
            Self::LengthNotDigits => "tlv.length_not_digits",
            Self::ValueTruncated { .. } => "tlv.value_truncated",
            Self::CrcNotLast => "crc.not_last",
            Self::TooManyFields => "tlv.too_many_fields",
            Self::DuplicateId { .. } => "tlv.duplicate_id",
            Self::FormatIndicatorMissing => "tlv.format_indicator_missing",
        }
    }
}

/// A payload whose structure cannot be read. `offset` counts characters from the start of the
/// payload; `template` names the enclosing template when the error is inside one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub struct DecodeError {
    /// Character offset where the problem is (for `NotUtf8`, a byte offset).
    pub offset: usize,
    /// The root id of the template the error is in, if any.
    pub template: Option<u8>,
    /// What was wrong.
    pub kind: DecodeErrorKind,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at character {}", self.offset)?;
        if let Some(t) = self.template {
            write!(f, " (inside template {t:02})")?;
        }
        f.write_str(": ")?;
        match self.kind {
            DecodeErrorKind::Empty => f.write_str("the payload is empty"),
            DecodeErrorKind::NotUtf8 => f.write_str("the payload is not valid UTF-8"),
            DecodeErrorKind::TooLong { chars } => {
                write!(f, "{chars} characters, more than the EMVCo limit of {PAYLOAD_CHARS_MAX}")
            }
            DecodeErrorKind::TooShort { chars } => write!(
                f,
                "{chars} characters, fewer than the {PAYLOAD_CHARS_MIN} needed for 000201 and 6304XXXX"
            ),
            DecodeErrorKind::CrcMissing => {
                f.write_str("the payload does not end with the CRC object 6304 and four hex digits")
            }
            DecodeErrorKind::CrcMismatch { written, computed } => write!(
                f,
                "CRC mismatch: the payload says {written:04X} but its content gives {computed:04X}"
            ),
            DecodeErrorKind::HeaderTruncated => {
                f.write_str("fewer than 4 characters left where an id and a length must stand")
            }
            DecodeErrorKind::IdNotDigits => f.write_str("the data object id is not two digits"),
            DecodeErrorKind::LengthNotDigits => f.write_str("the length is not two digits"),
            DecodeErrorKind::ValueTruncated { length, remaining } => {
                write!(f, "the length says {length} characters but only {remaining} remain")
            }
            DecodeErrorKind::CrcNotLast => {
                f.write_str("the data objects overrun the final 6304 CRC object")
            }
            DecodeErrorKind::TooManyFields => {
                write!(f, "more than {FIELDS_PER_LEVEL_MAX} data objects at one level")
            }
            DecodeErrorKind::DuplicateId { id } => write!(f, "id {id:02} occurs more than once"),
            DecodeErrorKind::FormatIndicatorMissing => {
                f.write_str("the payload does not start with the payload format indicator 000201")
            }
        }
    }
}

/// Returns the payload as `&str`, or a [`DecodeErrorKind::NotUtf8`] error at the first bad byte.
pub fn check_utf8(bytes: &[u8]) -> Result<&str, DecodeError> {
    std::str::from_utf8(bytes).map_err(|e| DecodeError {
        offset: e.valid_up_to(),
        template: None,
        kind: DecodeErrorKind::NotUtf8,
    })
}

/// Lexes one level of data objects: an iterator of [`Field`]s, or one [`DecodeError`] and then
/// nothing more. It yields at most [`FIELDS_PER_LEVEL_MAX`] fields.
#[derive(Clone, Debug)]
pub struct Lexer<'a> {
    text: &'a str,
    /// Character offset of `text` in the whole payload.
    base: usize,
    /// Whether the whole payload is ASCII (then characters are bytes).
    ascii: bool,
    /// The enclosing root id, for error locations.
    template: Option<u8>,
    /// Byte index into `text`.
    at: usize,
    /// Character index into `text`.
    chars: usize,
    count: usize,
    failed: bool,
}

impl<'a> Lexer<'a> {
    /// A lexer over `text`, which starts `base` characters into a payload.
    pub fn new(text: &'a str, base: usize, ascii: bool, template: Option<u8>) -> Self {
        Self { text, base, ascii, template, at: 0, chars: 0, count: 0, failed: false }
    }

    fn fail(
        &mut self,
        chars: usize,
        kind: DecodeErrorKind,
    ) -> Option<Result<Field<'a>, DecodeError>> {
        self.failed = true;
        Some(Err(DecodeError { offset: self.base + chars, template: self.template, kind }))
    }
}

impl<'a> Iterator for Lexer<'a> {
    type Item = Result<Field<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at >= self.text.len() {
            return None;
        }
        if self.count == FIELDS_PER_LEVEL_MAX {
            return self.fail(self.chars, DecodeErrorKind::TooManyFields);
        }
        match step(self.text, self.at, self.ascii) {
            Ok(Step { id, start, end, length }) => {
                let offset = self.base + self.chars;
                self.at = end;
                self.chars += 4 + usize::from(length);
                self.count += 1;
                Some(Ok(Field { id, value: &self.text[start..end], offset }))
            }
            Err((delta, kind)) => self.fail(self.chars + delta, kind),
        }
    }
}

/// One data object read at byte index `at` of `text`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Step {
    /// The id.
    pub(crate) id: u8,
    /// Byte index of the value's start.
    pub(crate) start: usize,
    /// Byte index just past the value.
    pub(crate) end: usize,
    /// The length in characters.
    pub(crate) length: u8,
}

/// Reads the data object at byte index `at` of `text`; on failure, the error and its character
/// offset from the object's start.
#[inline(always)]
pub(crate) fn step(text: &str, at: usize, ascii: bool) -> Result<Step, (usize, DecodeErrorKind)> {
    let bytes = text.as_bytes();
    let Some(header) = bytes.get(at..at + 4) else {
        return Err((0, DecodeErrorKind::HeaderTruncated));
    };
    let Some(id) = two_digits(header[0], header[1]) else {
        return Err((0, DecodeErrorKind::IdNotDigits));
    };
    let Some(length) = two_digits(header[2], header[3]) else {
        return Err((2, DecodeErrorKind::LengthNotDigits));
    };
    let start = at + 4;
    let end = if ascii {
        let end = start + usize::from(length);
        if end > bytes.len() {
            let remaining = bytes.len() - start;
            return Err((4, DecodeErrorKind::ValueTruncated { length, remaining }));
        }
        end
    } else {
        match advance_chars(&text[start..], usize::from(length)) {
            Ok(len) => start + len,
            Err(remaining) => {
                return Err((4, DecodeErrorKind::ValueTruncated { length, remaining }));
            }
        }
    };
    Ok(Step { id, start, end, length })
}

/// Byte length of the first `n` characters of `s`, or `Err(characters available)` if fewer.
fn advance_chars(s: &str, n: usize) -> Result<usize, usize> {
    let mut taken = 0;
    for (count, (index, _)) in s.char_indices().enumerate() {
        if count == n {
            return Ok(index);
        }
        taken = count + 1;
    }
    if taken == n { Ok(s.len()) } else { Err(taken) }
}

/// Two ASCII digits as a number 0–99.
#[inline(always)]
pub(crate) fn two_digits(a: u8, b: u8) -> Option<u8> {
    if a.is_ascii_digit() && b.is_ascii_digit() { Some((a - b'0') * 10 + (b - b'0')) } else { None }
}

/// The number of characters in `s`, counted the way EMVCo lengths count them.
pub fn char_count(s: &str) -> usize {
    if all_ascii(s.as_bytes()) { s.len() } else { s.chars().count() }
}

/// What [`check_frame`] learned about a payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame {
    /// The CRC written in (and matching) the payload.
    pub crc: u16,
    /// Whether every character is ASCII.
    pub ascii: bool,
}

/// Checks the frame of a whole payload: size limits, the trailing `6304XXXX`, and the CRC.
/// Does not lex the data objects.
pub fn check_frame(payload: &str) -> Result<Frame, DecodeError> {
    let at_end = |kind| DecodeError { offset: char_count(payload), template: None, kind };
    if payload.is_empty() {
        return Err(DecodeError { offset: 0, template: None, kind: DecodeErrorKind::Empty });
    }
    // A cheap byte bound first, so that a huge input is refused before it is counted.
    if payload.len() > PAYLOAD_CHARS_MAX * 4 {
        let chars = char_count(payload);
        return Err(at_end(DecodeErrorKind::TooLong { chars }));
    }
    let ascii = all_ascii(payload.as_bytes());
    // `char_count`, with the ASCII check already made.
    let chars = if ascii { payload.len() } else { payload.chars().count() };
    if chars > PAYLOAD_CHARS_MAX {
        let kind = DecodeErrorKind::TooLong { chars };
        return Err(DecodeError { offset: PAYLOAD_CHARS_MAX, template: None, kind });
    }
    // The CRC object first, as the SDK does: text that does not end in one is not a QR payload.
    let bytes = payload.as_bytes();
    let written = match bytes.len().checked_sub(8).map(|start| &bytes[start..]) {
        Some([b'6', b'3', b'0', b'4', hex @ ..]) => parse_hex4(hex),
        _ => None,
    };
    let Some(written) = written else {
        let offset = chars.saturating_sub(8);
        return Err(DecodeError { offset, template: None, kind: DecodeErrorKind::CrcMissing });
    };
    if chars < PAYLOAD_CHARS_MIN {
        return Err(at_end(DecodeErrorKind::TooShort { chars }));
    }
    let computed = crc16(&bytes[..bytes.len() - 4]);
    if computed != written {
        return Err(DecodeError {
            offset: chars - 4,
            template: None,
            kind: DecodeErrorKind::CrcMismatch { written, computed },
        });
    }
    Ok(Frame { crc: written, ascii })
}

/// Whether every byte is ASCII: the bytes OR-ed together sixteen at a time, with no exit on
/// the way (a payload here is at most 2,048 bytes, and almost always ASCII). A fifth of the
/// cost of `<[u8]>::is_ascii` on a typical KHQR, which checks each word as it goes.
pub(super) fn all_ascii(bytes: &[u8]) -> bool {
    let (chunks, tail) = bytes.as_chunks::<16>();
    let high = chunks.iter().fold(0, |acc, chunk| acc | u128::from_le_bytes(*chunk));
    let tail_high = tail.iter().fold(0, |acc, &b| acc | b);
    high & u128::from_le_bytes([0x80; 16]) == 0 && tail_high < 0x80
}

/// Parses four hex digits, upper or lower case.
pub fn parse_hex4(digits: &[u8]) -> Option<u16> {
    if digits.len() != 4 {
        return None;
    }
    let mut value = 0u16;
    for &d in digits {
        let nibble = match d {
            b'0'..=b'9' => d - b'0',
            b'A'..=b'F' => d - b'A' + 10,
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        value = value << 4 | u16::from(nibble);
    }
    Some(value)
}

/// Appends data objects to a payload under construction and finishes it with the CRC.
#[derive(Debug)]
pub struct Writer {
    out: String,
}

/// A value too long for a two-digit EMVCo length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValueTooLong {
    /// The id of the object.
    pub id: u8,
    /// Its length in characters.
    pub chars: usize,
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

impl Writer {
    /// An empty payload with room for a typical KHQR.
    pub fn new() -> Self {
        Self { out: String::with_capacity(256) }
    }

    /// Appends `id`, the character length of `value`, and `value`.
    pub fn field(&mut self, id: u8, value: &str) -> Result<(), ValueTooLong> {
        assert!(id <= 99, "EMVCo ids are two digits");
        let chars = char_count(value);
        if chars > 99 {
            return Err(ValueTooLong { id, chars });
        }
        push_two_digits(&mut self.out, id);
        push_two_digits(&mut self.out, chars as u8);
        self.out.push_str(value);
        Ok(())
    }

    /// The content written so far (for building a template's value).
    pub fn as_str(&self) -> &str {
        &self.out
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// Appends `6304` and the CRC, and returns the payload.
    pub fn finish(mut self) -> String {
        self.out.push_str("6304");
        let crc = crc16(self.out.as_bytes());
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        for shift in [12, 8, 4, 0] {
            self.out.push(char::from(HEX[usize::from((crc >> shift) & 0xF)]));
        }
        self.out
    }
}

fn push_two_digits(out: &mut String, n: u8) {
    debug_assert!(n <= 99);
    out.push(char::from(b'0' + n / 10));
    out.push(char::from(b'0' + n % 10));
}
