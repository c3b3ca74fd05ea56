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
    /// Root objects in payload order, each root template directly followed by its own objects.
    objects: Vec<Object>,
    /// How many of `objects` are root objects.
    roots: u8,
    /// Per root id: 1 + the position in `objects` of its first occurrence; 0 when absent. Every
    /// object takes at least 4 of a payload's at most 512 characters, so all levels together
    /// hold at most 128 objects and a `u8` suffices.
    first: [u8; 100],
    /// The first id (in payload order) that repeats at its level, with the enclosing template.
    duplicate: Option<(Object, Option<u8>)>,
    /// What the one-pass check of the common case found (see [`lex`]).
    sound: Sound,
}

/// The verdict [`lex`] takes in the same pass for the common case, an ASCII KHQR with ascending
/// ids: every strict KHQR rule holds but the one that needs the clock. Anything else is
/// `Unchecked`, and strict verification applies the rules one by one, in precedence order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sound {
    /// Not checked in the pass: verification applies every rule.
    Unchecked,
    /// Every strict KHQR rule holds; a dynamic code expires at this time (epoch ms).
    Khqr {
        /// 99/01 of a dynamic code; None for a static one (no expiry rule).
        expires_at_ms: Option<u64>,
    },
}

/// One stored data object, in 8 bytes: a [`Field`] is made from it on demand.
#[derive(Clone, Copy, Debug)]
pub(super) struct Object {
    pub(super) id: u8,
    /// For a root template, how many of its own objects follow it in `Decoded::objects`.
    pub(super) subs: u8,
    /// The value's byte range in the payload (at most 2,048 bytes).
    pub(super) start: u16,
    pub(super) end: u16,
    /// Character offset of the id's first digit in the payload (at most 512).
    pub(super) offset: u16,
}

impl Object {
    pub(super) fn field<'a>(self, payload: &'a str) -> Field<'a> {
        let value = &payload[usize::from(self.start)..usize::from(self.end)];
        Field { id: self.id, value, offset: usize::from(self.offset) }
    }
}

/// Reads a payload's frame and every data object, keeping duplicates. Used by verification,
/// which must see the payload the way the official SDK sees it.
///
/// One pass over the objects: each root object is stored, and a root template's own objects
/// are lexed and stored right after it (one level deeper, 62/50-99, they are checked, not
/// stored). One allocation. The common case (ASCII, ids ascending at every level) takes a
/// tight loop, and then the strict KHQR rules are taken over the stored objects at once, so
/// that [`Decoded::verify`] has only the clock left to check; anything else goes through the
/// general lexer, and verification applies the rules one by one.
///
/// # Errors
/// A [`DecodeError`] for a payload whose size, CRC object, CRC value or TLV structure is wrong.
pub fn lex(payload: &str) -> Result<Decoded<'_>, DecodeError> {
    lex_with(payload, true)
}

/// [`lex`], with the one-pass path for the common case allowed or not (tests compare the two).
pub(super) fn lex_with(payload: &str, fast: bool) -> Result<Decoded<'_>, DecodeError> {
    let frame = tlv::check_frame(payload)?;
    let mut d = Decoded {
        payload,
        ascii: frame.ascii,
        crc: frame.crc,
        objects: Vec::with_capacity(32),
        roots: 0,
        first: [0; 100],
        duplicate: None,
        sound: Sound::Unchecked,
    };
    if fast && frame.ascii && lex_ascii(&mut d) {
        d.sound = super::verify::sound_khqr(&d);
        return Ok(d);
    }
    // Anything else (non-ASCII text, a duplicate id, a structural error) takes the general
    // lexer from the start, which finds and names it.
    d.objects.clear();
    d.first = [0; 100];
    d.roots = 0;
    lex_general(&mut d)?;
    Ok(d)
}

/// The common case in one tight loop: an ASCII payload (so character offsets are byte offsets)
/// whose structure is sound and whose ids ascend at every level, bar the closing CRC object.
/// Ascending ids cannot repeat, so no id set is kept; KHQR requires the order at the root, and
/// encoders write sub-ids in order. False at anything else, leaving `d` partly filled;
/// [`lex_general`] then starts again. Both store the same objects for a payload this accepts
/// (a unit test and a proptest compare them).
fn lex_ascii(d: &mut Decoded<'_>) -> bool {
    let bytes = d.payload.as_bytes();
    let (objects, first) = (&mut d.objects, &mut d.first);
    // `least` is the smallest id the next object may have.
    let (mut at, mut last, mut roots, mut least) = (0, 0, 0, 0);
    while at < bytes.len() {
        let Some((id, start, end)) = ascii_object(bytes, at, bytes.len()) else { return false };
        // The CRC object closes the payload after ids above 63; it must not repeat one.
        let closing = id == 63 && end == bytes.len() && first[63] == 0;
        if id < least && !closing {
            return false;
        }
        let index = objects.len();
        // At most 128 objects of 4 characters in 512, so these fit `u8` and `u16`.
        first[usize::from(id)] = (index + 1) as u8;
        objects.push(Object {
            id,
            subs: 0,
            start: start as u16,
            end: end as u16,
            offset: at as u16,
        });
        if tlv::is_root_template(id) {
            let (mut sub_at, mut sub_least) = (start, 0);
            while sub_at < end {
                let Some((sub, sub_start, sub_end)) = ascii_object(bytes, sub_at, end) else {
                    return false;
                };
                let nested = tlv::is_sub_template(id, sub);
                if sub < sub_least || nested && !ascii_level(bytes, sub_start, sub_end) {
                    return false;
                }
                objects.push(Object {
                    id: sub,
                    subs: 0,
                    start: sub_start as u16,
                    end: sub_end as u16,
                    offset: sub_at as u16,
                });
                (sub_at, sub_least) = (sub_end, sub + 1);
            }
            objects[index].subs = (objects.len() - index - 1) as u8;
        }
        (at, last, roots, least) = (end, index, roots + 1, id + 1);
    }
    d.roots = roots;
    let last = d.objects[last];
    last.id == 63 && last.end - last.start == 4
}

/// Whether `bytes[at..end]` is one sound level of objects with ascending ids (ASCII).
fn ascii_level(bytes: &[u8], mut at: usize, end: usize) -> bool {
    let mut least = 0;
    while at < end {
        let Some((id, _, value_end)) = ascii_object(bytes, at, end) else { return false };
        if id < least {
            return false;
        }
        (at, least) = (value_end, id + 1);
    }
    true
}

/// The object at byte `at` of an ASCII level that ends at byte `end`: its id and the byte range
/// of its value, or None where the general lexer would report an error.
#[inline(always)]
fn ascii_object(bytes: &[u8], at: usize, end: usize) -> Option<(u8, usize, usize)> {
    let start = at + 4;
    if start > end {
        return None;
    }
    // The four header characters as one word: all digits when every byte's high nibble is 3,
    // before and after adding 6 (which carries `:`–`?` into 4, and never across bytes).
    let header = u32::from_le_bytes(bytes.get(at..start)?.try_into().ok()?);
    let nibbles = 0xF0F0_F0F0;
    if header & nibbles != 0x3030_3030 || header.wrapping_add(0x0606_0606) & nibbles != 0x3030_3030
    {
        return None;
    }
    // Ten times each digit plus the next: byte 0 is the id, byte 2 the length. Every byte stays
    // at most 99, so no lane carries into the next.
    let digits = header - 0x3030_3030;
    let [id, _, length, _] = (digits * 10 + (digits >> 8)).to_le_bytes();
    let value_end = start + usize::from(length);
    (value_end <= end).then_some((id, start, value_end))
}

/// The general lexer: any payload, every error located.
fn lex_general(d: &mut Decoded<'_>) -> Result<(), DecodeError> {
    let payload = d.payload;
    let mut level = Level::new(payload, 0, 0, None);
    while let Some(step) = level.next(d.ascii)? {
        let index = d.objects.len();
        let object = level.object(step);
        if level.seen.insert(step.id) {
            // At most 128 objects in all (see `first`), so `index + 1` fits.
            d.first[usize::from(step.id)] = (index + 1) as u8;
        } else {
            note_duplicate(&mut d.duplicate, object, None);
        }
        d.objects.push(object);
        d.roots += 1;
        if tlv::is_root_template(step.id) {
            lex_template(d, object, d.ascii)?;
            d.objects[index].subs = (d.objects.len() - index - 1) as u8;
        }
        level.advance(step);
    }
    // The frame check found `6304XXXX` at the end; it must also be where the objects end.
    match d.fields().last() {
        Some(last) if last.id == 63 && last.value.len() == 4 => Ok(()),
        _ => {
            let offset = tlv::char_count(payload) - 8;
            Err(DecodeError { offset, template: None, kind: DecodeErrorKind::CrcNotLast })
        }
    }
}

/// Lexes and stores the objects of root template `template`, and checks (without storing) the
/// objects of its own templates (62/50-99).
fn lex_template(d: &mut Decoded<'_>, template: Object, ascii: bool) -> Result<(), DecodeError> {
    let parent = Some(template.id);
    let mut level = Level::new(d.payload, template.start, template.offset + 4, parent);
    level.end = usize::from(template.end);
    while let Some(step) = level.next(ascii)? {
        let object = level.object(step);
        if !level.seen.insert(step.id) {
            note_duplicate(&mut d.duplicate, object, parent);
        }
        if tlv::is_sub_template(template.id, step.id) {
            let mut inner = Level::new(d.payload, object.start, object.offset + 4, parent);
            inner.end = usize::from(object.end);
            while let Some(sub) = inner.next(ascii)? {
                if !inner.seen.insert(sub.id) {
                    note_duplicate(&mut d.duplicate, inner.object(sub), parent);
                }
                inner.advance(sub);
            }
        }
        d.objects.push(object);
        level.advance(step);
    }
    Ok(())
}

/// Keeps the duplicate that comes first in the payload.
fn note_duplicate(slot: &mut Option<(Object, Option<u8>)>, object: Object, template: Option<u8>) {
    if slot.is_none_or(|(earlier, _)| object.offset < earlier.offset) {
        *slot = Some((object, template));
    }
}

/// The lexing state of one level of data objects: the byte range `at..end` of the payload that
/// is left, the character offset of `at`, the ids seen and the objects read.
struct Level<'a> {
    payload: &'a str,
    at: usize,
    end: usize,
    chars: u16,
    count: usize,
    template: Option<u8>,
    seen: IdSet,
}

impl<'a> Level<'a> {
    /// The level that starts at byte `at` and character `chars` of the payload and runs to its
    /// end (callers inside a template set `end`).
    fn new(payload: &'a str, at: u16, chars: u16, template: Option<u8>) -> Self {
        let (at, end) = (usize::from(at), payload.len());
        Level { payload, at, end, chars, count: 0, template, seen: IdSet::default() }
    }

    /// The next object's header and value range, None at the level's end. At most
    /// [`tlv::FIELDS_PER_LEVEL_MAX`] objects.
    #[inline(always)]
    fn next(&mut self, ascii: bool) -> Result<Option<tlv::Step>, DecodeError> {
        if self.at >= self.end {
            return Ok(None);
        }
        let error = |delta: usize, kind| DecodeError {
            offset: usize::from(self.chars) + delta,
            template: self.template,
            kind,
        };
        if self.count == tlv::FIELDS_PER_LEVEL_MAX {
            return Err(error(0, DecodeErrorKind::TooManyFields));
        }
        let text = &self.payload[..self.end];
        tlv::step(text, self.at, ascii).map(Some).map_err(|(delta, kind)| error(delta, kind))
    }

    /// The object `step` read, at this level's current character offset. Payload positions fit
    /// `u16`: at most 512 characters of at most 4 bytes.
    fn object(&self, step: tlv::Step) -> Object {
        Object {
            id: step.id,
            subs: 0,
            start: step.start as u16,
            end: step.end as u16,
            offset: self.chars,
        }
    }

    fn advance(&mut self, step: tlv::Step) {
        self.at = step.end;
        self.chars += 4 + u16::from(step.length);
        self.count += 1;
    }
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
    if let Some((field, template)) = decoded.duplicate() {
        let kind = DecodeErrorKind::DuplicateId { id: field.id };
        return Err(DecodeError { offset: field.offset, template, kind });
    }
    Ok(decoded)
}

/// The objects inside a template: see [`Decoded::subs`].
#[derive(Clone, Debug)]
pub struct Subs<'d, 'a>(SubsFrom<'d, 'a>);

#[derive(Clone, Debug)]
enum SubsFrom<'d, 'a> {
    /// Stored when the payload was lexed: the objects still to come, and the payload.
    Stored(std::slice::Iter<'d, Object>, &'a str),
    /// Lexed again now.
    Lexed(Lexer<'a>),
}

impl<'a> Iterator for Subs<'_, 'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        match &mut self.0 {
            SubsFrom::Stored(objects, payload) => objects.next().map(|o| o.field(payload)),
            // The text was lexed without error before, so this never meets one.
            SubsFrom::Lexed(lexer) => lexer.next().and_then(Result::ok),
        }
    }
}

/// The root-level objects of a payload in order: see [`Decoded::fields`].
#[derive(Clone, Debug)]
pub struct Fields<'d, 'a> {
    objects: &'d [Object],
    payload: &'a str,
    left: usize,
}

impl<'a> Iterator for Fields<'_, 'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        let (&object, rest) = self.objects.split_first()?;
        self.objects = rest.get(usize::from(object.subs)..).unwrap_or_default();
        self.left -= 1;
        Some(object.field(self.payload))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl ExactSizeIterator for Fields<'_, '_> {}

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
    pub fn fields(&self) -> Fields<'_, 'a> {
        Fields { objects: &self.objects, payload: self.payload, left: usize::from(self.roots) }
    }

    /// How many root-level data objects there are, duplicates and the CRC object included.
    pub fn roots(&self) -> u8 {
        self.roots
    }

    /// Whether every character is ASCII (then offsets are byte offsets too).
    pub fn is_ascii(&self) -> bool {
        self.ascii
    }

    /// The number of characters in `value`, a part of this payload: its length in bytes when
    /// the payload is ASCII, without looking at it again.
    pub fn chars(&self, value: &str) -> usize {
        if self.ascii { value.len() } else { tlv::char_count(value) }
    }

    /// The first duplicate id at any level, with its enclosing template (None = root).
    pub fn duplicate(&self) -> Option<(Field<'a>, Option<u8>)> {
        self.duplicate.map(|(object, template)| (object.field(self.payload), template))
    }

    /// The CRC written in (and checked against) the payload.
    pub fn crc(&self) -> u16 {
        self.crc
    }

    /// The stored object of the first root occurrence of `id`.
    fn object(&self, id: u8) -> Option<Object> {
        let position = *self.first.get(usize::from(id))?;
        (position != 0).then(|| self.objects[usize::from(position) - 1])
    }

    /// The first root object with this id.
    pub fn field(&self, id: u8) -> Option<Field<'a>> {
        self.object(id).map(|o| o.field(self.payload))
    }

    /// The value of the first root object with this id.
    pub fn get(&self, id: u8) -> Option<&'a str> {
        self.field(id).map(|f| f.value)
    }

    /// The objects inside a template field, in order. Root templates were lexed by [`lex`]: each
    /// is served from what was stored then; a template a level down (62/50-99) is lexed again,
    /// which cannot fail.
    pub fn subs(&self, template: Field<'a>) -> Subs<'_, 'a> {
        if tlv::is_root_template(template.id) {
            // A stored root template, told from its repeats (and from a stored sub-field with
            // the same id, which has no objects of its own) by its offset.
            let stored = self.objects.iter().position(|o| {
                o.id == template.id && usize::from(o.offset) == template.offset && o.subs > 0
            });
            if let Some(index) = stored {
                return Subs(SubsFrom::Stored(self.own_objects(index).iter(), self.payload));
            }
        }
        Subs(SubsFrom::Lexed(Lexer::new(
            template.value,
            template.value_offset(),
            self.ascii,
            Some(template.id),
        )))
    }

    /// The objects of the root template stored at `index`: the ones that follow it.
    fn own_objects(&self, index: usize) -> &[Object] {
        let count = usize::from(self.objects[index].subs);
        &self.objects[index + 1..index + 1 + count]
    }

    /// The stored objects of the first root occurrence of template `id`.
    fn template_objects(&self, id: u8) -> Option<&[Object]> {
        let position = usize::from(*self.first.get(usize::from(id))?);
        Some(self.own_objects(position.checked_sub(1)?))
    }

    /// Sub-id `sub` of the first root template `id`.
    pub fn sub_field(&self, id: u8, sub: u8) -> Option<Field<'a>> {
        let objects = self.template_objects(id)?;
        objects.iter().find(|o| o.id == sub).map(|o| o.field(self.payload))
    }

    /// The value of sub-id `sub` in the first root template `id`.
    pub fn sub(&self, id: u8, sub: u8) -> Option<&'a str> {
        self.sub_field(id, sub).map(|f| f.value)
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
        self.sub(template.id, 0)
    }

    /// Whether this is a KHQR: an EMVCo payload with a Bakong account template (29 or 30) whose
    /// sub-id 00 is a Bakong account id (`name@bank`). A UnionPay-accepting KHQR also has tag 15.
    pub fn is_khqr(&self) -> bool {
        matches!(self.sound, Sound::Khqr { .. })
            || self.account_id().is_some_and(|id| id.contains('@'))
    }

    /// What the one-pass check found.
    pub(super) fn sound(&self) -> Sound {
        self.sound
    }

    /// The stored objects: root objects in payload order, each root template followed by its
    /// own.
    pub(super) fn objects(&self) -> &[Object] {
        &self.objects
    }

    /// The UnionPay merchant account (tag 15).
    pub fn upi_account(&self) -> Option<&'a str> {
        self.get(15)
    }

    /// Sub-id 01 of the Bakong template when it is 30 (a merchant id).
    pub fn merchant_id(&self) -> Option<&'a str> {
        let template = self.bakong_account_template().filter(|f| f.id == 30)?;
        self.sub(template.id, 1)
    }

    /// Sub-id 01 of the Bakong template when it is 29 (account information).
    pub fn account_information(&self) -> Option<&'a str> {
        let template = self.bakong_account_template().filter(|f| f.id == 29)?;
        self.sub(template.id, 1)
    }

    /// Sub-id 02 of the Bakong template (the acquiring bank).
    pub fn acquiring_bank(&self) -> Option<&'a str> {
        let template = self.bakong_account_template()?;
        self.sub(template.id, 2)
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
    epoch_ms(text.as_bytes())
}

/// [`parse_epoch_ms`] over bytes: thirteen digits read as two overlapping eight-byte words
/// (bytes 0–7 and 5–12), each checked and converted eight digits at a time.
pub(super) fn epoch_ms(digits: &[u8]) -> Option<u64> {
    let digits: &[u8; 13] = digits.try_into().ok()?;
    let [head @ .., _, _, _, _, _] = *digits;
    let [_, _, _, _, _, tail @ ..] = *digits;
    // Thirteen digits stay below 10^13, far inside `u64`.
    Some(eight_digits(head)? * 100_000 + eight_digits(tail)? % 100_000)
}

/// The value of eight ASCII digits, or None if any byte is not one.
fn eight_digits(bytes: [u8; 8]) -> Option<u64> {
    let word = u64::from_le_bytes(bytes);
    // A digit's high nibble is 3 before and after adding 6, which carries `:`–`?` into 4 and
    // never crosses a byte.
    let nibbles = 0xF0F0_F0F0_F0F0_F0F0;
    let threes = 0x3030_3030_3030_3030;
    if word & nibbles != threes || word.wrapping_add(0x0606_0606_0606_0606) & nibbles != threes {
        return None;
    }
    // Pairs, then fours, then all eight, the first digit (lowest byte) the most significant:
    // each step multiplies a lane by its weight and adds the next lane down.
    let ones = word - threes;
    // The products overflow only in lanes above the ones kept, hence the wrapping.
    let pairs = ones.wrapping_mul(10 << 8 | 1) >> 8 & 0x00FF_00FF_00FF_00FF;
    let fours = pairs.wrapping_mul(100 << 16 | 1) >> 16 & 0x0000_FFFF_0000_FFFF;
    Some(fours.wrapping_mul(10_000 << 32 | 1) >> 32)
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
        let mut map = serializer.serialize_map(Some(d.fields().len()))?;
        for field in d.fields() {
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
