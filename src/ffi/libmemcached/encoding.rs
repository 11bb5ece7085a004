//! `memcached_set_encoding_key`'s value encryption, as libmemcached 1.1.4 does it (facts in
//! the spec): AES-256-CBC with PKCS#7 padding; the AES key is the first 32 bytes of the
//! caller's key, the IV bytes 32..48 of OpenSSL's `EVP_BytesToKey` stream (SHA-256, no salt,
//! 5 rounds) over the whole key. Pure safe code on the RustCrypto crates.

use aes::cipher::{block_padding::Pkcs7, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use sha2::{Digest, Sha256};

type Enc = cbc::Encryptor<aes::Aes256>;
type Dec = cbc::Decryptor<aes::Aes256>;

/// The AES key length libmemcached reads from the caller's key.
pub const KEY_LEN: usize = 32;

/// A set encoding key.
#[derive(Clone)]
pub struct EncodingKey {
    key: [u8; KEY_LEN],
    iv: [u8; 16],
}

impl std::fmt::Debug for EncodingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EncodingKey(..)")
    }
}

/// `EVP_BytesToKey(md, NULL salt, data, count)`'s output stream, `len` bytes: D_1 = H^count(data),
/// D_i = H^count(D_{i-1} || data).
fn bytes_to_key(data: &[u8], count: usize, len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut prev: Vec<u8> = Vec::new();
    while out.len() < len {
        let mut h = Sha256::new();
        h.update(&prev);
        h.update(data);
        let mut d = h.finalize();
        for _ in 1..count {
            d = Sha256::digest(d);
        }
        prev = d.to_vec();
        out.extend_from_slice(&d);
    }
    out.truncate(len);
    out
}

impl EncodingKey {
    /// None for a key shorter than 32 bytes: libmemcached would read past its end, so the
    /// face refuses it instead.
    pub fn new(key: &[u8]) -> Option<EncodingKey> {
        let aes_key: [u8; KEY_LEN] = key.get(..KEY_LEN)?.try_into().ok()?;
        let stream = bytes_to_key(key, 5, KEY_LEN + 16);
        let mut iv = [0u8; 16];
        iv.copy_from_slice(&stream[KEY_LEN..]);
        Some(EncodingKey { key: aes_key, iv })
    }

    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        Enc::new(&self.key.into(), &self.iv.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
    }

    /// None when `data` is not a whole number of blocks or its padding is wrong.
    pub fn decrypt(&self, data: &[u8]) -> Option<Vec<u8>> {
        Dec::new(&self.key.into(), &self.iv.into())
            .decrypt_padded_vec_mut::<Pkcs7>(data)
            .ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_padding() {
        let k = EncodingKey::new(b"0123456789abcdef0123456789abcdef!!!").unwrap();
        for n in [0usize, 1, 15, 16, 17, 1000] {
            let v = vec![b'x'; n];
            let c = k.encrypt(&v);
            assert_eq!(c.len(), (n / 16 + 1) * 16);
            assert_eq!(k.decrypt(&c).unwrap(), v);
        }
        assert!(k.decrypt(b"short").is_none());
        assert!(EncodingKey::new(b"too short").is_none());
    }

    #[test]
    fn bytes_to_key_one_round_is_plain_sha256() {
        let s = bytes_to_key(b"abc", 1, 32);
        assert_eq!(s, Sha256::digest(b"abc").to_vec());
    }
}
