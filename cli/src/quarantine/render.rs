//! How parked messages are printed: the table and JSON lines of `list`,
//! and the details of `show`.

use treaty_runtime::bus::ParkedMessage;

use crate::table::printable;
use treaty_runtime::Timestamp;

/// The human output of `list`: one row per message, then a summary line.
/// The error comes last because it is the one long, free-form column.
pub fn table(parked: &[ParkedMessage]) -> String {
    if parked.is_empty() {
        return "the quarantine is empty: no message is parked\n".to_string();
    }
    const HEADER: [&str; 6] = ["id", "contract", "attempts", "parked at", "retry", "error"];
    const RIGHT: [bool; 6] = [false, false, true, false, false, false];
    let rows: Vec<[String; 6]> = parked
        .iter()
        .map(|m| {
            [
                m.id.to_string(),
                contract(m).to_string(),
                m.attempts.to_string(),
                to_the_second(m.parked_at),
                if m.retry_requested { "requested" } else { "" }.to_string(),
                m.error.lines().next().unwrap_or_default().to_string(),
            ]
        })
        .collect();
    let mut out = crate::table::table(HEADER, RIGHT, &rows);
    let retries = parked.iter().filter(|m| m.retry_requested).count();
    out.push('\n');
    out.push_str(&format!(
        "{} message{} parked, {retries} retr{} requested\n",
        parked.len(),
        crate::plural(parked.len()),
        if retries == 1 { "y" } else { "ies" },
    ));
    out
}

/// The JSON line of one message, fields in a fixed order. The body is
/// left to `show`: it can be large.
pub fn json_line(message: &ParkedMessage) -> String {
    let text = |s: &str| serde_json::Value::from(s).to_string();
    format!(
        "{{\"id\":\"{}\",\"contract\":{},\"attempts\":{},\"first_seen\":{},\"parked_at\":{},\
         \"retry_requested\":{},\"error\":{}}}\n",
        message.id,
        message.contract.as_deref().map_or("null".to_string(), text),
        message.attempts,
        text(&message.first_seen.to_string()),
        text(&message.parked_at.to_string()),
        message.retry_requested,
        text(&message.error),
    )
}

/// The output of `show`: every field, the whole error, and the body,
/// indented when it is JSON.
pub fn details(message: &ParkedMessage) -> String {
    let retry = if message.retry_requested {
        "requested: the next running bus will send it again"
    } else {
        "not requested"
    };
    let mut out = format!(
        "message     {}\ncontract    {}\nattempts    {}\nfirst seen  {}\nparked at   {}\nretry       {retry}\n",
        message.id,
        printable(contract(message)),
        message.attempts,
        message.first_seen,
        message.parked_at,
    );
    out.push_str("\nerror:\n");
    for line in message.error.lines() {
        out.push_str("  ");
        out.push_str(&printable(line));
        out.push('\n');
    }
    out.push('\n');
    match std::str::from_utf8(&message.body) {
        Ok(text) if serde_json::from_str::<serde_json::Value>(text).is_ok() => {
            out.push_str("body:\n");
            out.push_str(&printable_lines(&pretty_json(text)));
            out.push('\n');
        }
        Ok(text) => {
            out.push_str("body (not JSON):\n");
            out.push_str(&printable_lines(text));
            out.push('\n');
        }
        Err(_) => {
            out.push_str(&format!("body ({} bytes, not text):\n", message.body.len()));
            out.push_str(&hex_dump(&message.body));
        }
    }
    out
}

/// Text from the wire, line by line, each shown [`printable`]: the bytes
/// of a message cannot move the cursor or change colours.
fn printable_lines(text: &str) -> String {
    text.lines().map(printable).collect::<Vec<_>>().join("\n")
}

/// The contract, or `-` for bytes that were not an envelope.
fn contract(message: &ParkedMessage) -> &str {
    message.contract.as_deref().unwrap_or("-")
}

/// A time without its fraction of a second, which a table does not need.
fn to_the_second(time: Timestamp) -> String {
    Timestamp::from_second(time.as_second()).map_or_else(|_| time.to_string(), |t| t.to_string())
}

/// Valid JSON `text` indented by two spaces a level, keeping its keys in
/// their order and its numbers and strings exactly as written (parsing
/// into a value would sort the keys and could round numbers).
fn pretty_json(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    let mut chars = text.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        out.push_str(&"  ".repeat(depth));
    };
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match c {
            '"' => {
                in_string = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                // An empty object or array stays on its line.
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                if let Some(&close) = chars.peek().filter(|&&next| next == '}' || next == ']') {
                    out.push(close);
                    chars.next();
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

/// Bytes as hex, 16 to a line in groups of two.
fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for line in bytes.chunks(16) {
        let groups: Vec<String> = line
            .chunks(2)
            .map(|pair| pair.iter().map(|b| format!("{b:02x}")).collect())
            .collect();
        out.push_str("  ");
        out.push_str(&groups.join(" "));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_indented_keeping_order_and_text() {
        let text = r#"{"z":1, "a":[1,2.50,{}], "s":"a,b:{c}\"]","e":[ ], "n":{"x":null}}"#;
        assert_eq!(
            pretty_json(text),
            r#"{
  "z": 1,
  "a": [
    1,
    2.50,
    {}
  ],
  "s": "a,b:{c}\"]",
  "e": [],
  "n": {
    "x": null
  }
}"#
        );
        assert_eq!(pretty_json("42"), "42");
        assert_eq!(pretty_json(r#""\\""#), r#""\\""#);
    }

    #[test]
    fn bytes_are_dumped_sixteen_to_a_line() {
        let bytes: Vec<u8> = (0..18).collect();
        assert_eq!(hex_dump(&bytes), "  0001 0203 0405 0607 0809 0a0b 0c0d 0e0f\n  1011\n");
    }
}
