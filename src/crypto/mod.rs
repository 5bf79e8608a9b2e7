//! The data key: personal data (ID numbers, phones) is stored encrypted with
//! a key kept outside the database, plus a keyed hash for look-up and
//! de-duplication.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{Key, XChaCha20Poly1305, XNonce};
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::db::DbConn;
use crate::db::schema::settings;

type HmacSha256 = Hmac<Sha256>;

pub struct DataKey {
    cipher: XChaCha20Poly1305,
    lookup_key: [u8; 32],
    check: String,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DataKey(..)")
    }
}

fn derive(master: &[u8; 32], purpose: &str) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(master).expect("any key length");
    mac.update(purpose.as_bytes());
    mac.finalize().into_bytes().into()
}

impl DataKey {
    pub fn from_master(master: &[u8; 32]) -> DataKey {
        let enc = derive(master, "aixin/encrypt/v1");
        let lookup_key = derive(master, "aixin/lookup/v1");
        let check = hex::encode(derive(master, "aixin/check/v1"));
        DataKey {
            cipher: XChaCha20Poly1305::new(Key::from_slice(&enc)),
            lookup_key,
            check,
        }
    }

    /// 64 hex characters.
    pub fn from_hex(s: &str) -> Result<DataKey, String> {
        let bytes = hex::decode(s.trim())
            .map_err(|_| "the data key must be 64 hex characters".to_string())?;
        let master: [u8; 32] = bytes
            .try_into()
            .map_err(|_| "the data key must be 64 hex characters (32 bytes)".to_string())?;
        Ok(DataKey::from_master(&master))
    }

    pub fn generate_hex() -> String {
        let mut master = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut master);
        hex::encode(master)
    }

    /// The key from `AIXIN_DATA_KEY`, else from the key file, which is
    /// created (readable by its owner only) when it does not exist yet.
    pub fn load_or_create(from_env: Option<&str>, file: &Path) -> Result<DataKey, String> {
        if let Some(k) = from_env {
            return DataKey::from_hex(k).map_err(|e| format!("AIXIN_DATA_KEY: {e}"));
        }
        match std::fs::read_to_string(file) {
            Ok(s) => DataKey::from_hex(&s).map_err(|e| format!("{}: {e}", file.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = file.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                let hex_key = DataKey::generate_hex();
                write_private(file, &hex_key)
                    .map_err(|e| format!("cannot create the data key {}: {e}", file.display()))?;
                DataKey::from_hex(&hex_key)
            }
            Err(e) => Err(format!("cannot read the data key {}: {e}", file.display())),
        }
    }

    /// nonce || ciphertext, hex.
    pub fn encrypt(&self, plaintext: &str) -> String {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext.as_bytes())
            .expect("encryption of a short string cannot fail");
        let mut out = nonce.to_vec();
        out.extend(ct);
        hex::encode(out)
    }

    pub fn decrypt(&self, stored: &str) -> Option<String> {
        let bytes = hex::decode(stored).ok()?;
        if bytes.len() < 24 {
            return None;
        }
        let (nonce, ct) = bytes.split_at(24);
        let pt = self.cipher.decrypt(XNonce::from_slice(nonce), ct).ok()?;
        String::from_utf8(pt).ok()
    }

    /// Encrypt bytes (an uploaded file): nonce || ciphertext, raw.
    pub fn encrypt_bytes(&self, plaintext: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .cipher
            .encrypt(XNonce::from_slice(&nonce), plaintext)
            .expect("encryption in memory cannot fail");
        let mut out = nonce.to_vec();
        out.extend(ct);
        out
    }

    /// The bytes of [`DataKey::encrypt_bytes`]; `None` when they were not
    /// written with this key (or are not encrypted at all).
    pub fn decrypt_bytes(&self, stored: &[u8]) -> Option<Vec<u8>> {
        if stored.len() < 24 {
            return None;
        }
        let (nonce, ct) = stored.split_at(24);
        self.cipher.decrypt(XNonce::from_slice(nonce), ct).ok()
    }

    /// A keyed hash for finding equal values without decrypting.
    pub fn lookup(&self, kind: &str, value: &str) -> String {
        let mut mac =
            <HmacSha256 as Mac>::new_from_slice(&self.lookup_key).expect("any key length");
        mac.update(kind.as_bytes());
        mac.update(b":");
        mac.update(value.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Make sure this key is the one the database's data was written with:
    /// the first use records a check value, later uses compare with it.
    pub fn check_against(&self, conn: &mut DbConn) -> Result<(), String> {
        let stored: Option<String> = settings::table
            .find("data_key_check")
            .select(settings::value)
            .first(conn)
            .optional()
            .map_err(|e| e.to_string())?;
        match stored {
            Some(v) if v == self.check => Ok(()),
            Some(_) => Err("the data key does not match this database (AIXIN_DATA_KEY or the key file is not the one the data was written with)".into()),
            None => {
                let r = diesel::insert_into(settings::table)
                    .values((settings::key.eq("data_key_check"), settings::value.eq(&self.check)))
                    .execute(conn);
                match r {
                    Ok(_) => Ok(()),
                    // Another server recorded it at the same moment: compare again.
                    Err(e) if crate::db::is_unique_violation(&e) => self.check_against(conn),
                    Err(e) => Err(e.to_string()),
                }
            }
        }
    }
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(contents.as_bytes())?;
    f.sync_all()
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

/// An upload on its way in, kept out of memory: each piece is encrypted
/// with the data key as it arrives and written to an unnamed temporary file
/// (no path; the system deletes it when the spool is dropped or the process
/// dies). The pieces are bound to this spool, their order and the end, so
/// the file cannot be cut short or rearranged unnoticed. Sizes in bytes.
pub struct EncryptedSpool {
    key: std::sync::Arc<DataKey>,
    file: std::io::BufWriter<std::fs::File>,
    id: [u8; 16],
    pieces: u64,
    len: u64,
    cap: u64,
}

/// What binds a piece to its spool, its place and whether it ends the file.
fn spool_aad(id: &[u8; 16], index: u64, last: bool) -> [u8; 25] {
    let mut aad = [0u8; 25];
    aad[..16].copy_from_slice(id);
    aad[16..24].copy_from_slice(&index.to_le_bytes());
    aad[24] = u8::from(last);
    aad
}

/// Why a spool refused a piece.
#[derive(Debug, thiserror::Error)]
pub enum SpoolError {
    /// More than the cap was sent; nothing past the cap was kept.
    #[error("more than {0} bytes")]
    TooLarge(u64),
    #[error("temporary file: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not read back as what was written.
    #[error("the temporary file was altered")]
    Altered,
}

impl EncryptedSpool {
    /// An empty spool taking at most `cap` bytes of plaintext.
    pub fn new(key: std::sync::Arc<DataKey>, cap: u64) -> Result<EncryptedSpool, SpoolError> {
        let mut id = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut id);
        Ok(EncryptedSpool {
            key,
            file: std::io::BufWriter::new(tempfile::tempfile()?),
            id,
            pieces: 0,
            len: 0,
            cap,
        })
    }

    /// The plaintext bytes taken so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Take the next piece; `TooLarge` (and nothing written) when it would
    /// pass the cap.
    pub fn write(&mut self, piece: &[u8]) -> Result<(), SpoolError> {
        if self.len + piece.len() as u64 > self.cap {
            return Err(SpoolError::TooLarge(self.cap));
        }
        self.seal(piece, false)?;
        self.len += piece.len() as u64;
        Ok(())
    }

    fn seal(&mut self, piece: &[u8], last: bool) -> Result<(), SpoolError> {
        use chacha20poly1305::aead::Payload;
        use std::io::Write;
        let aad = spool_aad(&self.id, self.pieces, last);
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ct = self
            .key
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: piece,
                    aad: &aad,
                },
            )
            .expect("encryption in memory cannot fail");
        self.file.write_all(&(ct.len() as u32).to_le_bytes())?;
        self.file.write_all(&nonce)?;
        self.file.write_all(&ct)?;
        self.pieces += 1;
        Ok(())
    }

    /// Everything taken, read back from the file and decrypted (the one
    /// moment the whole plaintext is in memory).
    pub fn read_all(mut self) -> Result<Vec<u8>, SpoolError> {
        use chacha20poly1305::aead::Payload;
        use std::io::{Read, Seek, SeekFrom};
        self.seal(&[], true)?;
        let mut file = self
            .file
            .into_inner()
            .map_err(|e| SpoolError::Io(e.into_error()))?;
        file.seek(SeekFrom::Start(0))?;
        let mut reader = std::io::BufReader::new(file);
        let mut out = Vec::with_capacity(usize::try_from(self.len).unwrap_or(0));
        for index in 0..self.pieces {
            let last = index + 1 == self.pieces;
            let mut len = [0u8; 4];
            let mut nonce = [0u8; 24];
            reader.read_exact(&mut len)?;
            reader.read_exact(&mut nonce)?;
            let len = u32::from_le_bytes(len) as usize;
            // A piece is never longer than the cap and its tag.
            if len as u64 > self.cap + 16 {
                return Err(SpoolError::Altered);
            }
            let mut ct = vec![0u8; len];
            reader.read_exact(&mut ct)?;
            let aad = spool_aad(&self.id, index, last);
            let plain = self
                .key
                .cipher
                .decrypt(
                    XNonce::from_slice(&nonce),
                    Payload {
                        msg: &ct,
                        aad: &aad,
                    },
                )
                .map_err(|_| SpoolError::Altered)?;
            out.extend_from_slice(&plain);
        }
        if out.len() as u64 != self.len {
            return Err(SpoolError::Altered);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_spool_gives_back_what_it_took_and_refuses_past_its_cap() {
        let key = std::sync::Arc::new(DataKey::from_master(&[7u8; 32]));
        let mut spool = EncryptedSpool::new(key, 10).unwrap();
        spool.write(b"3701").unwrap();
        spool.write(b"").unwrap();
        spool.write(b"02199").unwrap();
        assert!(matches!(spool.write(b"xx"), Err(SpoolError::TooLarge(10))));
        assert_eq!(spool.len(), 9);
        assert_eq!(spool.read_all().unwrap(), b"370102199");
    }
    use super::*;

    #[test]
    fn round_trip_and_lookup() {
        let k = DataKey::from_hex(&DataKey::generate_hex()).unwrap();
        let c1 = k.encrypt("370102199001011234");
        let c2 = k.encrypt("370102199001011234");
        assert_ne!(c1, c2, "random nonces");
        assert!(!c1.contains("370102"));
        assert_eq!(k.decrypt(&c1).unwrap(), "370102199001011234");
        assert_eq!(k.lookup("id", "a"), k.lookup("id", "a"));
        assert_ne!(k.lookup("id", "a"), k.lookup("phone", "a"));
        let other = DataKey::from_hex(&DataKey::generate_hex()).unwrap();
        assert!(other.decrypt(&c1).is_none());
        assert_ne!(other.lookup("id", "a"), k.lookup("id", "a"));
        assert!(DataKey::from_hex("abc").is_err());
    }

    #[test]
    fn key_file_is_created_once() {
        let dir = std::env::temp_dir().join(format!("aixin-key-{}", uuid::Uuid::new_v4().simple()));
        let file = dir.join("aixin.key");
        let a = DataKey::load_or_create(None, &file).unwrap();
        let b = DataKey::load_or_create(None, &file).unwrap();
        assert_eq!(a.check, b.check);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
