//! Goods and donations as typed values: quantities, yuan kept as fen, points
//! prices, barcodes, dates, donor kinds. Parsed once from form strings.

use std::fmt;

use super::FieldError;
use super::input::normalize;
pub use super::input::parse_date;
pub use super::people::mask_phone;

/// The most units one line may move; more is almost surely a typing slip.
pub const MAX_QUANTITY: i64 = 1_000_000;
/// The largest amount in fen accepted (100 million yuan).
pub const MAX_FEN: i64 = 10_000_000_000;
pub const MAX_POINTS_PRICE: i64 = 1_000_000;

/// A positive whole number of units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Quantity(i64);

impl Quantity {
    pub fn parse(field: &'static str, s: &str) -> Result<Quantity, FieldError> {
        let n = parse_whole(field, s)?;
        if n == 0 {
            return Err(FieldError::new(field, "error.quantity_positive"));
        }
        Ok(Quantity(n))
    }

    /// For code that already holds a checked number (tests, counts).
    pub fn new(n: i64) -> Option<Quantity> {
        (1..=MAX_QUANTITY).contains(&n).then_some(Quantity(n))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A whole number from 0 to MAX_QUANTITY (a counted quantity, a threshold).
pub fn parse_whole(field: &'static str, s: &str) -> Result<i64, FieldError> {
    let s = normalize(s);
    let s = s.as_str();
    if s.is_empty() {
        return Err(FieldError::new(field, "error.required"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(field, "error.whole_number"));
    }
    match s.parse::<i64>() {
        Ok(n) if n <= MAX_QUANTITY => Ok(n),
        _ => Err(FieldError::new(field, "error.number_too_big").arg("max", MAX_QUANTITY)),
    }
}

/// A points price: a whole number of points, 0 or more.
pub fn parse_points_price(field: &'static str, s: &str) -> Result<i64, FieldError> {
    let s = normalize(s);
    let s = s.as_str();
    if s.is_empty() {
        return Err(FieldError::new(field, "error.required"));
    }
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(FieldError::new(field, "error.whole_number"));
    }
    match s.parse::<i64>() {
        Ok(n) if n <= MAX_POINTS_PRICE => Ok(n),
        _ => Err(FieldError::new(field, "error.number_too_big").arg("max", MAX_POINTS_PRICE)),
    }
}

/// An amount typed in yuan ("12", "12.5", "12.34"), kept as integer fen.
/// Empty means zero.
pub fn parse_yuan(field: &'static str, s: &str) -> Result<i64, FieldError> {
    let s = normalize(s);
    let s = s.trim_start_matches(['¥', '￥']).trim();
    if s.is_empty() {
        return Ok(0);
    }
    let bad = || FieldError::new(field, "error.yuan_format");
    let (whole, frac) = match s.split_once('.') {
        Some((w, f)) => (w, f),
        None => (s, ""),
    };
    if whole.is_empty()
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 2
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || (s.contains('.') && frac.is_empty())
    {
        return Err(bad());
    }
    if whole.len() > 12 {
        return Err(bad());
    }
    let yuan: i64 = whole.parse().map_err(|_| bad())?;
    let fen_part: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
    let fen = yuan * 100 + fen_part;
    if fen > MAX_FEN {
        return Err(bad());
    }
    Ok(fen)
}

/// Fen shown as yuan with two decimals: 123456 -> "1234.56".
pub fn yuan(fen: impl std::borrow::Borrow<i64>) -> String {
    let fen = *fen.borrow();
    let sign = if fen < 0 { "-" } else { "" };
    let a = fen.unsigned_abs();
    format!("{sign}{}.{:02}", a / 100, a % 100)
}

/// A barcode as a scanner types it: 4 to 32 letters, digits or '-'. Empty
/// means none.
pub fn parse_barcode(field: &'static str, s: &str) -> Result<Option<String>, FieldError> {
    let s = normalize(s);
    let s = s.as_str();
    if s.is_empty() {
        return Ok(None);
    }
    let ok =
        (4..=32).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !ok {
        return Err(FieldError::new(field, "error.barcode_format"));
    }
    Ok(Some(s.to_string()))
}

/// A contact phone where a plain one is kept (donors, stores): parsed by
/// the one phone parser ([`super::people::Phone`]); empty is none.
pub fn parse_phone(field: &'static str, s: &str) -> Result<String, FieldError> {
    if normalize(s).is_empty() {
        return Ok(String::new());
    }
    super::people::Phone::parse(field, s).map(|p| p.expose().to_string())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DonorKind {
    Enterprise,
    PublicUnit,
    SocialOrg,
    Individual,
    Anonymous,
}

impl DonorKind {
    pub const ALL: [DonorKind; 5] = [
        DonorKind::Enterprise,
        DonorKind::PublicUnit,
        DonorKind::SocialOrg,
        DonorKind::Individual,
        DonorKind::Anonymous,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DonorKind::Enterprise => "enterprise",
            DonorKind::PublicUnit => "public_unit",
            DonorKind::SocialOrg => "social_org",
            DonorKind::Individual => "individual",
            DonorKind::Anonymous => "anonymous",
        }
    }

    pub fn parse(s: &str) -> Option<DonorKind> {
        DonorKind::ALL.into_iter().find(|k| k.as_str() == s.trim())
    }

    pub fn label_key(self) -> &'static str {
        match self {
            DonorKind::Enterprise => "donors.kind_enterprise",
            DonorKind::PublicUnit => "donors.kind_public_unit",
            DonorKind::SocialOrg => "donors.kind_social_org",
            DonorKind::Individual => "donors.kind_individual",
            DonorKind::Anonymous => "donors.kind_anonymous",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_positive_whole_numbers() {
        assert_eq!(Quantity::parse("f", " 12 ").unwrap().get(), 12);
        assert_eq!(
            Quantity::parse("f", "0").unwrap_err().key,
            "error.quantity_positive"
        );
        assert_eq!(
            Quantity::parse("f", "-3").unwrap_err().key,
            "error.whole_number"
        );
        assert_eq!(
            Quantity::parse("f", "1.5").unwrap_err().key,
            "error.whole_number"
        );
        assert_eq!(Quantity::parse("f", "").unwrap_err().key, "error.required");
        assert_eq!(
            Quantity::parse("f", "99999999999999999999")
                .unwrap_err()
                .key,
            "error.number_too_big"
        );
    }

    #[test]
    fn yuan_to_fen_and_back() {
        assert_eq!(parse_yuan("f", "12").unwrap(), 1200);
        assert_eq!(parse_yuan("f", "12.5").unwrap(), 1250);
        assert_eq!(parse_yuan("f", "¥0.07").unwrap(), 7);
        assert_eq!(parse_yuan("f", "").unwrap(), 0);
        for bad in ["1.234", "-1", "abc", ".5", "5.", "1e3", "99999999999999"] {
            assert!(parse_yuan("f", bad).is_err(), "{bad}");
        }
        assert_eq!(yuan(123456), "1234.56");
        assert_eq!(yuan(7), "0.07");
    }

    #[test]
    fn phones_are_masked() {
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("0531-8888"), "*******88");
        assert_eq!(mask_phone(""), "");
        assert!(parse_phone("f", "abc").is_err());
        assert!(parse_phone("f", "138 1234 5678").is_ok());
    }

    #[test]
    fn barcodes_and_dates() {
        assert_eq!(parse_barcode("f", "").unwrap(), None);
        assert!(parse_barcode("f", "6901234567892").unwrap().is_some());
        assert!(parse_barcode("f", "12").is_err());
        assert!(parse_date("f", "2026-02-30").is_err());
        assert!(parse_date("f", "2026-11-29").is_ok());
        for k in DonorKind::ALL {
            assert_eq!(DonorKind::parse(k.as_str()), Some(k));
        }
    }
}
