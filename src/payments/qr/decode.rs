//! A lexed payload and its typed fields.
//!
//! [`lex`] reads the frame (size, trailing CRC object, CRC value) and every data object at every
//! level, and keeps duplicates so that verification can name them. [`decode`] adds the two
//! structural rules every EMVCo reader applies: the payload starts with `000201`, and no id occurs
//! twice at one level. Both borrow from the payload and allocate one small vector.

use serde::ser::{Serialize, SerializeMap, Serializer};

use super::tlv::{self, DecodeError, DecodeErrorKind, Field, Lexer};

/// The root-level fields of a payload whose structure and CRC are sound, and the sub-fields of
/// its templates (lexed once, while their structure was checked).
#[derive(Clone, Debug)]
pub struct Decoded<'a> {
    payload: &'a str,
    ascii: bool,
    crc: u16,
    fields: Vec<Field<'a>>,
    /// Second-level objects of the root templates; each template's objects are contiguous.
    subs: Vec<Field<'a>>,
    /// Per root id: 1 + the position in `fields` of its first occurrence; 0 when absent.
    first: [u8; 100],
    /// Per root id, for its first occurrence: (start, count) of its objects in `subs`. Every
    /// object takes at least 4 of a payload's at most 512 characters, so all levels together
    /// hold at most 128 objects and a `u8` suffices.
    sub_runs: [(u8, u8); 100],
    /// The first id (in payload order) that repeats at its level, with the enclosing template.
    duplicate: Duplicate<'a>,
}

/// Reads a payload's frame and every data object, keeping duplicates. Used by verification,
/// which must see the payload the way the official SDK sees it.
///
/// # Errors
/// A [`DecodeError`] for a payload whose size, CRC object, CRC value or TLV structure is wrong.
pub fn lex(payload: &str) -> Result<Decoded<'_>, DecodeError> {
    let frame = tlv::check_frame(payload)?;
    let mut d = Decoded {
        payload,
        ascii: frame.ascii,
        crc: frame.crc,
        fields: Vec::with_capacity(16),
        subs: Vec::with_capacity(16),
        first: [0; 100],
        sub_runs: [(0, 0); 100],
        duplicate: None,
    };
    let ascii = d.ascii;
    let (fields, subs, first, sub_runs, duplicate) =
        (&mut d.fields, &mut d.subs, &mut d.first, &mut d.sub_runs, &mut d.duplicate);
    lex_level(payload, 0, ascii, None, duplicate, |field, duplicate| {
        let start = subs.len();
        if tlv::is_root_template(field.id) {
            lex_level(
                field.value,
                field.value_offset(),
                ascii,
                Some(field.id),
                duplicate,
                |sub, duplicate| {
                    if tlv::is_sub_template(field.id, sub.id) {
                        // One level deeper (62/50-99): checked, not stored.
                        lex_level(
                            sub.value,
                            sub.value_offset(),
                            ascii,
                            Some(field.id),
                            duplicate,
                            |_, _| Ok(()),
                        )?;
                    }
                    subs.push(sub);
                    Ok(())
                },
            )?;
        }
        let slot = usize::from(field.id);
        if first[slot] == 0 {
            first[slot] = u8::try_from(fields.len() + 1).expect("at most 128 root fields");
            let count = u8::try_from(subs.len() - start).expect("at most 128 sub-fields");
            sub_runs[slot] = (u8::try_from(start).expect("at most 128 fields in all"), count);
        }
        fields.push(field);
        Ok(())
    })?;
    // The frame check found `6304XXXX` at the end; it must also be where the objects end.
    match d.fields.last() {
        Some(last) if last.id == 63 && last.value.len() == 4 => {}
        _ => {
            let offset = tlv::char_count(payload) - 8;
            return Err(DecodeError { offset, template: None, kind: DecodeErrorKind::CrcNotLast });
        }
    }
    Ok(d)
}

/// Keeps the duplicate that comes first in the payload.
fn note_duplicate<'a>(slot: &mut Duplicate<'a>, field: Field<'a>, template: Option<u8>) {
    if slot.is_none_or(|(earlier, _)| field.offset < earlier.offset) {
        *slot = Some((field, template));
    }
}

/// The duplicate found so far, if any.
type Duplicate<'a> = Option<(Field<'a>, Option<u8>)>;

/// Lexes one level of data objects in `text` (which starts `base` characters into the payload,
/// inside root template `template`), notes the first duplicate id, and hands each object to
/// `each` in order. At most [`tlv::FIELDS_PER_LEVEL_MAX`] objects.
fn lex_level<'a>(
    text: &'a str,
    base: usize,
    ascii: bool,
    template: Option<u8>,
    duplicate: &mut Duplicate<'a>,
    mut each: impl FnMut(Field<'a>, &mut Duplicate<'a>) -> Result<(), DecodeError>,
) -> Result<(), DecodeError> {
    let mut seen = IdSet::default();
    let (mut at, mut chars, mut count) = (0, base, 0);
    while at < text.len() {
        let error = |delta: usize, kind| DecodeError { offset: chars + delta, template, kind };
        if count == tlv::FIELDS_PER_LEVEL_MAX {
            return Err(error(0, DecodeErrorKind::TooManyFields));
        }
        let step = tlv::step(text, at, ascii).map_err(|(delta, kind)| error(delta, kind))?;
        let field = Field { id: step.id, value: &text[step.start..step.end], offset: chars };
        if !seen.insert(field.id) {
            note_duplicate(duplicate, field, template);
        }
        each(field, duplicate)?;
        at = step.end;
        chars += 4 + usize::from(step.length);
        count += 1;
    }
    Ok(())
}

/// Reads a payload as EMVCo: [`lex`], then the payload must start with `000201` and no id may
/// occur twice at one level.
///
/// # Errors
/// A [`DecodeError`] that says where and what.
pub fn decode(payload: &str) -> Result<Decoded<'_>, DecodeError> {
    let decoded = lex(payload)?;
    if !payload.starts_with("000201") {
        return Err(DecodeError {
            offset: 0,
            template: None,
            kind: DecodeErrorKind::FormatIndicatorMissing,
        });
    }
    if let Some((field, template)) = decoded.duplicate {
        let kind = DecodeErrorKind::DuplicateId { id: field.id };
        return Err(DecodeError { offset: field.offset, template, kind });
    }
    Ok(decoded)
}

/// The objects inside a template: see [`Decoded::subs`].
#[derive(Clone, Debug)]
pub enum Subs<'d, 'a> {
    /// Stored when the payload was lexed.
    Stored(std::slice::Iter<'d, Field<'a>>),
    /// Lexed again now.
    Lexed(Lexer<'a>),
}

impl<'a> Iterator for Subs<'_, 'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        match self {
            Subs::Stored(fields) => fields.next().copied(),
            // The text was lexed without error before, so this never meets one.
            Subs::Lexed(lexer) => lexer.next().and_then(Result::ok),
        }
    }
}

/// A set of ids 0–99, as two 64-bit words (a `u128` shift costs several times more).
#[derive(Clone, Copy, Debug, Default)]
struct IdSet([u64; 2]);

impl IdSet {
    /// Adds `id`; false if it was already there.
    fn insert(&mut self, id: u8) -> bool {
        let (word, bit) = (usize::from(id >> 6), 1u64 << (id & 63));
        let fresh = self.0[word] & bit == 0;
        self.0[word] |= bit;
        fresh
    }
}

impl<'a> Decoded<'a> {
    /// The whole payload.
    pub fn payload(&self) -> &'a str {
        self.payload
    }

    /// The root-level data objects in payload order, duplicates included.
    pub fn fields(&self) -> &[Field<'a>] {
        &self.fields
    }

    /// Whether every character is ASCII (then offsets are byte offsets too).
    pub fn is_ascii(&self) -> bool {
        self.ascii
    }

    /// The first duplicate id at any level, with its enclosing template (None = root).
    pub fn duplicate(&self) -> Option<(Field<'a>, Option<u8>)> {
        self.duplicate
    }

    /// The CRC written in (and checked against) the payload.
    pub fn crc(&self) -> u16 {
        self.crc
    }

    /// The first root object with this id.
    pub fn field(&self, id: u8) -> Option<Field<'a>> {
        let position = *self.first.get(usize::from(id))?;
        (position != 0).then(|| self.fields[usize::from(position) - 1])
    }

    /// The value of the first root object with this id.
    pub fn get(&self, id: u8) -> Option<&'a str> {
        self.field(id).map(|f| f.value)
    }

    /// The objects inside a template field, in order. Root templates were lexed by [`lex`]: the
    /// first occurrence of each is served from what was stored then; a repeated template, or one
    /// a level down (62/50-99), is lexed again, which cannot fail.
    pub fn subs(&self, template: Field<'a>) -> Subs<'_, 'a> {
        let id = usize::from(template.id);
        let stored = self.field(template.id).filter(|f| f.offset == template.offset);
        if stored.is_some() && tlv::is_root_template(template.id) {
            let (start, count) = self.sub_runs[id];
            let start = usize::from(start);
            return Subs::Stored(self.subs[start..start + usize::from(count)].iter());
        }
        Subs::Lexed(Lexer::new(
            template.value,
            template.value_offset(),
            self.ascii,
            Some(template.id),
        ))
    }

    /// The value of sub-id `sub` in the first root template `id`.
    pub fn sub(&self, id: u8, sub: u8) -> Option<&'a str> {
        let template = self.field(id).filter(|f| tlv::is_root_template(f.id))?;
        self.subs(template).find(|f| f.id == sub).map(|f| f.value)
    }

    /// The Bakong account template: 29 (individual) or 30 (merchant), whichever comes first.
    pub fn bakong_account_template(&self) -> Option<Field<'a>> {
        match (self.field(29), self.field(30)) {
            (Some(a), Some(b)) => Some(if a.offset < b.offset { a } else { b }),
            (a, b) => a.or(b),
        }
    }

    /// The Bakong account id `name@bank` (29/00 or 30/00).
    pub fn account_id(&self) -> Option<&'a str> {
        let template = self.bakong_account_template()?;
        self.subs(template).find(|f| f.id == 0).map(|f| f.value)
    }

    /// Whether this is a KHQR: an EMVCo payload with a Bakong account template (29 or 30) whose
    /// sub-id 00 is a Bakong account id (`name@bank`). A UnionPay-accepting KHQR also has tag 15.
    pub fn is_khqr(&self) -> bool {
        self.account_id().is_some_and(|id| id.contains('@'))
    }

    /// The UnionPay merchant account (tag 15).
    pub fn upi_account(&self) -> Option<&'a str> {
        self.get(15)
    }

    /// Sub-id 01 of the Bakong template when it is 30 (a merchant id).
    pub fn merchant_id(&self) -> Option<&'a str> {
        let template = self.bakong_account_template().filter(|f| f.id == 30)?;
        self.subs(template).find(|f| f.id == 1).map(|f| f.value)
    }

    /// Sub-id 01 of the Bakong template when it is 29 (account information).
    pub fn account_information(&self) -> Option<&'a str> {
        let template = self.bakong_account_template().filter(|f| f.id == 29)?;
        self.subs(template).find(|f| f.id == 1).map(|f| f.value)
    }

    /// Sub-id 02 of the Bakong template (the acquiring bank).
    pub fn acquiring_bank(&self) -> Option<&'a str> {
        let template = self.bakong_account_template()?;
        self.subs(template).find(|f| f.id == 2).map(|f| f.value)
    }

    /// KHQR creation timestamp 99/00, as written (banks also put other data there).
    pub fn created_at_raw(&self) -> Option<&'a str> {
        self.sub(99, 0)
    }

    /// KHQR expiration timestamp 99/01, as written.
    pub fn expires_at_raw(&self) -> Option<&'a str> {
        self.sub(99, 1)
    }

    /// Whether the point of initiation method (tag 01) says dynamic (`12`).
    pub fn is_dynamic(&self) -> bool {
        self.get(1) == Some("12")
    }
}

/// Parses a 13-digit epoch-millisecond timestamp as KHQR writes them.
pub fn parse_epoch_ms(text: &str) -> Option<u64> {
    if text.len() == 13 && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse().ok()
    } else {
        None
    }
}

impl<'a> Decoded<'a> {
    /// The raw TLV tree, serialisable as a JSON object in payload order with templates as nested
    /// objects: `{"00":"01","29":{"00":"a@devb"},…}`.
    pub fn tag_tree(&self) -> TagTree<'a> {
        TagTree(Some(self.clone()))
    }
}

/// The raw TLV tree of a payload (see [`Decoded::tag_tree`]); `TagTree::default()` is the empty
/// tree of a payload with no TLV structure.
#[derive(Clone, Debug, Default)]
pub struct TagTree<'a>(Option<Decoded<'a>>);

impl Serialize for TagTree<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(d) = &self.0 else { return serializer.serialize_map(Some(0))?.end() };
        let mut map = serializer.serialize_map(Some(d.fields.len()))?;
        for &field in &d.fields {
            let key = TwoDigits(field.id);
            if tlv::is_root_template(field.id) {
                map.serialize_entry(&key, &TemplateTree { d, parent: Some(field.id), field })?;
            } else {
                map.serialize_entry(&key, field.value)?;
            }
        }
        map.end()
    }
}

/// A template's objects; `parent` is the root id for a root template, None one level down.
struct TemplateTree<'d, 'a> {
    d: &'d Decoded<'a>,
    parent: Option<u8>,
    field: Field<'a>,
}

impl Serialize for TemplateTree<'_, '_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for sub in self.d.subs(self.field) {
            let key = TwoDigits(sub.id);
            if self.parent.is_some_and(|p| tlv::is_sub_template(p, sub.id)) {
                map.serialize_entry(&key, &TemplateTree { d: self.d, parent: None, field: sub })?;
            } else {
                map.serialize_entry(&key, sub.value)?;
            }
        }
        map.end()
    }
}

/// An id as its two digits, without allocating.
struct TwoDigits(u8);

impl Serialize for TwoDigits {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let digits = [b'0' + self.0 / 10, b'0' + self.0 % 10];
        serializer.serialize_str(std::str::from_utf8(&digits).expect("two ASCII digits"))
    }
}
