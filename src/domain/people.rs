//! People's data: national ID numbers (GB 11643), phone numbers, and how
//! they are shown masked.

use super::FieldError;
use super::input::normalize;

/// A resident identity card number: 18 characters, the last a check digit
/// (0-9 or X) over the first 17, with a birth date that exists.
#[derive(Clone, PartialEq, Eq)]
pub struct IdNumber(String);

impl std::fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// The GB 11643 check character for the first 17 digits.
pub fn id_check_char(first17: &str) -> Option<char> {
    let mut sum = 0;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    Some(CHECK[(sum % 11) as usize])
}

/// Whether `s` looks like a resident ID number, right or mistyped (a
/// wrong check digit, a digit missing or one too many, the old 15 digits):
/// 15 to 19 characters once spaces and dashes are taken out, all digits
/// but for an X. Such text is personal data, never to stand in an address.
pub fn looks_like_id_number(s: &str) -> bool {
    let s: Vec<char> = normalize(s)
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .collect();
    let digits = s.iter().filter(|c| c.is_ascii_digit()).count();
    (15..=19).contains(&s.len())
        && digits + 1 >= s.len()
        && s.iter()
            .all(|c| c.is_ascii_digit() || matches!(c, 'X' | 'x'))
}

/// Whether search text holds personal data that must never stand in an
/// address: a run of six or more digits once spaces and dashes are taken
/// out (a phone number, a birth date, part of an ID number). A whole card
/// number is not: it names a card, not a person.
pub fn looks_personal(s: &str) -> bool {
    if CardNo::parse("field.card_no", s).is_ok() {
        return false;
    }
    let mut run = 0;
    for c in normalize(s).chars() {
        if c.is_ascii_digit() {
            run += 1;
            if run >= 6 {
                return true;
            }
        } else if !(c.is_whitespace() || c == '-') {
            run = 0;
        }
    }
    false
}

impl IdNumber {
    pub fn parse(field: &'static str, s: &str) -> Result<IdNumber, FieldError> {
        let s: String = normalize(s)
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect::<String>()
            .to_uppercase();
        if s.is_empty() {
            return Err(FieldError::new(field, "error.required"));
        }
        if s.chars().count() != 18 {
            return Err(FieldError::new(field, "error.id_length").arg("n", s.chars().count()));
        }
        // Only ASCII may be sliced by position below.
        if !s.is_ascii() {
            return Err(FieldError::new(field, "error.id_chars"));
        }
        let (body, last) = s.split_at(17);
        if !body.chars().all(|c| c.is_ascii_digit())
            || !last.chars().all(|c| c.is_ascii_digit() || c == 'X')
        {
            return Err(FieldError::new(field, "error.id_chars"));
        }
        let birth = &body[6..14];
        let date_ok = chrono::NaiveDate::parse_from_str(birth, "%Y%m%d")
            .ok()
            .filter(|d| {
                use chrono::Datelike;
                d.year() >= 1900 && *d <= chrono::Utc::now().date_naive()
            })
            .is_some();
        if !date_ok {
            return Err(FieldError::new(field, "error.id_birth_date"));
        }
        let expected = id_check_char(body).expect("17 digits");
        if !last.starts_with(expected) {
            return Err(FieldError::new(field, "error.id_check_digit"));
        }
        Ok(IdNumber(s))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// First 6 and last 4: `370102********1234`.
    pub fn masked(&self) -> String {
        mask_id(&self.0)
    }

    pub fn last4(&self) -> &str {
        &self.0[14..]
    }
}

pub fn mask_id(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < 10 {
        return "*".repeat(chars.len());
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 10))
}

/// A mainland mobile number (11 digits starting 1[3-9]) or a landline with
/// its area code (0 + 2-3 digits, then 7-8 digits, an optional '-').
#[derive(Clone, PartialEq, Eq)]
pub struct Phone(String);

impl std::fmt::Debug for Phone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

impl Phone {
    pub fn parse(field: &'static str, s: &str) -> Result<Phone, FieldError> {
        let cleaned: String = normalize(s)
            .chars()
            .filter(|c| !matches!(c, ' ' | '(' | ')'))
            .collect();
        let cleaned = cleaned.strip_prefix("+86").unwrap_or(&cleaned).to_string();
        let digits: String = cleaned.chars().filter(|c| *c != '-').collect();
        if !digits.chars().all(|c| c.is_ascii_digit()) || digits.is_empty() {
            return Err(FieldError::new(field, "error.phone_format"));
        }
        let mobile = digits.len() == 11
            && digits.starts_with('1')
            && matches!(digits.as_bytes()[1], b'3'..=b'9');
        if mobile {
            return Ok(Phone(digits));
        }
        // Landline: area code 0xx or 0xxx, then a 7 or 8 digit number.
        let landline = digits.starts_with('0')
            && (10..=12).contains(&digits.len())
            && !digits.starts_with("00");
        if landline {
            let formatted = match cleaned.split_once('-') {
                Some((code, num))
                    if (3..=4).contains(&code.len()) && (7..=8).contains(&num.len()) =>
                {
                    format!("{code}-{num}")
                }
                _ => digits,
            };
            return Ok(Phone(formatted));
        }
        Err(FieldError::new(field, "error.phone_format"))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// First 3 and last 4: `138****5678`.
    pub fn masked(&self) -> String {
        mask_phone(&self.0)
    }
}

/// The one way a phone is shown masked, on every screen, list and export:
/// a number of 11 characters or more keeps its first 3 and last 4
/// (`138****5678`, `053******6666`); a shorter one keeps only its last 2.
/// White space is dropped first.
pub fn mask_phone(phone: &str) -> String {
    let chars: Vec<char> = phone.chars().filter(|c| !c.is_whitespace()).collect();
    let n = chars.len();
    let (head, tail) = if n >= 11 { (3, 4) } else { (0, 2.min(n)) };
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| if i < head || i >= n - tail { *c } else { '*' })
        .collect()
}

/// A points card number: 9 digits and a Luhn check digit, so that a
/// mistyped number is caught before any look-up.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CardNo(String);

pub fn luhn_digit(digits: &str) -> Option<u32> {
    let mut sum = 0;
    for (i, c) in digits.chars().rev().enumerate() {
        let mut d = c.to_digit(10)?;
        if i % 2 == 0 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    Some((10 - sum % 10) % 10)
}

impl CardNo {
    pub const LEN: usize = 10;

    pub fn parse(field: &'static str, s: &str) -> Result<CardNo, FieldError> {
        let plain = normalize(s);
        // A card's QR code may hold the household's page address, ending in
        // /h/{card}: a scanner types all of it.
        let plain = match plain.rfind("/h/") {
            Some(i) => plain[i + 3..]
                .split(['?', '#', '/'])
                .next()
                .unwrap_or("")
                .to_string(),
            None => plain,
        };
        let s: String = plain.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        if s.is_empty() {
            return Err(FieldError::new(field, "error.required"));
        }
        if s.len() != Self::LEN || !s.chars().all(|c| c.is_ascii_digit()) {
            return Err(FieldError::new(field, "error.card_format").arg("n", Self::LEN));
        }
        let (body, check) = s.split_at(Self::LEN - 1);
        if luhn_digit(body) != check.chars().next().and_then(|c| c.to_digit(10)) {
            return Err(FieldError::new(field, "error.card_check_digit"));
        }
        Ok(CardNo(s))
    }

    /// A new random card number (uniqueness is the database's job).
    pub fn generate() -> CardNo {
        use rand::Rng;
        let mut rng = rand::rngs::OsRng;
        let body = format!(
            "{}{:08}",
            rng.gen_range(1..=9),
            rng.gen_range(0..100_000_000u32)
        );
        let check = luhn_digit(&body).expect("digits");
        CardNo(format!("{body}{check}"))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Shown on public notices: `12****7890`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..2], &self.0[6..])
    }

    /// Grouped for reading aloud and printing: `123 456 7890`.
    pub fn grouped(&self) -> String {
        format!("{} {} {}", &self.0[..3], &self.0[3..6], &self.0[6..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid number built from 17 digits, with its check character.
    fn with_check(first17: &str) -> String {
        format!("{first17}{}", id_check_char(first17).unwrap())
    }

    #[test]
    fn near_id_numbers_look_like_id_numbers() {
        for near in [
            "110105194912310021", // the check digit wrong
            "11010519491231002",  // one digit missing
            "1101051949123100X",  // 16 digits and an X
            "110105 1949 1231 002x",
            "１１０１０５１９４９１２３１００２１",
            "110105491231002", // the old 15 digits
        ] {
            assert!(looks_like_id_number(near), "{near}");
        }
        for other in [
            "张三",
            "13912345678",
            "1234567897",
            "张三110105194912310021",
            "11X0519491231002X1",
        ] {
            assert!(!looks_like_id_number(other), "{other}");
        }
    }

    #[test]
    fn id_numbers_are_checked() {
        let good = with_check("11010519491231002");
        assert_eq!(good, "11010519491231002X");
        let id = IdNumber::parse("field.id_number", &good.to_lowercase()).unwrap();
        assert_eq!(
            id.expose(),
            "11010519491231002X",
            "x accepted in either case"
        );
        assert_eq!(id.masked(), "110105********002X");
        assert_eq!(id.last4(), "002X");
        assert!(!format!("{id:?}").contains("19491231"));

        let e = |s: &str| IdNumber::parse("field.id_number", s).unwrap_err().key;
        assert_eq!(e(""), "error.required");
        assert_eq!(e("1101051949123100"), "error.id_length");
        assert_eq!(e("11010519491231002Y"), "error.id_chars");
        assert_eq!(e("110105194912310021"), "error.id_check_digit");
        assert_eq!(
            e(&with_check("11010519490230002")),
            "error.id_birth_date",
            "30 February"
        );
        assert_eq!(
            e(&with_check("11010518991231002")),
            "error.id_birth_date",
            "before 1900"
        );
        assert_eq!(
            e(&with_check("11010521991231002")),
            "error.id_birth_date",
            "in the future"
        );
    }

    #[test]
    fn phones() {
        assert_eq!(
            Phone::parse("f", "138 0013 8000").unwrap().expose(),
            "13800138000"
        );
        assert_eq!(
            Phone::parse("f", "+8613800138000").unwrap().masked(),
            "138****8000"
        );
        assert_eq!(
            Phone::parse("f", "0531-88886666").unwrap().expose(),
            "0531-88886666"
        );
        assert_eq!(
            Phone::parse("f", "01088886666").unwrap().expose(),
            "01088886666"
        );
        for bad in ["12800138000", "1380013800", "abc", "88886666", "0531-123"] {
            assert!(Phone::parse("f", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn card_numbers_catch_typos() {
        for _ in 0..100 {
            let c = CardNo::generate();
            assert_eq!(CardNo::parse("f", c.as_str()).unwrap(), c);
            // Any single changed digit is caught.
            let mut b = c.as_str().as_bytes().to_vec();
            b[4] = if b[4] == b'9' { b'0' } else { b[4] + 1 };
            let typo = String::from_utf8(b).unwrap();
            assert_eq!(
                CardNo::parse("f", &typo).unwrap_err().key,
                "error.card_check_digit"
            );
        }
        assert_eq!(
            CardNo::parse("f", "123").unwrap_err().key,
            "error.card_format"
        );
        let card = CardNo::generate();
        let url = format!("https://jifen.example.cn/h/{}?from=qr", card.as_str());
        assert_eq!(
            CardNo::parse("f", &url).unwrap(),
            card,
            "a scanned QR address"
        );
        let c = CardNo::parse("f", "123-456 7897").unwrap_or_else(|_| CardNo::generate());
        assert_eq!(c.as_str().len(), 10);
    }
}

#[cfg(test)]
mod personal_tests {
    use super::*;

    #[test]
    fn phones_dates_and_id_prefixes_are_personal_a_card_is_not() {
        for s in [
            "13634645529",
            "19850910",
            "370198",
            "1985-09-10",
            "136 3464 5529",
        ] {
            assert!(looks_personal(s), "{s}");
        }
        let card = CardNo::generate();
        for s in [card.as_str(), "张三", "12345", "3701", ""] {
            assert!(!looks_personal(s), "{s}");
        }
    }
}
