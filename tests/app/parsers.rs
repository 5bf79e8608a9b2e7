//! Every parser of typed input, fed arbitrary text: none panics, and each
//! either parses or names its field. Full-width forms of valid input parse
//! to the same value as the ASCII.

use aixin::domain::people::{mask_id, mask_phone};
use aixin::domain::stock::{self, Quantity};
use aixin::domain::{self, AreaLevel, CardNo, IdNumber, NewPassword, Phone, Role, Username, input};
use proptest::prelude::*;

/// Text that mixes what people and devices send: ASCII digits and signs,
/// full-width digits and letters, Chinese, zero-width and odd spaces,
/// combining marks, emoji and control characters.
fn typed() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => proptest::char::range('0', '9').prop_map(String::from),
        2 => proptest::char::range('０', '９').prop_map(String::from),
        1 => Just("Ｘ".to_string()),
        1 => Just("X".to_string()),
        1 => prop::sample::select(vec!["-", "+", ".", " ", "　", "\u{200B}", "\u{FEFF}", "－", "＋", "．", "/", ":", "e"])
            .prop_map(String::from),
        1 => prop::sample::select(vec!["张", "é", "\u{301}", "😀", "\u{0}", "\n", "\t", "¥", "￥", "%", "_"])
            .prop_map(String::from),
        1 => any::<char>().prop_map(String::from),
    ];
    prop_oneof![
        3 => prop::collection::vec(piece, 0..40).prop_map(|v| v.concat()),
        1 => any::<String>(),
    ]
}

fn every_parser(s: &str) {
    let field = "field.test";
    let named = |r: Result<(), domain::FieldError>| {
        if let Err(e) = r {
            assert_eq!(e.field, field, "{s:?}");
        }
    };
    named(IdNumber::parse(field, s).map(|id| {
        assert_eq!(id.expose().len(), 18);
        let _ = (id.masked(), id.last4());
    }));
    named(Phone::parse(field, s).map(|p| {
        let _ = p.masked();
    }));
    named(CardNo::parse(field, s).map(|c| {
        let _ = (c.masked(), c.grouped());
    }));
    let _ = Username::parse(s);
    named(NewPassword::parse(field, s).map(drop));
    named(domain::parse_name(field, s, 50).map(drop));
    named(domain::parse_optional_text(field, s, 50).map(drop));
    named(Quantity::parse(field, s).map(|q| assert!(q.get() > 0)));
    named(stock::parse_whole(field, s).map(|n| assert!(n >= 0)));
    named(stock::parse_points_price(field, s).map(|n| assert!(n >= 0)));
    named(stock::parse_yuan(field, s).map(|fen| {
        assert!(fen >= 0);
        let _ = stock::yuan(fen);
    }));
    named(stock::parse_barcode(field, s).map(drop));
    named(stock::parse_phone(field, s).map(|p| {
        let _ = mask_phone(&p);
    }));
    named(input::parse_date(field, s).map(drop));
    named(input::parse_optional_date(field, s).map(drop));
    let _ = input::whole_number(s);
    named(aixin::points::parse_points(field, s).map(|n| assert!(n != 0)));
    let _ = aixin::households::parse_members(s);
    let _ = aixin::reports::Month::parse(s);
    let _ = aixin::idempotency::IdemKey::parse(s);
    let _ = (
        Role::parse(s),
        AreaLevel::parse(s),
        stock::DonorKind::parse(s),
    );
    let _ = (mask_id(s), mask_phone(s), input::normalize(s));
    for setting in aixin::settings::ALL {
        let _ = aixin::settings::parse(*setting, s);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn no_parser_panics_on_any_text(s in typed()) {
        every_parser(&s);
    }

    #[test]
    fn full_width_input_means_the_same(n in 0i64..1_000_000, body in "[1-6][0-9]{5}(19[5-9][0-9]|200[0-4])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}") {
        let wide = |s: &str| -> String {
            s.chars().map(|c| match c {
                '!'..='~' => char::from_u32(c as u32 + 0xFEE0).unwrap(),
                _ => c,
            }).collect()
        };
        let plain = n.to_string();
        prop_assert_eq!(stock::parse_whole("f", &wide(&plain)).ok(), Some(n));
        prop_assert_eq!(input::whole_number(&format!("\u{3000}{}\u{200B}", wide(&plain))), Some(n));
        let id = format!("{body}{}", aixin::domain::people::id_check_char(&body).unwrap());
        let parsed = IdNumber::parse("f", &wide(&id)).unwrap();
        prop_assert_eq!(parsed.expose(), id.as_str());
    }
}
