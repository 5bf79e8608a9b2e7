//! argon2id password hashes, generated passwords, and the refusal of
//! passwords people commonly choose (a bundled list, their own names).

use argon2::password_hash::{
    PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng,
};
use argon2::{Algorithm, Argon2, Params, Version};
use std::collections::HashSet;
use std::sync::LazyLock;

use rand::Rng;

use crate::config::PasswordCost;
use crate::domain::FieldError;

/// The bundled list (see common-passwords.SOURCE.md), lower-case.
const COMMON_SOURCE: &str = include_str!("common-passwords.txt");

static COMMON: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    COMMON_SOURCE
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
});

/// How many passwords the bundled list refuses.
pub fn common_count() -> usize {
    COMMON.len()
}

/// Whether `password` (case, full-width forms and surrounding spaces aside:
/// `１２３４５６７８` is `12345678`) is on the list of the most common
/// passwords.
pub fn is_common(password: &str) -> bool {
    COMMON.contains(
        crate::domain::input::normalize(password)
            .to_lowercase()
            .as_str(),
    )
}

fn squeeze(s: &str) -> String {
    crate::domain::input::normalize(s)
        .chars()
        .filter(|c| !c.is_whitespace())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Refuse a new password that is on the common list, or is (nearly) one of
/// `names`, the user's username and display name: equal to one, part of
/// one, or one with under 5 characters, only digits and signs, or a common
/// password around it
/// (ASVS 6.2.4, 6.2.11). The error is on `field`: `auth.password_common`
/// or `auth.password_like_name`.
pub fn refuse_weak(field: &'static str, password: &str, names: &[&str]) -> Result<(), FieldError> {
    if is_common(password) {
        return Err(FieldError::new(field, "auth.password_common"));
    }
    let p = squeeze(password);
    for name in names {
        let n = squeeze(name);
        if n.chars().count() < 2 {
            continue;
        }
        let like = p == n
            || n.contains(&p)
            || (p.contains(&n) && {
                let rest = p.replacen(&n, "", 1);
                rest.chars().count() < 5
                    || rest.chars().all(|c| !c.is_alphabetic())
                    || COMMON.contains(rest.as_str())
            });
        if like {
            return Err(FieldError::new(field, "auth.password_like_name"));
        }
    }
    Ok(())
}

fn hasher(cost: PasswordCost) -> Argon2<'static> {
    let params = Params::new(cost.m_kib, cost.t, cost.p, None).expect("valid argon2 parameters");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string (`$argon2id$v=19$m=...`) for `password`. Slow on purpose: call
/// it from a blocking thread, never on an async worker.
pub fn hash(password: &str, cost: PasswordCost) -> String {
    let salt = SaltString::generate(&mut OsRng);
    hasher(cost)
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2 hashing cannot fail with valid parameters")
        .to_string()
}

/// Whether `password` matches `phc`. The parameters come from the hash itself.
pub fn verify(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A strong password to hand over once: 16 characters from an alphabet
/// without look-alikes (no 0/O, 1/l/I), about 90 bits.
pub fn generate() -> String {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rngs::OsRng;
    let chars: Vec<u8> = (0..16)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())])
        .collect();
    // Groups of four are easier to read out and type.
    chars
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_and_verify() {
        let h = hash("correct horse", PasswordCost::TESTING);
        assert!(h.starts_with("$argon2id$"));
        assert!(verify("correct horse", &h));
        assert!(!verify("wrong horse", &h));
        assert!(!verify("anything", "not a hash"));
    }

    #[test]
    fn production_hash_records_its_cost() {
        let h = hash("pw", PasswordCost::PRODUCTION);
        assert!(h.contains("m=19456,t=2,p=1"), "{h}");
    }

    #[test]
    fn common_passwords_and_names_are_refused() {
        assert!(common_count() >= 10_000, "{}", common_count());
        for pw in [
            "12345678",
            "１２３４５６７８",
            "ｐａｓｓｗｏｒｄ",
            "password",
            "Password",
            " qwertyuiop ",
            "iloveyou",
        ] {
            assert_eq!(
                refuse_weak("field.password", pw, &[]).unwrap_err().key,
                "auth.password_common",
                "{pw}"
            );
        }
        for (pw, name) in [
            ("wang.lili", "wang.lili"),
            ("Wang.Lili", "wang.lili"),
            ("wang.lili1", "wang.lili"),
            ("zhangwei12345678", "zhangwei"),
            ("li.ming2024", "li.ming"),
            ("2024!li.ming", "li.ming"),
            ("张三丰的密码", "张三丰的密码"),
        ] {
            assert_eq!(
                refuse_weak("field.password", pw, &["", name])
                    .unwrap_err()
                    .key,
                "auth.password_like_name",
                "{pw}"
            );
        }
        // What the demo and the tests use still passes.
        for pw in [
            "aixin-demo",
            "test-password-1",
            "brand new words",
            "typed by admin",
        ] {
            assert!(
                refuse_weak("field.password", pw, &["boss", "li", "zhou"]).is_ok(),
                "{pw}"
            );
        }
        assert!(refuse_weak("field.password", &generate(), &["admin"]).is_ok());
    }

    #[test]
    fn generated_passwords_are_long_and_differ() {
        let a = generate();
        let b = generate();
        assert_eq!(a.len(), 19);
        assert_ne!(a, b);
    }
}
