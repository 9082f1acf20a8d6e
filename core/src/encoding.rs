//! Byte encodings of the wire format: base64 (direct payloads, binary table
//! cells) and lowercase hex SHA-256 (the `sha256` field).
//!
//! A leaf module: it imports nothing from the crate, so the codec, the
//! envelope, payloads, tables and the stores can all use it without import
//! cycles.

use sha2::{Digest, Sha256};

/// Base64 of `bytes`, standard alphabet with padding (SIMD where the CPU has it).
pub fn base64_encode(bytes: &[u8]) -> String {
    base64_simd::STANDARD.encode_to_string(bytes)
}

/// Appends the base64 of `bytes` (standard alphabet, padded) to `out`.
pub fn base64_encode_append(bytes: &[u8], out: &mut Vec<u8>) {
    base64_simd::STANDARD.encode_append(bytes, out);
}

/// Decodes standard base64; padding may be present or not, since some
/// senders strip it. Anything else (other alphabets, whitespace) is an error.
pub fn base64_decode(text: &[u8]) -> std::result::Result<Vec<u8>, base64_simd::Error> {
    if text.len().is_multiple_of(4) {
        base64_simd::STANDARD.decode_to_vec(text)
    } else {
        base64_simd::STANDARD_NO_PAD.decode_to_vec(text)
    }
}

/// Length of the standard, padded base64 encoding of `len` bytes.
pub const fn base64_len(len: usize) -> usize {
    len.div_ceil(3) * 4
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trips_with_and_without_padding() {
        assert_eq!(base64_encode(b"Hello"), "SGVsbG8=");
        assert_eq!(base64_decode(b"SGVsbG8=").unwrap(), b"Hello");
        assert_eq!(base64_decode(b"SGVsbG8").unwrap(), b"Hello");
        assert!(base64_decode(b"SGVs bG8=").is_err());
        assert_eq!(base64_len(5), base64_encode(b"Hello").len());
    }

    #[test]
    fn sha256_is_lowercase_hex() {
        assert_eq!(
            sha256_hex(b"Hello World"),
            "a591a6d40bf420404a011733cfb7b190d62c65bf0bcda32b57b277d9ad9f146e"
        );
    }
}
