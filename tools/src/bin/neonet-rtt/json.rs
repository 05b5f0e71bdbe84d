//! Just enough JSON for neonet-rtt's results: objects of numbers,
//! strings and objects, written by hand (the binary needs no more).

use std::fmt::Write;

/// A JSON value, already written.
pub struct Json(String);

/// A number (`null` if not finite: JSON has no infinities).
pub fn num(x: f64) -> Json {
    Json(if x.is_finite() {
        format!("{x:.3}")
    } else {
        "null".into()
    })
}

/// A string, escaped.
pub fn str(s: &str) -> Json {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    Json(out)
}

/// A boolean.
pub fn bool(b: bool) -> Json {
    Json(b.to_string())
}

/// An object of these fields, in this order.
pub fn obj<K: AsRef<str>>(fields: impl IntoIterator<Item = (K, Json)>) -> Json {
    let fields: Vec<String> = fields
        .into_iter()
        .map(|(k, v)| format!("{}: {}", str(k.as_ref()).0, v.0))
        .collect();
    Json(format!("{{{}}}", fields.join(", ")))
}

impl std::fmt::Display for Json {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
