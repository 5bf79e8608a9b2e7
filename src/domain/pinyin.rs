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

/// The keys of `name`. Heteronyms take their most common reading.
pub fn keys(name: &str) -> Keys {
    let mut k = Keys::default();
    for (ch, p) in name.chars().zip(name.to_pinyin()) {
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
    fn only_letters_are_a_pinyin_query() {
        assert_eq!(query(" Zhang San "), Some("zhangsan".into()));
        assert_eq!(query("zs"), Some("zs".into()));
        assert_eq!(query("张三"), None);
        assert_eq!(query("1234"), None);
        assert_eq!(query(""), None);
    }
}
