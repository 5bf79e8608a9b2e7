//! Every visible string, in Simplified Chinese first and English second.
//! The strings live in zh-CN.toml and en.toml beside this file.

use std::collections::HashMap;
use std::sync::LazyLock;

use crate::domain::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    pub fn parse(s: &str) -> Option<Lang> {
        match s {
            "zh-CN" | "zh" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The language's own name, for the switch.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Zh => "中文",
            Lang::En => "English",
        }
    }
}

pub const ZH_SOURCE: &str = include_str!("zh-CN.toml");
pub const EN_SOURCE: &str = include_str!("en.toml");

type Catalog = HashMap<String, &'static str>;

static CATALOGS: LazyLock<[Catalog; 2]> =
    LazyLock::new(|| [load(ZH_SOURCE, "zh-CN"), load(EN_SOURCE, "en")]);

/// Flatten a TOML file of nested tables into "section.key" -> text.
pub fn flatten(source: &str) -> Result<HashMap<String, String>, String> {
    let table: toml::Table = source.parse().map_err(|e| format!("{e}"))?;
    let mut out = HashMap::new();
    fn walk(
        prefix: &str,
        table: &toml::Table,
        out: &mut HashMap<String, String>,
    ) -> Result<(), String> {
        for (k, v) in table {
            let key = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            match v {
                toml::Value::String(s) => {
                    out.insert(key, s.clone());
                }
                toml::Value::Table(t) => walk(&key, t, out)?,
                _ => return Err(format!("{key}: translations must be strings")),
            }
        }
        Ok(())
    }
    walk("", &table, &mut out)?;
    Ok(out)
}

fn load(source: &str, name: &str) -> Catalog {
    let flat = flatten(source).unwrap_or_else(|e| panic!("translation file {name} is broken: {e}"));
    flat.into_iter()
        .map(|(k, v)| (k, &*Box::leak(v.into_boxed_str())))
        .collect()
}

/// `key` as the catalogue holds it (for a `FieldError`'s field, which
/// names a label by a `'static` key), when the catalogue has it.
pub fn catalogue_key(key: &str) -> Option<&'static str> {
    let [zh, _] = &*CATALOGS;
    zh.get_key_value(key).map(|(k, _)| k.as_str())
}

/// The text for `key`; falls back to Chinese, then to the key itself.
pub fn t(lang: Lang, key: &str) -> &str {
    let [zh, en] = &*CATALOGS;
    let primary = match lang {
        Lang::Zh => zh,
        Lang::En => en,
    };
    primary
        .get(key)
        .or_else(|| zh.get(key))
        .copied()
        .unwrap_or(key)
}

/// The text for `key` with `{name}` placeholders filled in.
/// A value starting with '@' is itself a translation key (e.g. "@rules.per_month").
/// A count with its word, `{name|one|many}` (the English catalogue's
/// plural form), is the value and the word for it: "1 household",
/// "2 households".
pub fn tf(lang: Lang, key: &str, args: &[(&str, String)]) -> String {
    let mut s = t(lang, key).to_string();
    for (name, value) in args {
        let value = match value.strip_prefix('@') {
            Some(k) => t(lang, k),
            None => value,
        };
        s = counted(&s, name, value);
        s = s.replace(&format!("{{{name}}}"), value);
    }
    s
}

/// Every `{name|one|many}` of `s` as `value` and its word: `one` for a
/// count of one (or minus one), `many` for any other.
fn counted(s: &str, name: &str, value: &str) -> String {
    let open = format!("{{{name}|");
    if !s.contains(&open) {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(i) = rest.find(&open) {
        let after = &rest[i + open.len()..];
        let Some(end) = after.find('}') else {
            break;
        };
        out.push_str(&rest[..i]);
        out.push_str(&with_word(value, &after[..end]));
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    out
}

/// `value` and its word from `forms` (`one|many`, as in the catalogue's
/// `{name|one|many}`): `one` for a count of one (or minus one), `many` for
/// any other ("1 household", "2 households").
pub fn with_word(value: &str, forms: &str) -> String {
    let (one, many) = forms.split_once('|').unwrap_or((forms, forms));
    let word = if matches!(value.trim(), "1" | "-1" | "+1") {
        one
    } else {
        many
    };
    format!("{value} {word}")
}

/// "Field: what is wrong", in the person's language.
pub fn field_error(lang: Lang, e: &FieldError) -> String {
    let sep = match lang {
        Lang::Zh => "：",
        Lang::En => ": ",
    };
    let field = t(lang, e.field);
    let message = tf(lang, e.key, &e.args);
    // A message that already begins with its field's name says it once
    // ("积分不足：…", not "积分：积分不足：…").
    if message.starts_with(field) {
        message
    } else {
        format!("{field}{sep}{message}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_languages_have_the_same_keys() {
        let zh = flatten(ZH_SOURCE).unwrap();
        let en = flatten(EN_SOURCE).unwrap();
        let mut missing_en: Vec<_> = zh.keys().filter(|k| !en.contains_key(*k)).collect();
        let mut missing_zh: Vec<_> = en.keys().filter(|k| !zh.contains_key(*k)).collect();
        missing_en.sort();
        missing_zh.sort();
        assert!(missing_en.is_empty(), "missing in en.toml: {missing_en:?}");
        assert!(
            missing_zh.is_empty(),
            "missing in zh-CN.toml: {missing_zh:?}"
        );
    }

    #[test]
    fn every_key_used_in_code_and_templates_exists() {
        let zh = flatten(ZH_SOURCE).unwrap();
        let root = env!("CARGO_MANIFEST_DIR");
        let mut missing = Vec::new();
        for dir in ["src", "templates"] {
            for path in files_under(&std::path::Path::new(root).join(dir)) {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                for key in quoted_keys(&text) {
                    if !zh.contains_key(&key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "translation keys used but not defined:\n{}",
            missing.join("\n")
        );
    }

    fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let p = entry.path();
            if p.is_dir() {
                out.extend(files_under(&p));
            } else if matches!(p.extension().and_then(|e| e.to_str()), Some("rs" | "html")) {
                out.push(p);
            }
        }
        out
    }

    /// Strings like "section.key" in quotes whose section is a known prefix.
    fn quoted_keys(text: &str) -> Vec<String> {
        const SECTIONS: &[&str] = &[
            "app.",
            "nav.",
            "login.",
            "password.",
            "home.",
            "reports.",
            "users.",
            "areas.",
            "stores.",
            "audit.",
            "error.",
            "field.",
            "role.",
            "level.",
            "flash.",
            "common.",
            "page.",
            "action.",
            "households.",
            "rules.",
            "awards.",
            "ledger.",
            "settings.",
            "counter.",
            "goods.",
            "donors.",
            "donations.",
            "stock.",
            "stocktake.",
            "ledger.",
            "ops.",
            "api.",
            "profile.",
            "audit_detail.",
        ];
        let mut out = Vec::new();
        for piece in text.split('"').skip(1).step_by(2) {
            if SECTIONS.iter().any(|s| piece.starts_with(s))
                && piece.len() < 60
                && piece
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                && !piece.ends_with('.')
                && !piece.ends_with(".html")
            {
                out.push(piece.to_string());
            }
        }
        out
    }

    /// Every audit detail written (`audit::Detail::new` with its key) has its
    /// words in both languages, so the log never shows bare values.
    #[test]
    fn every_audit_detail_has_words() {
        let zh = flatten(ZH_SOURCE).unwrap();
        let en = flatten(EN_SOURCE).unwrap();
        let root = env!("CARGO_MANIFEST_DIR");
        let mut missing = Vec::new();
        let mut found = 0;
        for path in files_under(&std::path::Path::new(root).join("src")) {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            for piece in text.split("Detail::new(\"").skip(1) {
                let key = format!("audit_detail.{}", piece.split('"').next().unwrap_or(""));
                found += 1;
                if !zh.contains_key(&key) || !en.contains_key(&key) {
                    missing.push(format!("{}: {key}", path.display()));
                }
            }
        }
        assert!(found > 40, "the scan finds the details ({found})");
        assert!(
            missing.is_empty(),
            "audit details without words:\n{}",
            missing.join("\n")
        );
    }

    #[test]
    fn a_count_takes_the_word_for_it() {
        let s = "{n|household|households} in {v}; {n|row|rows}";
        assert_eq!(counted(s, "n", "1"), "1 household in {v}; 1 row");
        assert_eq!(counted(s, "n", "2"), "2 households in {v}; 2 rows");
        assert_eq!(counted(s, "n", "0"), "0 households in {v}; 0 rows");
        assert_eq!(counted("{n}", "n", "1"), "{n}");
        assert_eq!(
            tf(Lang::En, "households.count", &[("n", "1".into())]),
            "1 household"
        );
        assert_eq!(
            tf(Lang::En, "households.count", &[("n", "3".into())]),
            "3 households"
        );
        // Every plural form in the English catalogue is well made: no
        // form left unfilled when its count is given.
        let en = flatten(EN_SOURCE).unwrap();
        for (key, text) in &en {
            let mut filled = text.clone();
            for name in ["n", "m", "rows", "refused", "years", "cap"] {
                filled = counted(&filled, name, "2");
            }
            assert!(!filled.contains('|'), "{key}: {text}");
        }
        // The audit log's sentences take the word for their counts too.
        let d = crate::audit::Detail::new("import_check")
            .arg("file", "a.csv")
            .arg("rows", 1)
            .arg("create", 1)
            .arg("update", 0)
            .arg("unchanged", 0)
            .arg("refused", 2)
            .arg("for_admin", 0);
        let said = d.say(Lang::En);
        assert!(
            said.contains("1 row:") && said.contains("2 rows refused") && !said.contains('|'),
            "{said}"
        );
        let said = crate::audit::Detail::new("rows").arg("n", 1).say(Lang::En);
        assert_eq!(said, "1 row");
    }

    #[test]
    fn placeholders_are_filled() {
        let e = FieldError::new("field.password", "error.password_short").arg("min", 8);
        assert!(field_error(Lang::En, &e).contains('8'));
        assert!(field_error(Lang::Zh, &e).contains('8'));
    }
}
