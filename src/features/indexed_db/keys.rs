//! Keys as the browser holds them: the realm's encoding (bytes whose order
//! is the spec's key order, `js/indexed_db/17_idb_keys.js`), carried as
//! hex; the browser itself only makes number keys (a key generator's).

use crate::platform::ipc::HostError;

/// The tag of a number key (`17_idb_keys.js` encodes the others).
pub const NUMBER_TAG: u8 = 0x10;
/// 2^53: a key generator past it is exhausted.
pub const MAX_GENERATED: f64 = 9007199254740992.0;

/// An encoded key: a number in the key order's bytes.
pub fn number_key(n: f64) -> Vec<u8> {
  let bits = n.to_bits();
  let ordered = if n < 0.0 { !bits } else { bits | (1 << 63) };
  let mut out = vec![NUMBER_TAG];
  out.extend_from_slice(&ordered.to_be_bytes());
  out
}

/// The number an encoded key holds, if it is a number key.
pub fn key_number(key: &[u8]) -> Option<f64> {
  let bytes: [u8; 8] = key.strip_prefix(&[NUMBER_TAG])?.try_into().ok()?;
  let ordered = u64::from_be_bytes(bytes);
  let bits = if ordered >> 63 == 1 {
    ordered & !(1 << 63)
  } else {
    !ordered
  };
  Some(f64::from_bits(bits))
}

pub fn hex(bytes: &[u8]) -> String {
  const DIGITS: &[u8; 16] = b"0123456789abcdef";
  let mut s = String::with_capacity(bytes.len() * 2);
  for b in bytes {
    s.push(DIGITS[(b >> 4) as usize] as char);
    s.push(DIGITS[(b & 15) as usize] as char);
  }
  s
}

pub fn unhex(s: &str) -> Result<Vec<u8>, HostError> {
  let bad = || HostError::new("DataError", "malformed encoded key");
  if !s.len().is_multiple_of(2) {
    return Err(bad());
  }
  (0..s.len())
    .step_by(2)
    .map(|i| u8::from_str_radix(s.get(i..i + 2).ok_or_else(bad)?, 16).map_err(|_| bad()))
    .collect()
}

#[cfg(test)]
mod tests {
  use super::*;

  #[test]
  fn number_keys_sort_as_numbers() {
    let ns = [
      f64::NEG_INFINITY,
      -1e300,
      -2.5,
      -1.0,
      0.0,
      1e-300,
      1.0,
      2.5,
      1e300,
      f64::INFINITY,
    ];
    for w in ns.windows(2) {
      assert!(number_key(w[0]) < number_key(w[1]), "{} < {}", w[0], w[1]);
    }
    for n in ns {
      assert_eq!(key_number(&number_key(n)), Some(n));
    }
  }
}
