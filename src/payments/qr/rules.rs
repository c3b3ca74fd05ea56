//! The rules a QR payload or an encode spec can break, and the official SDK's error codes.
//!
//! [`ErrorCode`] is the official `bakong-khqr` 1.0.20 table (`src/constant/errorCode.js`), with its
//! messages verbatim, typos included, so that tools comparing with the SDK can match on them.
//! [`Rule`] is ours: one variant per rule, each with a stable dotted id, the SDK code where the SDK
//! has one for the same meaning, and a sentence that says what is wrong. A [`Violation`] is a rule
//! plus where it was broken. Rejections are values; nothing here panics.

use std::fmt;

macro_rules! error_codes {
    ($( $name:ident = $code:literal, $constant:literal, $message:literal; )*) => {
        /// An error code of the official KHQR SDK.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(missing_docs)]
        pub enum ErrorCode { $( $name = $code, )* }

        impl ErrorCode {
            /// Every code, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$( ErrorCode::$name, )*];

            /// The number the SDK returns.
            pub fn number(self) -> u8 {
                self as u8
            }

            /// The SDK's constant name, e.g. `TRANSACTION_AMOUNT_INVALID`.
            pub fn constant(self) -> &'static str {
                match self { $( ErrorCode::$name => $constant, )* }
            }

            /// The SDK's message, verbatim.
            pub fn message(self) -> &'static str {
                match self { $( ErrorCode::$name => $message, )* }
            }

            /// The code with this number.
            pub fn from_number(number: u8) -> Option<ErrorCode> {
                Self::ALL.iter().copied().find(|c| c.number() == number)
            }
        }
    };
}

error_codes! {
    BakongAccountIdRequired = 1, "BAKONG_ACCOUNT_ID_REQUIRED", "Bakong Account ID cannot be null or empty";
    MerchantNameRequired = 2, "MERCHANT_NAME_REQUIRED", "Merchant name cannot be null or empty";
    BakongAccountIdInvalid = 3, "BAKONG_ACCOUNT_ID_INVALID", "Bakong Account ID is invalid";
    TransactionAmountInvalid = 4, "TRANSACTION_AMOUNT_INVALID", "Amount is invalid";
    MerchantTypeRequired = 5, "MERCHANT_TYPE_REQUIRED", "Merchant type cannot be null or empty";
    BakongAccountIdLengthInvalid = 6, "BAKONG_ACCOUNT_ID_LENGTH_INVALID", "Bakong Account ID Length is Invalid";
    MerchantNameLengthInvalid = 7, "MERCHANT_NAME_LENGTH_INVALID", "Merchant Name Length is invalid";
    KhqrInvalid = 8, "KHQR_INVALID", "KHQR provided is invalid";
    CurrencyTypeRequired = 9, "CURRENCY_TYPE_REQUIRED", "Currency type cannot be null or empty";
    BillNumberLengthInvalid = 10, "BILL_NUMBER_LENGTH_INVALID", "Bill Name Length is invalid";
    StoreLabelLengthInvalid = 11, "STORE_LABEL_LENGTH_INVALID", "Store Label Length is invalid";
    TerminalLabelLengthInvalid = 12, "TERMINAL_LABEL_LENGTH_INVALID", "Terminal Label Length is invalid";
    ConnectionTimeout = 13, "CONNECTION_TIMEOUT", "Cannot reach Bakong Open API service. Please check internet connection";
    InvalidDeepLinkSourceInfo = 14, "INVALID_DEEP_LINK_SOURCE_INFO", "Source Info for Deep Link is invalid";
    InternalServerError = 15, "INTERNAL_SREVER", "Internal server error";
    PayloadFormatIndicatorLengthInvalid = 16, "PAYLOAD_FORMAT_INDICATOR_LENGTH_INVALID", "Payload Format indicator Length is invalid";
    PointInitiationLengthInvalid = 17, "POINT_INITIATION_LENGTH_INVALID", "Point of initiation Length is invalid";
    MerchantCodeLengthInvalid = 18, "MERCHANT_CODE_LENGTH_INVALID", "Merchant code Length is invalid";
    TransactionCurrencyLengthInvalid = 19, "TRANSACTION_CURRENCY_LENGTH_INVALID", "Transaction currency Length is invalid";
    CountryCodeLengthInvalid = 20, "COUNTRY_CODE_LENGTH_INVALID", "Country code Length is invalid";
    MerchantCityLengthInvalid = 21, "MERCHANT_CITY_LENGTH_INVALID", "Merchant city Length is invalid";
    CrcLengthInvalid = 22, "CRC_LENGTH_INVALID", "CRC Length is invalid";
    PayloadFormatIndicatorTagRequired = 23, "PAYLOAD_FORMAT_INDICATOR_TAG_REQUIRED", "Payload format indicator tag required";
    CrcTagRequired = 24, "CRC_TAG_REQUIRED", "CRC tag required";
    MerchantCategoryTagRequired = 25, "MERCHANT_CATEGORY_TAG_REQUIRED", "Merchant category tag required";
    CountryCodeTagRequired = 26, "COUNTRY_CODE_TAG_REQUIRED", "Country Code cannot be null or empty";
    MerchantCityTagRequired = 27, "MERCHANT_CITY_TAG_REQUIRED", "Merchant City cannot be null or empty";
    UnsupportedCurrency = 28, "UNSUPPORTED_CURRENCY", "Unsupported currency";
    InvalidDeepLinkUrl = 29, "INVALID_DEEP_LINK_URL", "Deep Link URL is not valid";
    MerchantIdRequired = 30, "MERCHANT_ID_REQUIRED", "Merchant ID cannot be null or empty";
    AcquiringBankRequired = 31, "ACQUIRING_BANK_REQUIRED", "Acquiring Bank cannot be null or empty";
    MerchantIdLengthInvalid = 32, "MERCHANT_ID_LENGTH_INVALID", "Merchant ID Length is invalid";
    AcquiringBankLengthInvalid = 33, "ACQUIRING_BANK_LENGTH_INVALID", "Acquiring Bank Length is invalid";
    MobileNumberLengthInvalid = 34, "MOBILE_NUMBER_LENGTH_INVALID", "Mobile Number Length is invalid";
    AccountInformationLengthInvalid = 35, "ACCOUNT_INFORMATION_LENGTH_INVALID", "Account Information Length is invalid";
    TagNotInOrder = 36, "TAG_NOT_IN_ORDER", "Tag is not in order";
    LanguagePreferenceRequired = 37, "LANGUAGE_PREFERENCE_REQUIRED", "Language Preference cannot be null or empty";
    LanguagePreferenceLengthInvalid = 38, "LANGUAGE_PREFERENCE_LENGTH_INVALID", "Language Preference Length is invalid";
    MerchantNameAlternateLanguageRequired = 39, "MERCHANT_NAME_ALTERNATE_LANGUAGE_REQUIRED", "Merchant Name Alternate Language cannot be null or empty";
    MerchantNameAlternateLanguageLengthInvalid = 40, "MERCHANT_NAME_ALTERNATE_LANGUAGE_LENGTH_INVALID", "Merchant Name Alternate Language Length is invalid";
    MerchantCityAlternateLanguageLengthInvalid = 41, "MERCHANT_CITY_ALTERNATE_LANGUAGE_LENGTH_INVALID", "Merchant City Alternate Language Length is invalid";
    PurposeOfTransactionLengthInvalid = 42, "PURPOSE_OF_TRANSACTION_LENGTH_INVALID", "Purpose of Transaction Length is invalid";
    UpiAccountInformationLengthInvalid = 43, "UPI_ACCOUNT_INFORMATION_LENGTH_INVALID", "Upi Account Information Length is invalid";
    UpiAccountInformationInvalidCurrency = 44, "UPI_ACCOUNT_INFORMATION_INVALID_CURRENCY", "Upi Account Information Length does not accept USD";
    ExpirationTimestampRequired = 45, "EXPIRATION_TIMESTAMP_REQUIRED", "Expiration timestamp is required for dynamic KHQR";
    KhqrExpired = 46, "KHQR_EXPIRED", "This dynamic KHQR has expired";
    InvalidDynamicKhqr = 47, "INVALID_DYNAMIC_KHQR", "This dynamic KHQR has invalid field transaction amount";
    PointOfInitiationMethodInvalid = 48, "POINT_OF_INITIATION_METHOD_INVALID", "Point of Initiation Method is invalid";
    ExpirationTimestampLengthInvalid = 49, "EXPIRATION_TIMESTAMP_LENGTH_INVALID", "Expiration timestamp length is invalid";
    ExpirationTimestampInThePast = 50, "EXPIRATION_TIMESTAMP_IN_THE_PAST", "Expiration timestamp is in the past";
    InvalidMerchantCategoryCode = 51, "INVALID_MERCHANT_CATEGORY_CODE", "Invalid merchant category code";
}

macro_rules! rules {
    ($( $(#[$doc:meta])* $name:ident = $id:literal, $code:ident, $text:literal; )*) => {
        /// A rule of the KHQR or EMVCo format, or of encoding, that an input can break.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule { $( $(#[$doc])* $name, )* }

        impl Rule {
            /// Every rule.
            pub const ALL: &'static [Rule] = &[$( Rule::$name, )*];

            /// A stable dotted identifier, e.g. `khqr.amount_invalid`.
            pub fn id(self) -> &'static str {
                match self { $( Rule::$name => $id, )* }
            }

            /// The official SDK's code for the same failure, if it has one.
            pub fn sdk_code(self) -> Option<ErrorCode> {
                match self { $( Rule::$name => rules!(@code $code), )* }
            }

            /// One sentence saying what the rule requires.
            pub fn text(self) -> &'static str {
                match self { $( Rule::$name => $text, )* }
            }
        }
    };
    (@code None) => { None };
    (@code $code:ident) => { Some(ErrorCode::$code) };
}

rules! {
    /// Tag 00 is missing or empty.
    PfiMissing = "pfi.missing", PayloadFormatIndicatorTagRequired, "the payload format indicator (00) is required";
    /// Tag 00 is not the first object.
    PfiNotFirst = "pfi.not_first", PayloadFormatIndicatorTagRequired, "the payload format indicator (00) must be the first object";
    /// Tag 00 is longer than 2 characters.
    PfiLength = "pfi.length", PayloadFormatIndicatorLengthInvalid, "the payload format indicator (00) must be 2 characters";
    /// Tag 00 is not `01`.
    PfiValue = "pfi.value", None, "the payload format indicator (00) must be 01";
    /// An id occurs twice at one level.
    DuplicateId = "emvco.duplicate_id", None, "an id occurs more than once at one level";
    /// KHQR root objects out of ascending order.
    TagOrder = "khqr.tag_order", TagNotInOrder, "KHQR root objects must be in ascending id order";
    /// Tag 01 longer than 2.
    PoiLength = "poi.length", PointInitiationLengthInvalid, "the point of initiation method (01) must be 2 characters";
    /// Tag 01 not 11 or 12.
    PoiValue = "poi.value", PointOfInitiationMethodInvalid, "the point of initiation method (01) must be 11 (static) or 12 (dynamic)";
    /// A dynamic KHQR without an amount.
    DynamicWithoutAmount = "khqr.dynamic_without_amount", InvalidDynamicKhqr, "a dynamic KHQR (01 = 12) must carry an amount (54)";
    /// A dynamic KHQR (or one with an amount) without an expiration timestamp.
    ExpiryMissing = "khqr.expiry_missing", ExpirationTimestampRequired, "a dynamic KHQR or one with an amount needs the expiration timestamp 99/01";
    /// A static KHQR carrying an amount.
    AmountOnStatic = "khqr.amount_on_static", None, "a KHQR with an amount (54) must be dynamic (01 = 12)";
    /// No merchant account object.
    AccountMissing = "account.missing", MerchantTypeRequired, "a merchant account object is required: KHQR tag 29 or 30, EMVCo one of 02-51";
    /// Both 29 and 30.
    AccountBothTemplates = "khqr.both_29_and_30", None, "a KHQR carries either tag 29 (individual) or tag 30 (merchant), not both";
    /// No Bakong account id.
    AccountIdMissing = "account.id_missing", BakongAccountIdRequired, "the Bakong account id (29/00 or 30/00) is required";
    /// Bakong account id longer than 32.
    AccountIdLength = "account.id_length", BakongAccountIdLengthInvalid, "the Bakong account id must be at most 32 characters";
    /// Bakong account id not `name@bank`.
    AccountIdInvalid = "account.id_invalid", BakongAccountIdInvalid, "the Bakong account id must have the form name@bank";
    /// 29/01 longer than 32.
    AccountInformationLength = "account.information_length", AccountInformationLengthInvalid, "account information (29/01) must be at most 32 characters";
    /// 30/01 missing.
    MerchantIdMissing = "account.merchant_id_missing", MerchantIdRequired, "a merchant KHQR (tag 30) needs a merchant id (30/01)";
    /// 30/01 longer than 32.
    MerchantIdLength = "account.merchant_id_length", MerchantIdLengthInvalid, "the merchant id (30/01) must be at most 32 characters";
    /// 30/02 missing.
    AcquiringBankMissing = "account.acquiring_bank_missing", AcquiringBankRequired, "the acquiring bank (02) must not be empty, and a merchant KHQR must have one";
    /// 02 longer than 32.
    AcquiringBankLength = "account.acquiring_bank_length", AcquiringBankLengthInvalid, "the acquiring bank (02) must be at most 32 characters";
    /// Tag 15 longer than 99.
    UpiLength = "upi.length", UpiAccountInformationLengthInvalid, "the UnionPay merchant account (15) must be at most 99 characters";
    /// Tag 15 with USD.
    UpiWithUsd = "upi.with_usd", UpiAccountInformationInvalidCurrency, "a KHQR with a UnionPay account (15) must be in KHR, not USD";
    /// Tag 15 missing from a UnionPay code.
    UpiMissing = "upi.missing", None, "a UnionPay merchant code needs its UnionPay merchant account (15)";
    /// Tag 52 missing.
    MccMissing = "mcc.missing", MerchantCategoryTagRequired, "the merchant category code (52) is required";
    /// Tag 52 not 4 characters.
    MccLength = "mcc.length", MerchantCodeLengthInvalid, "the merchant category code (52) must be 4 characters";
    /// Tag 52 not digits.
    MccInvalid = "mcc.invalid", InvalidMerchantCategoryCode, "the merchant category code (52) must be digits";
    /// Tag 53 missing.
    CurrencyMissing = "currency.missing", CurrencyTypeRequired, "the transaction currency (53) is required";
    /// Tag 53 not 3 characters.
    CurrencyLength = "currency.length", TransactionCurrencyLengthInvalid, "the transaction currency (53) must be 3 digits";
    /// Tag 53 not an accepted currency.
    CurrencyUnsupported = "currency.unsupported", UnsupportedCurrency, "the currency is not accepted here (KHQR: 116 KHR or 840 USD; UnionPay codes: 156 CNY)";
    /// Tag 54 malformed.
    AmountInvalid = "amount.invalid", TransactionAmountInvalid, "the amount (54) must be a positive decimal of at most 13 characters with the currency's decimals (KHR none, USD and CNY up to 2)";
    /// Tag 58 missing.
    CountryMissing = "country.missing", CountryCodeTagRequired, "the country code (58) is required";
    /// Tag 58 wrong length.
    CountryLength = "country.length", CountryCodeLengthInvalid, "the country code (58) must be 2 characters (the SDK allows up to 3)";
    /// Tag 58 not KH on a KHQR.
    CountryNotKh = "khqr.country_not_kh", None, "a KHQR's country code (58) must be KH";
    /// Tag 59 missing.
    NameMissing = "name.missing", MerchantNameRequired, "the merchant name (59) is required";
    /// Tag 59 too long.
    NameLength = "name.length", MerchantNameLengthInvalid, "the merchant name (59) must be at most 25 characters";
    /// Tag 60 missing.
    CityMissing = "city.missing", MerchantCityTagRequired, "the merchant city (60) is required";
    /// Tag 60 too long.
    CityLength = "city.length", MerchantCityLengthInvalid, "the merchant city (60) must be at most 15 characters";
    /// Tag 61 too long.
    PostalCodeLength = "emvco.postal_code_length", None, "the postal code (61) must be at most 10 characters";
    /// Tag 55 not 01, 02 or 03, or 56/57 inconsistent with it.
    TipInvalid = "emvco.tip_invalid", None, "the tip indicator (55) must be 01, 02 (with 56) or 03 (with 57)";
    /// 62/01 empty or too long.
    BillNumberLength = "additional.bill_number_length", BillNumberLengthInvalid, "the bill number (62/01) must be 1 to 25 characters";
    /// 62/02 empty or too long.
    MobileNumberLength = "additional.mobile_number_length", MobileNumberLengthInvalid, "the mobile number (62/02) must be 1 to 25 characters";
    /// 62/03 empty or too long.
    StoreLabelLength = "additional.store_label_length", StoreLabelLengthInvalid, "the store label (62/03) must be 1 to 25 characters";
    /// 62/07 empty or too long.
    TerminalLabelLength = "additional.terminal_label_length", TerminalLabelLengthInvalid, "the terminal label (62/07) must be 1 to 25 characters";
    /// 62/08 empty or too long.
    PurposeLength = "additional.purpose_length", PurposeOfTransactionLengthInvalid, "the purpose of transaction (62/08) must be 1 to 25 characters";
    /// Another 62 sub-field out of its EMVCo length.
    AdditionalDataLength = "additional.length", None, "an additional data field (62) is outside its EMVCo length (04-06: 1-25, 09: 1-3, 10: 1-20, 11: 3)";
    /// 64 without 64/00.
    LanguagePreferenceMissing = "language.preference_missing", LanguagePreferenceRequired, "the language template (64) needs a language preference (64/00)";
    /// 64/00 not 2 characters.
    LanguagePreferenceLength = "language.preference_length", LanguagePreferenceLengthInvalid, "the language preference (64/00) must be 2 characters";
    /// 64 without 64/01.
    NameAltMissing = "language.name_missing", MerchantNameAlternateLanguageRequired, "the language template (64) needs the merchant name in that language (64/01)";
    /// 64/01 empty or too long.
    NameAltLength = "language.name_length", MerchantNameAlternateLanguageLengthInvalid, "the alternate-language merchant name (64/01) must be 1 to 25 characters";
    /// 64/02 empty or too long.
    CityAltLength = "language.city_length", MerchantCityAlternateLanguageLengthInvalid, "the alternate-language merchant city (64/02) must be 1 to 15 characters";
    /// 99/01 not 13 digits.
    ExpiryLength = "khqr.expiry_length", ExpirationTimestampLengthInvalid, "the expiration timestamp (99/01) must be 13 digits of epoch milliseconds";
    /// 99/00 not 13 digits on a dynamic KHQR, or creation time not 13 digits when encoding.
    CreationInvalid = "khqr.creation_invalid", None, "the creation timestamp (99/00) must be 13 digits of epoch milliseconds";
    /// Expiry before creation.
    ExpiryBeforeCreation = "khqr.expiry_before_creation", ExpirationTimestampInThePast, "the expiration timestamp is before the creation timestamp";
    /// Expired at the verification time.
    Expired = "khqr.expired", KhqrExpired, "this dynamic KHQR has expired";
    /// Tag 63 missing from the tags the SDK read (it stopped at a repeated tag before it).
    SdkCrcTagMissing = "crc.tag_missing", CrcTagRequired, "the CRC object (63) is required";
    /// Tag 63 longer than 4 (only an earlier, stray 63 can be).
    CrcLength = "crc.length", CrcLengthInvalid, "the CRC (63) must be 4 characters";
    /// The SDK throws a TypeError: 64/01 present without 64/00.
    SdkTypeError = "sdk.type_error", None, "the official SDK throws a TypeError on a language template with a merchant name but no language preference";
    /// A URL code, or text that is not EMVCo at all.
    NotEmvco = "payload.not_emvco", None, "not an EMVCo payload; URL codes (WeChat Pay, UnionPay) carry no data to verify offline";
    /// Encode: a template over 99 characters.
    TemplateTooLong = "encode.template_too_long", None, "a template's content must be at most 99 characters";
    /// Encode: a character outside the Basic Multilingual Plane.
    CharacterOutsideBmp = "encode.character_outside_bmp", None, "text must stay in the Basic Multilingual Plane: the SDK counts other characters twice";
    /// Encode: a control character (NUL, ESC, ...) or an invisible formatting character (a
    /// bidirectional override, a zero-width joiner, a byte-order mark) in a text field: it would
    /// show the payer something other than what the code says.
    ControlCharacter = "encode.control_character", None, "text must not hold control or invisible formatting characters (NUL, ESC, bidirectional overrides, zero-width characters)";
    /// Encode: a field that this kind of code does not have.
    FieldNotApplicable = "encode.field_not_applicable", None, "this field does not apply to this kind of code";
    /// Encode: a dynamic code without its creation time.
    CreationMissing = "encode.creation_missing", None, "a dynamic KHQR needs its creation time (created_at_ms)";
}

/// Where in a payload (or spec) a rule was broken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Place {
    /// The payload as a whole.
    Payload,
    /// A root object.
    Tag(u8),
    /// A sub-object of a root template.
    Sub(u8, u8),
    /// A key of an encode spec.
    Key(&'static str),
}

/// A broken rule and where: the value verification and encoding return.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Violation {
    /// The rule.
    pub rule: Rule,
    /// The object or key that broke it.
    pub place: Place,
    /// Character offset of that object in the payload (0 for specs and whole-payload rules).
    pub offset: usize,
}

impl Violation {
    /// A violation at a key of an encode spec.
    pub fn key(rule: Rule, key: &'static str) -> Self {
        Self { rule, place: Place::Key(key), offset: 0 }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.place {
            Place::Payload => write!(f, "{}", self.rule.text())?,
            Place::Tag(id) => {
                write!(f, "tag {id:02} at character {}: {}", self.offset, self.rule.text())?
            }
            Place::Sub(id, sub) => write!(
                f,
                "tag {id:02}/{sub:02} at character {}: {}",
                self.offset,
                self.rule.text()
            )?,
            Place::Key(key) => write!(f, "key `{key}`: {}", self.rule.text())?,
        }
        if let Some(code) = self.rule.sdk_code() {
            write!(f, " (SDK error {} {})", code.number(), code.constant())?;
        }
        Ok(())
    }
}
