//! `cairn fmt`: a stack file in canonical form. Keys of the stack, of each
//! resource, variable, output, import and of `state` in the language's
//! order (`language`), each moved with the comments above it; single
//! quotes made double where that means the same; trailing spaces and
//! runs of blank lines removed. Comments are kept.
//!
//! YAML libraries drop comments, so this works on lines, for the block
//! style the stacks use. It proves each result: the formatted file must
//! parse to the same values and hold the same comments, and formatting it
//! again must change nothing; otherwise the file is refused as it is.

use super::language::{self, Key};
use super::yaml;
use std::fmt;

/// Why a file is left as it is.
#[derive(Debug, PartialEq)]
pub struct Refusal {
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

fn refuse(line: usize, message: impl Into<String>) -> Refusal {
    Refusal {
        line,
        message: message.into(),
    }
}

/// One line of the file. `literal` lines are inside a block scalar (`|`,
/// `>`): their text is the value's, never changed.
#[derive(Clone, Debug)]
struct Line {
    text: String,
    literal: bool,
}

impl Line {
    fn is_blank(&self) -> bool {
        self.text.trim().is_empty()
    }
    fn is_comment(&self) -> bool {
        !self.literal && self.text.trim_start().starts_with('#')
    }
    fn indent(&self) -> usize {
        self.text.len() - self.text.trim_start_matches(' ').len()
    }
    /// Neither blank nor a comment.
    fn is_content(&self) -> bool {
        !self.is_blank() && !self.is_comment()
    }
}

/// The stack file `text` in canonical form.
pub fn format(text: &str) -> Result<String, Refusal> {
    let formatted = format_once(text)?;
    if format_once(&formatted)? != formatted {
        return Err(refuse(
            0,
            "formatting this file twice does not give one form; it is left as it is",
        ));
    }
    Ok(formatted)
}

fn format_once(text: &str) -> Result<String, Refusal> {
    if text.contains('\r') {
        return Err(refuse(0, "the file has CR line endings; use LF"));
    }
    let before = yaml::parse(text)
        .map_err(|(at, message)| refuse(at.line as usize, format!("not valid YAML: {message}")))?;
    let lines = read_lines(text)?;
    let lines = reorder(lines, 0, language::TOP_LEVEL);
    let formatted = write_lines(&lines);
    let after = yaml::parse(&formatted).map_err(|(at, message)| {
        refuse(
            at.line as usize,
            format!("formatting would break the file ({message}); it is left as it is"),
        )
    })?;
    if before.to_json() != after.to_json() {
        return Err(refuse(
            0,
            "formatting would change a value (a construct cairn fmt does not know); the file is left as it is",
        ));
    }
    let (mut was, mut now) = (comments(text)?, comments(&formatted)?);
    was.sort();
    now.sort();
    if was != now {
        return Err(refuse(
            0,
            "formatting would lose or change a comment; the file is left as it is",
        ));
    }
    Ok(formatted)
}

/// The lines, with quotes made canonical and trailing spaces removed
/// outside block scalars.
fn read_lines(text: &str) -> Result<Vec<Line>, Refusal> {
    let mut out = Vec::new();
    // The indentation a block scalar's lines must exceed, while in one.
    let mut block: Option<usize> = None;
    for (index, raw) in text.lines().enumerate() {
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        if let Some(parent) = block {
            if raw.trim().is_empty() || indent > parent {
                out.push(Line {
                    text: raw.to_owned(),
                    literal: true,
                });
                continue;
            }
            block = None;
        }
        let scanned = scan(raw).map_err(|message| refuse(index + 1, message))?;
        let text = scanned.text.trim_end().to_owned();
        if opens_block_scalar(&scanned.code) {
            block = Some(indent);
        }
        out.push(Line {
            text,
            literal: false,
        });
    }
    // Blank lines after a block scalar's last line are not its text.
    for i in 0..out.len() {
        if out[i].is_blank() && out[i].literal {
            let next_literal = out[i..]
                .iter()
                .find(|l| !l.is_blank())
                .is_some_and(|l| l.literal);
            if !next_literal {
                out[i].literal = false;
            }
        }
    }
    Ok(out)
}

/// Whether a line's code (without its comment) ends in a block scalar's
/// header: `key: |`, `- >-`, `key: |+2`.
fn opens_block_scalar(code: &str) -> bool {
    let code = code.trim_end();
    let (before, last) = code.rsplit_once(' ').unwrap_or(("", code));
    let mut chars = last.chars();
    let before = before.trim_end();
    matches!(chars.next(), Some('|' | '>'))
        && chars.all(|c| c == '-' || c == '+' || c.is_ascii_digit())
        && (before.is_empty() || before.ends_with(':') || before == "-" || before.ends_with(" -"))
}

/// A line read: its text with single quotes made double where the value
/// stays the same, the code before any comment, and the comment.
struct Scanned {
    text: String,
    code: String,
    comment: Option<String>,
}

/// Reads one line outside block scalars, quote by quote. A `'...'` scalar
/// holding no `"` or `\` is written `"..."` (the same value); a quote left
/// open at the end of the line is refused, as multi-line quoted scalars
/// are not formatted.
fn scan(line: &str) -> Result<Scanned, String> {
    let chars: Vec<char> = line.chars().collect();
    let mut text = String::new();
    let mut i = 0;
    // Where a scalar may start: after indentation, `: `, `- `, and in a
    // flow collection after `[`, `{` and `,`.
    let mut token_start = true;
    let mut depth = 0usize;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '#' if i == 0 || chars[i - 1] == ' ' => {
                let comment: String = chars[i..].iter().collect();
                return Ok(Scanned {
                    code: text.clone(),
                    text: format!("{text}{comment}"),
                    comment: Some(comment),
                });
            }
            '"' if token_start => {
                let end = closing_double(&chars, i + 1)
                    .ok_or("a double-quoted string continues on the next line; cairn fmt does not format those")?;
                text.extend(&chars[i..=end]);
                i = end + 1;
                token_start = false;
                continue;
            }
            '\'' if token_start => {
                let (end, value) = closing_single(&chars, i + 1)
                    .ok_or("a single-quoted string continues on the next line; cairn fmt does not format those")?;
                if value.contains(['"', '\\']) {
                    text.extend(&chars[i..=end]);
                } else {
                    text.push('"');
                    text.push_str(&value);
                    text.push('"');
                }
                i = end + 1;
                token_start = false;
                continue;
            }
            ' ' => {
                let previous = text.trim_end().chars().last();
                token_start = match previous {
                    None => true,
                    Some(':' | '?') => true,
                    // A sequence's dash, not one inside a plain scalar.
                    Some('-') => text.trim().chars().all(|c| c == '-' || c == ' '),
                    Some('[' | '{' | ',') => depth > 0,
                    _ => token_start && text.ends_with(' '),
                };
            }
            '[' | '{' if token_start => {
                depth += 1;
            }
            ']' | '}' if depth > 0 => {
                depth -= 1;
                token_start = false;
            }
            ',' if depth > 0 => token_start = true,
            _ => token_start = false,
        }
        text.push(c);
        i += 1;
    }
    Ok(Scanned {
        code: text.clone(),
        text,
        comment: None,
    })
}

/// The index of the `"` closing a double-quoted scalar opened before `from`.
fn closing_double(chars: &[char], from: usize) -> Option<usize> {
    let mut i = from;
    while i < chars.len() {
        match chars[i] {
            '\\' => i += 2,
            '"' => return Some(i),
            _ => i += 1,
        }
    }
    None
}

/// The index of the `'` closing a single-quoted scalar, and its value.
fn closing_single(chars: &[char], from: usize) -> Option<(usize, String)> {
    let mut value = String::new();
    let mut i = from;
    while i < chars.len() {
        if chars[i] == '\'' {
            if chars.get(i + 1) == Some(&'\'') {
                value.push('\'');
                i += 2;
                continue;
            }
            return Some((i, value));
        }
        value.push(chars[i]);
        i += 1;
    }
    None
}

/// Every comment's text, in order.
fn comments(text: &str) -> Result<Vec<String>, Refusal> {
    let mut out = Vec::new();
    let mut block: Option<usize> = None;
    for (index, raw) in text.lines().enumerate() {
        let indent = raw.len() - raw.trim_start_matches(' ').len();
        if let Some(parent) = block {
            if raw.trim().is_empty() || indent > parent {
                continue;
            }
            block = None;
        }
        let scanned = scan(raw).map_err(|message| refuse(index + 1, message))?;
        if opens_block_scalar(&scanned.code) {
            block = Some(indent);
        }
        if let Some(comment) = scanned.comment {
            out.push(comment.trim_end().to_owned());
        }
    }
    Ok(out)
}

/// A mapping's entry: the blank lines and comments above its key, its key
/// line and the lines of its value.
struct Entry {
    key: String,
    leading: Vec<Line>,
    lines: Vec<Line>,
}

/// The key of a block mapping's line at `indent`, if it is one.
fn key_of(line: &Line, indent: usize) -> Option<String> {
    if line.literal || !line.is_content() || line.indent() != indent {
        return None;
    }
    let rest = &line.text[indent..];
    if rest.starts_with(['-', '[', '{', '?', '&', '*', '!', '|', '>']) {
        return None;
    }
    let (key, _) = rest
        .split_once(": ")
        .or_else(|| rest.strip_suffix(':').map(|k| (k, "")))?;
    let key = key.trim_matches('"');
    (!key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c)))
    .then(|| key.to_owned())
}

/// The lines of a block mapping at `indent`, its keys in the order of
/// `order` (others after them, as they were); within each entry, the
/// language's nested keys in theirs. Lines that are not such a mapping are
/// left as they are.
fn reorder(lines: Vec<Line>, indent: usize, order: &[Key]) -> Vec<Line> {
    let Some((head, mut entries)) = split(&lines, indent) else {
        return lines;
    };
    for entry in &mut entries {
        let nested: Option<(&[Key], bool)> = match (indent, entry.key.as_str()) {
            (0, "resources") => Some((language::RESOURCE, true)),
            (0, "variables") => Some((language::VARIABLE, true)),
            (0, "outputs") => Some((language::OUTPUT, true)),
            (0, "imports") => Some((language::IMPORT, true)),
            (0, "state") => Some((language::STATE, false)),
            (0, "drift") => Some((language::DRIFT, false)),
            _ => None,
        };
        if let Some((keys, per_name)) = nested {
            let body: Vec<Line> = entry.lines.split_off(1);
            let Some(child) = body.iter().find(|l| l.is_content()).map(Line::indent) else {
                entry.lines.extend(body);
                continue;
            };
            let body = if per_name {
                each_entry(body, child, keys)
            } else {
                reorder(body, child, keys)
            };
            entry.lines.extend(body);
        }
    }
    let rank = |key: &str| {
        order
            .iter()
            .position(|k| k.name == key)
            .unwrap_or(order.len())
    };
    entries.sort_by_key(|e| rank(&e.key));
    let mut out = head;
    for (i, mut entry) in entries.into_iter().enumerate() {
        if i == 0 {
            let first = entry.leading.iter().position(|l| !l.is_blank());
            entry.leading.drain(..first.unwrap_or(entry.leading.len()));
        }
        out.extend(entry.leading);
        out.extend(entry.lines);
    }
    out
}

/// A mapping of names (resources, variables) whose every value is a
/// mapping of `keys`.
fn each_entry(lines: Vec<Line>, indent: usize, keys: &[Key]) -> Vec<Line> {
    let Some((head, entries)) = split(&lines, indent) else {
        return lines;
    };
    let mut out = head;
    for mut entry in entries {
        out.append(&mut entry.leading);
        let body = entry.lines.split_off(1);
        out.append(&mut entry.lines);
        match body.iter().find(|l| l.is_content()).map(Line::indent) {
            Some(child) => out.extend(reorder(body, child, keys)),
            None => out.extend(body),
        }
    }
    out
}

/// The entries of a block mapping at `indent`, after the lines before its
/// first key (those separated from it by a blank line). `None` if a line
/// at that indentation is not a key.
fn split(lines: &[Line], indent: usize) -> Option<(Vec<Line>, Vec<Entry>)> {
    let starts: Vec<usize> = (0..lines.len())
        .filter(|&i| lines[i].is_content() && !lines[i].literal && lines[i].indent() <= indent)
        .collect();
    if starts.is_empty() {
        return None;
    }
    let mut keys = Vec::new();
    for &i in &starts {
        if lines[i].indent() < indent {
            return None;
        }
        keys.push(key_of(&lines[i], indent)?);
    }
    // The lines above a key that are its own: the comments directly above
    // it and the blank lines above them, back to the previous entry's last
    // line of value (a comment indented under that entry is the entry's).
    let leading_start = |start: usize, floor: usize| {
        let mut i = start;
        while i > floor {
            let line = &lines[i - 1];
            let own = line.is_blank() || (line.is_comment() && line.indent() <= indent);
            if !own || line.literal {
                break;
            }
            i -= 1;
        }
        i
    };
    let first = starts[0];
    let mut head_end = leading_start(first, 0);
    // Of the lines before the first key, those up to the last blank line
    // are the file's (or the mapping's) heading and stay first.
    if let Some(blank) = (head_end..first).rev().find(|&i| lines[i].is_blank()) {
        head_end = blank + 1;
    }
    let head = lines[..head_end].to_vec();
    let mut entries = Vec::new();
    for (n, &start) in starts.iter().enumerate() {
        let begin = if n == 0 {
            head_end
        } else {
            leading_start(start, starts[n - 1] + 1)
        };
        let end = match starts.get(n + 1) {
            Some(&next) => leading_start(next, start + 1),
            None => lines.len(),
        };
        entries.push(Entry {
            key: keys[n].clone(),
            leading: lines[begin..start].to_vec(),
            lines: lines[start..end].to_vec(),
        });
    }
    Some((head, entries))
}

/// The lines as a file: runs of blank lines made one, none at either end.
fn write_lines(lines: &[Line]) -> String {
    let mut out = String::new();
    let mut blank_run = false;
    for line in lines {
        if line.is_blank() && !line.literal {
            if !blank_run && !out.is_empty() {
                out.push('\n');
            }
            blank_run = true;
            continue;
        }
        blank_run = false;
        out.push_str(&line.text);
        out.push('\n');
    }
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_take_the_language_order_with_their_comments() {
        let text = "\
# A heading.

resources:
  # The table.
  table:
    properties: { hash_key: { name: pk, type: S } }
    # Its type.
    type: dynamodb_table
    protect: true
project: p
environment: 'dev'
";
        let formatted = format(text).unwrap();
        assert_eq!(
            formatted,
            "\
# A heading.

project: p
environment: \"dev\"
resources:
  # The table.
  table:
    # Its type.
    type: dynamodb_table
    protect: true
    properties: { hash_key: { name: pk, type: S } }
"
        );
        assert_eq!(format(&formatted).unwrap(), formatted);
    }

    #[test]
    fn a_comment_goes_with_the_key_below_it_and_a_note_under_a_value_stays() {
        let text = "project: p\nresources:\n  a:\n    properties:\n      name: x\n      # about name\n    # about type\n    type: log_group\n# Outputs below.\noutputs:\n  x: 1\nenvironment: dev\n";
        assert_eq!(
            format(text).unwrap(),
            "project: p\nenvironment: dev\nresources:\n  a:\n    # about type\n    type: log_group\n    properties:\n      name: x\n      # about name\n# Outputs below.\noutputs:\n  x: 1\n"
        );
    }

    #[test]
    fn block_scalars_and_quotes_keep_their_values() {
        let text = "project: p\nresources:\n  d:\n    properties:\n      body: |\n        # not a comment   \n\n        'kept'\n    type: x\ndescription: 'it''s' # a comment 'here'\n";
        let formatted = format(text).unwrap();
        assert!(
            formatted.contains("        # not a comment   \n\n        'kept'\n"),
            "{formatted}"
        );
        assert!(
            formatted.contains("description: \"it's\" # a comment 'here'\n"),
            "{formatted}"
        );
        assert!(formatted.find("type: x").unwrap() < formatted.find("properties:").unwrap());
    }

    #[test]
    fn what_it_cannot_format_safely_is_refused() {
        let refused = format("project: 'a\n  b'\n").unwrap_err();
        assert_eq!(refused.line, 1);
        assert!(
            refused.message.contains("continues on the next line"),
            "{refused}"
        );
        assert!(format("a: [\n").is_err());
    }
}
