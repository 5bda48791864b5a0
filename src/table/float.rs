//! Floats as tables write them: Rust's shortest round-trip form, exactly as
//! `format!("{x:?}")` writes it (`0.1`, `100.0`, `1.5e-7`, `1e16`), with the
//! digits from Ryū. Formatting floats is most of the cost of writing a large
//! CSV table (a resumed million-point sweep writes some 60 million), and Ryū
//! finds the same shortest, closest digits in a fraction of core's time.

use std::fmt;

/// The most digits a shortest f64 has (17), with room to spare.
const MAX_DIGITS: usize = 24;

/// Writes `x` to `out` exactly as `{x:?}` does.
pub fn write_float(x: f64, out: &mut impl fmt::Write) -> fmt::Result {
    if !x.is_finite() {
        return write!(out, "{x:?}");
    }
    let mut buffer = ryu::Buffer::new();
    let text = buffer.format_finite(x);
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (mantissa, exponent) = match text.split_once('e') {
        Some((m, e)) => (m, e.parse::<i32>().map_err(|_| fmt::Error)?),
        None => (text, 0),
    };
    // The value is 0.DIGITS x 10^point.
    let mut digits = [0u8; MAX_DIGITS];
    let mut len = 0;
    let mut point = exponent;
    let mut seen_point = false;
    for &b in mantissa.as_bytes() {
        match b {
            b'.' => seen_point = true,
            b'0' if len == 0 => {
                // A leading zero: before the point it counts for nothing,
                // after it the point moves left.
                if seen_point {
                    point -= 1;
                }
            }
            b'0'..=b'9' => {
                if len == MAX_DIGITS {
                    return Err(fmt::Error);
                }
                digits[len] = b;
                len += 1;
                if !seen_point {
                    point += 1;
                }
            }
            _ => return Err(fmt::Error),
        }
    }
    while len > 0 && digits[len - 1] == b'0' {
        len -= 1;
    }
    if len > 0 && is_tie(x, &digits[..len], point) {
        // Core rounds a tie up, Ryū to the even digit: take the upper one.
        let mut at = len;
        loop {
            if at == 0 {
                digits.copy_within(0..len, 1);
                digits[0] = b'1';
                len += 1;
                point += 1;
                break;
            }
            at -= 1;
            if digits[at] == b'9' {
                digits[at] = b'0';
            } else {
                digits[at] += 1;
                break;
            }
        }
        while digits[len - 1] == b'0' {
            len -= 1;
        }
    }
    if negative {
        out.write_char('-')?;
    }
    if len == 0 {
        return out.write_str("0.0");
    }
    let digits = std::str::from_utf8(&digits[..len]).map_err(|_| fmt::Error)?;
    // Rust's Debug switches to an exponent below 1e-4 and from 1e16 on.
    if point <= -4 || point >= 17 {
        let (first, rest) = digits.split_at(1);
        out.write_str(first)?;
        if !rest.is_empty() {
            out.write_char('.')?;
            out.write_str(rest)?;
        }
        return write!(out, "e{}", point - 1);
    }
    match usize::try_from(point) {
        Ok(p) if p >= len => {
            out.write_str(digits)?;
            for _ in len..p {
                out.write_char('0')?;
            }
            out.write_str(".0")
        }
        Ok(p) if p > 0 => {
            out.write_str(&digits[..p])?;
            out.write_char('.')?;
            out.write_str(&digits[p..])
        }
        _ => {
            out.write_str("0.")?;
            for _ in point..0 {
                out.write_char('0')?;
            }
            out.write_str(digits)
        }
    }
}

/// Whether `x` (not zero) lies exactly halfway between the shortest
/// digits Ryū chose, 0.`digits` x 10^`point`, and the next ones up: a
/// tie, which Ryū rounds to even and core rounds up.
///
/// The midpoint is s x 10^j with s = 10 x digits + 5; it equals x = m x 2^e
/// exactly when the odd parts without fives and the powers of two and five
/// of both sides agree (unique factorisation), all in small integers.
fn is_tie(x: f64, digits: &[u8], point: i32) -> bool {
    let Some(d) = digits.iter().try_fold(0u64, |acc, &b| {
        acc.checked_mul(10)?.checked_add(u64::from(b - b'0'))
    }) else {
        return false;
    };
    let Some(s) = d.checked_mul(10).and_then(|v| v.checked_add(5)) else {
        return false;
    };
    let j = i64::from(point) - digits.len() as i64 - 1;
    let bits = x.abs().to_bits();
    let (mut m, mut e) = match (bits >> 52) as i64 {
        0 => (bits, -1074),
        biased => (bits & ((1 << 52) - 1) | 1 << 52, biased - 1075),
    };
    let zeros = m.trailing_zeros();
    m >>= zeros;
    e += i64::from(zeros);
    let (b, r) = split_fives(s);
    let (c, q) = split_fives(m);
    e == j && q == r && c - b == j
}

/// `v` (not zero) as 5^k x rest: k and rest.
fn split_fives(mut v: u64) -> (i64, u64) {
    let mut k = 0;
    while v % 5 == 0 {
        v /= 5;
        k += 1;
    }
    (k, v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(x: f64) {
        let mut ours = String::new();
        write_float(x, &mut ours).unwrap();
        assert_eq!(ours, format!("{x:?}"), "bits {:#x}", x.to_bits());
    }

    #[test]
    fn writes_what_debug_writes_at_the_edges() {
        let mut edges = vec![
            0.0,
            -0.0,
            0.1,
            1.0,
            100.0,
            1.5e-7,
            f64::MIN_POSITIVE,
            f64::MAX,
            f64::MIN,
            f64::EPSILON,
            5e-324,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            123_456_789.125,
            9_999_999_999_999_998.0,
            f64::from_bits(0x430e_e269_1e6b_6a8a), // a tie: ...905.25
            0.125,
            2.5,
            1e23,
        ];
        // Both sides of every power of ten, where the layout changes.
        for e in -330..=310 {
            let p: f64 = format!("1e{e}").parse().unwrap();
            edges.extend([
                p,
                -p,
                f64::from_bits(p.to_bits() + 1),
                f64::from_bits(p.to_bits().saturating_sub(1)),
                p * 1.5,
                p * 9.999,
            ]);
        }
        for x in edges {
            check(x);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(20_000))]
        #[test]
        fn writes_what_debug_writes_for_any_bits(bits in any::<u64>()) {
            check(f64::from_bits(bits));
        }

        #[test]
        fn writes_what_debug_writes_for_metric_like_values(x in 0.0f64..1e7) {
            check(x);
            check((x * 1000.0).round() / 1000.0);
        }
    }
}
