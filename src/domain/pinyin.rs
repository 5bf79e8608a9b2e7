//! Names found by their sound: a name's full pinyin (`张三` -> `zhangsan`)
//! and its initials (`zs`), written beside the name so a search by either
//! is a prefix match in the database. The conversion is the `pinyin`
//! crate's; a character it does not know (a letter, a digit) stands for
//! itself, lower case, and anything else is left out.

use pinyin::ToPinyin;

/// The search keys of one name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Keys {
    /// Every syllable in full, no tones, no spaces: `zhangsan`.
    pub full: String,
    /// The first letter of each syllable: `zs`.
    pub initials: String,
}

/// Characters whose reading in names, places and goods is not the one the
/// crate takes as most common: 长 in 长青, 长安村, 长寿面 is cháng.
pub const NAME_READINGS: &[(char, &str)] = &[('长', "chang")];

/// Surnames read otherwise than their character's common reading (曾 is
/// Zēng, 单 is Shàn, 解 is Xiè ...), for the first character of a person's
/// name only.
pub const SURNAME_READINGS: &[(char, &str)] = &[
    ('曾', "zeng"),
    ('单', "shan"),
    ('解', "xie"),
    ('区', "ou"),
    ('查', "zha"),
    ('仇', "qiu"),
    ('朴', "piao"),
    ('覃', "qin"),
    ('缪', "miao"),
    ('翟', "zhai"),
    ('盖', "ge"),
    ('召', "shao"),
    ('乐', "yue"),
    ('尉', "yu"),
];

/// The keys of `name` (goods, a donor, a place). Heteronyms take their
/// most common reading, or the one such names take ([`NAME_READINGS`]).
pub fn keys(name: &str) -> Keys {
    keys_with(name, |_, _| None)
}

/// The keys of a person's name: as [`keys`], the surname read as a
/// surname ([`SURNAME_READINGS`]).
pub fn person_keys(name: &str) -> Keys {
    keys_with(name, |i, ch| {
        (i == 0)
            .then(|| SURNAME_READINGS.iter().find(|(c, _)| *c == ch))
            .flatten()
            .map(|(_, r)| *r)
    })
}

fn keys_with(name: &str, reading: impl Fn(usize, char) -> Option<&'static str>) -> Keys {
    let mut k = Keys::default();
    for (i, (ch, p)) in name.chars().zip(name.to_pinyin()).enumerate() {
        let own = reading(i, ch).or_else(|| {
            NAME_READINGS
                .iter()
                .find(|(c, _)| *c == ch)
                .map(|(_, r)| *r)
        });
        if let Some(r) = own {
            k.full.push_str(r);
            k.initials.push_str(&r[..1]);
            continue;
        }
        match p {
            Some(p) => {
                k.full.push_str(p.plain());
                k.initials.push_str(p.first_letter());
            }
            None if ch.is_ascii_alphanumeric() => {
                let c = ch.to_ascii_lowercase();
                k.full.push(c);
                k.initials.push(c);
            }
            None => {}
        }
    }
    k
}

/// A search text read as pinyin: ASCII letters only (spaces and
/// apostrophes dropped, `zhang san` = `zhangsan`), lower case, 1 to 40
/// letters; `None` for anything else (a name in characters, a number).
pub fn query(text: &str) -> Option<String> {
    let q: String = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '\'')
        .collect::<String>()
        .to_ascii_lowercase();
    (!q.is_empty() && q.len() <= 40 && q.chars().all(|c| c.is_ascii_lowercase())).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_and_initials() {
        let k = keys("张三");
        assert_eq!(k.full, "zhangsan");
        assert_eq!(k.initials, "zs");
        assert_eq!(keys("LED灯泡").initials, "leddp");
        assert_eq!(keys("东庄村").full, "dongzhuangcun");
    }

    #[test]
    fn names_take_the_reading_names_have() {
        let k = person_keys("马长青");
        assert_eq!(
            (k.full.as_str(), k.initials.as_str()),
            ("machangqing", "mcq")
        );
        assert_eq!(keys("长安村").full, "changancun");
        assert_eq!(person_keys("曾国华").full, "zengguohua");
        assert_eq!(person_keys("单雪").initials, "sx");
        // A surname's reading is for the surname only: 单 in a given name,
        // and in goods, keeps the common one.
        assert_eq!(person_keys("王单").full, "wangdan");
        assert_eq!(keys("单人床").full, "danrenchuang");
    }

    #[test]
    fn only_letters_are_a_pinyin_query() {
        assert_eq!(query(" Zhang San "), Some("zhangsan".into()));
        assert_eq!(query("zs"), Some("zs".into()));
        assert_eq!(query("张三"), None);
        assert_eq!(query("1234"), None);
        assert_eq!(query(""), None);
    }
}
