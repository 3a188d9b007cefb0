//! Writes the rating answer straight into one output buffer:
//! `{"pricedPerilCharacteristics":{"<locator>":{"yearlyPremium":"1.25",...}}}` with decimals
//! as strings (CONTRACT.md 3.3). No intermediate document is built.

use std::io::Write as _;

use rust_decimal::Decimal;

use crate::engine::Priced;

/// Appends one JSON string literal, escaped.
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                let _ = write!(out, "\\u{b:04x}");
                start = i + 1;
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_decimal(out: &mut Vec<u8>, key: &str, d: Decimal) {
    out.push(b'"');
    out.extend_from_slice(key.as_bytes());
    out.extend_from_slice(b"\":\"");
    // Writing into a Vec cannot fail.
    let _ = write!(out, "{d}");
    out.push(b'"');
}

/// Builds the answer entry by entry.
pub struct ResponseWriter<'o> {
    out: &'o mut Vec<u8>,
    entries: usize,
}

impl<'o> ResponseWriter<'o> {
    /// Starts the answer in `out`.
    pub fn new(out: &'o mut Vec<u8>) -> ResponseWriter<'o> {
        out.extend_from_slice(b"{\"pricedPerilCharacteristics\":{");
        ResponseWriter { out, entries: 0 }
    }

    /// Adds one priced peril characteristic.
    pub fn entry(&mut self, locator: &str, priced: &Priced<'_>) {
        let out = &mut *self.out;
        if self.entries > 0 {
            out.push(b',');
        }
        self.entries += 1;
        write_str(out, locator);
        out.extend_from_slice(b":{");
        write_decimal(out, "yearlyPremium", priced.yearly);
        if let Some(t) = priced.technical {
            out.push(b',');
            write_decimal(out, "yearlyTechnicalPremium", t);
        }
        if let Some(e) = priced.exact {
            out.push(b',');
            write_decimal(out, "exactPremium", e);
        }
        if let Some(cs) = &priced.commissions {
            out.extend_from_slice(b",\"commissions\":[");
            for (i, c) in cs.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(b"{\"recipient\":");
                write_str(out, c.recipient);
                out.push(b',');
                let key = if c.exact {
                    "exactAmount"
                } else {
                    "yearlyAmount"
                };
                write_decimal(out, key, c.amount);
                out.push(b'}');
            }
            out.push(b']');
        }
        out.push(b'}');
    }

    /// Closes `pricedPerilCharacteristics`; `explain` adds the traces beside it.
    pub fn finish(self, explain: Option<&[(String, Vec<String>)]>) {
        let out = self.out;
        out.push(b'}');
        if let Some(traces) = explain {
            out.extend_from_slice(b",\"explain\":{");
            for (i, (locator, lines)) in traces.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_str(out, locator);
                out.extend_from_slice(b":[");
                for (j, line) in lines.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    write_str(out, line);
                }
                out.push(b']');
            }
            out.push(b'}');
        }
        out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_strings() {
        let mut out = Vec::new();
        write_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "\"a\\\"b\\\\c\\nd\\u0001é\""
        );
    }
}
