//! Opaque machine identifiers.
//!
//! Machines are numbered by one counter for the whole sector, so the
//! number itself tells how many machines were created, and between two
//! uploads of one establishment, how many the others created. What leaves
//! the server (API, pages, exports, the command line's listing) is instead
//! a keyed pseudo-random permutation of the number: an 8-round Feistel
//! network over its 64 bits whose round function is a keyed BLAKE3 hash,
//! written as 13 characters of base 32 (RFC 4648 alphabet, lowercase:
//! `a-z`, `2-7`). The first character holds the top 4 bits, so it is
//! always a letter `a`–`p`: an opaque id is never a number.
//!
//! The key comes from a per-installation secret generated at random once
//! ([`new_host_id_secret`]) and stored in the database under
//! [`HOST_ID_SECRET`], so every process of an installation writes and
//! reads the same ids; without it, the ids reveal neither order nor count.
//! The permutation is a bijection of the 64-bit values: every id has one
//! string, and the server decodes a string back to the id.

use std::fmt;

/// Characters of an opaque id (64 bits in base 32).
pub const HOST_ID_LEN: usize = 13;
/// Bytes of a generated secret; a stored secret must have at least these.
pub const HOST_ID_SECRET_BYTES: usize = 32;
/// The name of the installation secret that keys the ids.
pub const HOST_ID_SECRET: &str = "host-ids";

const ALPHABET: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";
const ROUNDS: u8 = 8;
/// BLAKE3 key derivation context: the round key is bound to this use, so
/// the secret could key something else without the two interfering.
const KEY_CONTEXT: &str = "vigie 2026 opaque host ids: Feistel round key v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostIdError {
    /// Not an opaque id: wrong length, a character outside `a-z2-7`, or
    /// a first character after `p` (more than 64 bits).
    #[error("a machine id is {HOST_ID_LEN} characters of a-z and 2-7, the first one of a to p")]
    Malformed,
    #[error("the stored host id secret is shorter than {HOST_ID_SECRET_BYTES} bytes")]
    ShortSecret,
}

/// A fresh random secret for [`HostIds::from_secret`], to be stored once
/// per installation.
pub fn new_host_id_secret() -> Result<[u8; HOST_ID_SECRET_BYTES], crate::AuthError> {
    let mut secret = [0u8; HOST_ID_SECRET_BYTES];
    crate::fill_random(&mut secret)?;
    Ok(secret)
}

/// Encodes machine ids as opaque strings and decodes them back, with one
/// installation's key.
#[derive(Clone)]
pub struct HostIds {
    key: [u8; 32],
}

impl fmt::Debug for HostIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostIds").field("key", &"…").finish()
    }
}

impl HostIds {
    /// The codec keyed by an installation secret (at least
    /// [`HOST_ID_SECRET_BYTES`] bytes).
    pub fn from_secret(secret: &[u8]) -> Result<HostIds, HostIdError> {
        if secret.len() < HOST_ID_SECRET_BYTES {
            return Err(HostIdError::ShortSecret);
        }
        Ok(HostIds {
            key: blake3::derive_key(KEY_CONTEXT, secret),
        })
    }

    /// The opaque id of a machine: [`HOST_ID_LEN`] lowercase characters.
    /// Defined for every `i64` (machine ids are positive), one string each.
    pub fn encode(&self, id: i64) -> String {
        // the bits of the id, whatever its sign: a bijection
        let v = self.permute(id as u64);
        (0..HOST_ID_LEN)
            .map(|k| {
                let shift = 5 * (HOST_ID_LEN - 1 - k);
                char::from(ALPHABET[((v >> shift) & 31) as usize])
            })
            .collect()
    }

    /// The machine id of an opaque id; anything but an id this codec
    /// writes (another length, upper case, another character) is
    /// [`HostIdError::Malformed`].
    pub fn decode(&self, s: &str) -> Result<i64, HostIdError> {
        let b = s.as_bytes();
        if b.len() != HOST_ID_LEN {
            return Err(HostIdError::Malformed);
        }
        let mut v: u64 = 0;
        for (k, c) in b.iter().enumerate() {
            let d = ALPHABET
                .iter()
                .position(|a| a == c)
                .ok_or(HostIdError::Malformed)? as u64;
            // the first character carries the top 4 bits only
            if k == 0 && d >= 16 {
                return Err(HostIdError::Malformed);
            }
            v = (v << 5) | d;
        }
        Ok(self.unpermute(v) as i64)
    }

    /// The round function: 32 bits of a keyed hash of the round number
    /// and one half.
    fn round(&self, i: u8, half: u32) -> u32 {
        let mut h = blake3::Hasher::new_keyed(&self.key);
        h.update(&[i]);
        h.update(&half.to_le_bytes());
        let out = h.finalize();
        let b = out.as_bytes();
        u32::from_le_bytes([b[0], b[1], b[2], b[3]])
    }

    fn permute(&self, x: u64) -> u64 {
        let (mut l, mut r) = ((x >> 32) as u32, x as u32);
        for i in 0..ROUNDS {
            let next = l ^ self.round(i, r);
            l = r;
            r = next;
        }
        (u64::from(l) << 32) | u64::from(r)
    }

    fn unpermute(&self, y: u64) -> u64 {
        let (mut l, mut r) = ((y >> 32) as u32, y as u32);
        for i in (0..ROUNDS).rev() {
            let prev = r ^ self.round(i, l);
            r = l;
            l = prev;
        }
        (u64::from(l) << 32) | u64::from(r)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use proptest::prelude::*;

    fn codec(seed: u8) -> HostIds {
        HostIds::from_secret(&[seed; HOST_ID_SECRET_BYTES]).unwrap()
    }

    #[test]
    fn ids_have_a_fixed_shape_and_are_never_numbers() {
        let c = codec(1);
        for id in [0, 1, 2, 3, 1000, i64::MAX, -1, i64::MIN] {
            let s = c.encode(id);
            assert_eq!(s.len(), HOST_ID_LEN, "{s}");
            assert!(s.bytes().all(|b| ALPHABET.contains(&b)), "{s}");
            assert!((b'a'..=b'p').contains(&s.as_bytes()[0]), "{s}");
            assert!(s.parse::<i128>().is_err(), "{s}");
            assert_eq!(c.decode(&s).unwrap(), id);
        }
    }

    #[test]
    fn consecutive_ids_look_unrelated() {
        let c = codec(2);
        let ids: Vec<String> = (1..=1000).map(|i| c.encode(i)).collect();
        // not sorted, nor close to sorted: about half the neighbours are
        // out of order, as for random strings
        let rises = ids.windows(2).filter(|w| w[0] < w[1]).count();
        assert!((400..=600).contains(&rises), "{rises} rises of 999");
        // a change of one bit of the id changes about half the output bits
        let flips: u32 = (1..=1000)
            .map(|i| (c.permute(i) ^ c.permute(i + 1)).count_ones())
            .sum();
        assert!((28_000..=36_000).contains(&flips), "{flips}");
    }

    #[test]
    fn the_key_matters() {
        let (a, b) = (codec(3), codec(4));
        let same = (1..=1000).filter(|&i| a.encode(i) == b.encode(i)).count();
        assert_eq!(same, 0);
        // another installation's id decodes to some other number here
        assert_ne!(b.decode(&a.encode(42)).unwrap(), 42);
        assert_eq!(
            HostIds::from_secret(&[0u8; HOST_ID_SECRET_BYTES - 1]).unwrap_err(),
            HostIdError::ShortSecret
        );
        let s1 = new_host_id_secret().unwrap();
        let s2 = new_host_id_secret().unwrap();
        assert_ne!(s1, s2);
        assert!(format!("{a:?}").contains('…'));
    }

    #[test]
    fn malformed_strings_are_errors() {
        let c = codec(5);
        let good = c.encode(7);
        let upper = good.to_uppercase();
        let long = format!("{good}a");
        let short = &good[..HOST_ID_LEN - 1];
        // the first character after p would need more than 64 bits
        let wide = format!("q{}", &good[1..]);
        for bad in [
            "",
            "7",
            "12345",
            "1234567890123",
            upper.as_str(),
            long.as_str(),
            short,
            wide.as_str(),
            "aaaaaaaaaaaa1",
            "aaaaaaaaaaaa8",
            "aaaaaaaaaaaé",
            "../../etc/pas",
        ] {
            assert_eq!(c.decode(bad), Err(HostIdError::Malformed), "{bad:?}");
        }
        assert_eq!(c.decode(&good), Ok(7));
    }

    proptest! {
        #[test]
        fn round_trip(id in 0i64..=i64::MAX, seed in any::<u8>()) {
            let c = codec(seed);
            let s = c.encode(id);
            prop_assert_eq!(s.len(), HOST_ID_LEN);
            prop_assert_eq!(c.decode(&s), Ok(id));
        }

        #[test]
        fn distinct_ids_distinct_strings(a in 0i64..=i64::MAX, b in 0i64..=i64::MAX) {
            let c = codec(6);
            prop_assert_eq!(a == b, c.encode(a) == c.encode(b));
        }

        #[test]
        fn neighbours_are_distinct(a in 0i64..i64::MAX) {
            let c = codec(7);
            prop_assert_ne!(c.encode(a), c.encode(a + 1));
        }

        #[test]
        fn any_string_decodes_or_errs_without_panic(s in "\\PC{0,20}") {
            let c = codec(8);
            match c.decode(&s) {
                Ok(id) => prop_assert_eq!(c.encode(id), s),
                Err(e) => prop_assert_eq!(e, HostIdError::Malformed),
            }
        }

        #[test]
        fn near_miss_strings_decode_or_err(s in "[a-z2-7A-Z0-9]{12,14}") {
            let c = codec(9);
            match c.decode(&s) {
                Ok(id) => prop_assert_eq!(c.encode(id), s),
                Err(e) => prop_assert_eq!(e, HostIdError::Malformed),
            }
        }
    }
}
