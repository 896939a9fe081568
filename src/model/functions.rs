//! Functions in `${...}`: `${cidrsubnet(var.vpc_cidr, 8, 1)}`,
//! `${join(",", var.zones)}`, `${lower(var.team)}`,
//! `${format("%s-%d", var.name, 3)}`, `${tonumber(lookup.days.value)}`.
//! Arguments are references (`subnet["a"].id`, `subnet[*].id`), JSON
//! literals (strings in double quotes, numbers, lists) or lists holding
//! references; calls do not nest.
//! A call is worked out as soon as all its arguments are known: when the
//! stack is read for variables, at plan time for lookups and imports, at
//! apply for attributes of resources still to be made.

use super::expr::Reference;
use serde_json::Value;
use std::fmt;

#[derive(Clone, Debug, PartialEq)]
pub struct Call {
    pub function: String,
    pub arguments: Vec<Argument>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Argument {
    Value(Value),
    Reference(Reference),
    /// A list with references in it: `[var.a, "b"]`, or what
    /// `name[*].attribute` becomes, one reference per instance.
    List(Vec<Argument>),
}

impl Argument {
    fn references<'a>(&'a self, out: &mut Vec<&'a Reference>) {
        match self {
            Argument::Value(_) => {}
            Argument::Reference(reference) => out.push(reference),
            Argument::List(items) => items.iter().for_each(|item| item.references(out)),
        }
    }

    /// The argument with each reference `known` answers for put in; a
    /// list all of whose items are values becomes one.
    fn with_known(&self, known: &mut impl FnMut(&Reference) -> Option<Value>) -> Argument {
        match self {
            Argument::Value(_) => self.clone(),
            Argument::Reference(r) => known(r).map_or(self.clone(), Argument::Value),
            Argument::List(items) => {
                let items: Vec<Argument> = items.iter().map(|i| i.with_known(known)).collect();
                let values: Option<Vec<Value>> = items
                    .iter()
                    .map(|item| match item {
                        Argument::Value(value) => Some(value.clone()),
                        _ => None,
                    })
                    .collect();
                values.map_or(Argument::List(items), |values| {
                    Argument::Value(Value::Array(values))
                })
            }
        }
    }

    /// Each reference replaced by what `rewrite` makes of it.
    pub fn rewrite(&mut self, rewrite: &mut impl FnMut(&Reference) -> Argument) {
        match self {
            Argument::Value(_) => {}
            Argument::Reference(reference) => *self = rewrite(reference),
            Argument::List(items) => items.iter_mut().for_each(|item| item.rewrite(rewrite)),
        }
    }

    /// Its value, once it holds no reference.
    pub fn value(&self) -> Option<Value> {
        match self {
            Argument::Value(value) => Some(value.clone()),
            Argument::Reference(_) => None,
            Argument::List(items) => items
                .iter()
                .map(Argument::value)
                .collect::<Option<_>>()
                .map(Value::Array),
        }
    }
}

impl fmt::Display for Argument {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        match self {
            Argument::Value(value) => write!(f, "{value}"),
            Argument::Reference(reference) => write!(f, "{reference}"),
            Argument::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
        }
    }
}

/// Each function, how it is written, and how many arguments it takes
/// (at least, at most).
const FUNCTIONS: &[(&str, &str, usize, usize)] = &[
    ("cidrsubnet", "cidrsubnet(PREFIX, NEWBITS, NETNUM)", 3, 3),
    ("join", "join(SEPARATOR, LIST)", 2, 2),
    ("lower", "lower(TEXT)", 1, 1),
    ("format", "format(FORMAT, VALUE...)", 1, usize::MAX),
    ("tonumber", "tonumber(TEXT)", 1, 1),
];

impl Call {
    pub fn references(&self) -> Vec<&Reference> {
        let mut out = Vec::new();
        for argument in &self.arguments {
            argument.references(&mut out);
        }
        out
    }

    /// A function that exists, given as many arguments as it takes.
    pub fn check(&self) -> Result<(), String> {
        let Some((_, usage, least, most)) = FUNCTIONS.iter().find(|f| f.0 == self.function) else {
            return Err(format!(
                "unknown function `{}`: the functions are {}",
                self.function,
                FUNCTIONS.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
            ));
        };
        let given = self.arguments.len();
        if given < *least || given > *most {
            return Err(format!(
                "`{}` takes {}, given {given}: write {usage}",
                self.function,
                match (least, most) {
                    (l, m) if l == m => format!("{l} argument{}", if *l == 1 { "" } else { "s" }),
                    (l, _) => format!("at least {l} argument{}", if *l == 1 { "" } else { "s" }),
                }
            ));
        }
        Ok(())
    }

    /// The call with each argument `known` answers for put in as a literal.
    pub fn with_known(&self, mut known: impl FnMut(&Reference) -> Option<Value>) -> Call {
        Call {
            function: self.function.clone(),
            arguments: self
                .arguments
                .iter()
                .map(|a| a.with_known(&mut known))
                .collect(),
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}(", self.function)?;
        for (i, argument) in self.arguments.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{argument}")?;
        }
        write!(f, ")")
    }
}

/// A call at the start of `text` (what follows `${`), up to and with its
/// closing `}`: the call and the bytes it takes. `None` when `text` is
/// not a call (a reference).
pub fn parse_call(text: &str) -> Option<Result<(Call, usize), String>> {
    let trimmed = text.trim_start();
    let name_length = trimmed
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(trimmed.len());
    let function = &trimmed[..name_length];
    let rest = trimmed[name_length..].trim_start();
    if function.is_empty() || !rest.starts_with('(') {
        return None;
    }
    let mut at = text.len() - rest.len() + 1;
    let mut arguments = Vec::new();
    let unclosed =
        || format!("`${{{function}(` is not closed: write `${{{function}(ARGUMENT, ...)}}`");
    loop {
        at += skip_space(&text[at..]);
        let next = text[at..].chars().next();
        match next {
            None => return Some(Err(unclosed())),
            Some(')') if arguments.is_empty() => {
                at += 1;
                break;
            }
            _ => {}
        }
        let (argument, used) = match argument(&text[at..]) {
            Ok(found) => found,
            Err(message) => return Some(Err(format!("in `{function}(...)`: {message}"))),
        };
        arguments.push(argument);
        at += used;
        at += skip_space(&text[at..]);
        match text[at..].chars().next() {
            Some(',') => at += 1,
            Some(')') => {
                at += 1;
                break;
            }
            _ => return Some(Err(unclosed())),
        }
    }
    at += skip_space(&text[at..]);
    if !text[at..].starts_with('}') {
        return Some(Err(format!(
            "`{function}(...)` must end its `${{...}}`: calls do not combine with other text inside `${{}}`"
        )));
    }
    Some(Ok((
        Call {
            function: function.to_owned(),
            arguments,
        },
        at + 1,
    )))
}

fn skip_space(text: &str) -> usize {
    text.len() - text.trim_start().len()
}

/// One argument: a JSON literal, a reference (`var.cidr`,
/// `subnet["a"].id`, `subnet[*].id`), or a list of them.
fn argument(text: &str) -> Result<(Argument, usize), String> {
    let first = text.chars().next().unwrap_or(' ');
    let is_word = |word: &str| {
        text.starts_with(word)
            && !text[word.len()..]
                .starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.')
    };
    let unreadable = || {
        format!(
            "cannot read the argument at `{}`: write a reference, a number, a \"string\" or a [list]",
            text.chars().take(20).collect::<String>()
        )
    };
    if first == '-' || first.is_ascii_digit() {
        // A number ends where its characters do (the JSON reader wants a
        // separator after it, and `)` is none).
        let length = text
            .find(|c: char| !(c.is_ascii_digit() || "-+.eE".contains(c)))
            .unwrap_or(text.len());
        return match serde_json::from_str::<Value>(&text[..length]) {
            Ok(number) => Ok((Argument::Value(number), length)),
            Err(_) => Err(format!("`{}` is not a number", &text[..length])),
        };
    }
    if "\"[{".contains(first) || ["true", "false", "null"].iter().any(|w| is_word(w)) {
        let mut values = serde_json::Deserializer::from_str(text).into_iter::<Value>();
        return match values.next() {
            Some(Ok(value)) => Ok((Argument::Value(value), values.byte_offset())),
            _ if first == '[' => list(text),
            _ => Err(unreadable()),
        };
    }
    let word = |from: usize| {
        text[from..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'))
            .map_or(text.len(), |end| from + end)
    };
    let mut length = word(0);
    if length == 0 {
        return Err(unreadable());
    }
    if text[length..].starts_with('[') {
        // An instance, `name["key"]` or `name[*]`, then its attribute.
        let close = text[length..]
            .find(']')
            .ok_or_else(|| format!("`{}` has no closing `]`", &text[..length + 1]))?;
        length = word(length + close + 1);
    }
    let written = &text[..length];
    if text[length..].trim_start().starts_with('(') {
        return Err(format!(
            "calls do not nest: `{written}(...)` cannot be an argument of another call"
        ));
    }
    let reference = crate::model::expr::parse_reference(written).ok_or_else(|| {
        format!("`{written}` is not a reference: write `name.attribute`, `name[\"key\"].attribute`, `name[*].attribute` or `var.name`")
    })?;
    Ok((Argument::Reference(reference), length))
}

/// `[ARGUMENT, ...]` with references among the items.
fn list(text: &str) -> Result<(Argument, usize), String> {
    let mut items = Vec::new();
    let mut at = 1;
    loop {
        at += skip_space(&text[at..]);
        if items.is_empty() && text[at..].starts_with(']') {
            return Ok((Argument::List(items), at + 1));
        }
        let (item, used) = argument(&text[at..])?;
        items.push(item);
        at += used;
        at += skip_space(&text[at..]);
        match text[at..].chars().next() {
            Some(',') => at += 1,
            Some(']') => return Ok((Argument::List(items), at + 1)),
            _ => {
                return Err(format!(
                    "the list at `{}` is not closed with `]`",
                    text.chars().take(20).collect::<String>()
                ))
            }
        }
    }
}

/// The call's value, from its arguments' values.
pub fn apply(call: &Call, arguments: &[Value]) -> Result<Value, String> {
    call.check()?;
    let function = call.function.as_str();
    let wrong = |position: usize, wanted: &str| {
        format!(
            "`{function}`: argument {} must be {wanted}, found {}",
            position + 1,
            arguments[position]
        )
    };
    let text_of = |position: usize| -> Result<String, String> {
        match &arguments[position] {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            _ => Err(wrong(position, "text")),
        }
    };
    let integer = |position: usize| {
        arguments[position]
            .as_i64()
            .ok_or_else(|| wrong(position, "an integer"))
    };
    if function == "tonumber" {
        // A parameter's value is text: a number field needs it as a number.
        let text = text_of(0)?;
        let number = text.trim().parse::<i64>().map(Value::from).or_else(|_| {
            text.trim()
                .parse::<f64>()
                .ok()
                .and_then(serde_json::Number::from_f64)
                .map(Value::Number)
                .ok_or_else(|| format!("`tonumber`: \"{text}\" is not a number"))
        })?;
        return Ok(number);
    }
    Ok(Value::String(match function {
        "lower" => text_of(0)?.to_lowercase(),
        "join" => {
            let separator = text_of(0)?;
            let Value::Array(items) = &arguments[1] else {
                return Err(wrong(1, "a list"));
            };
            let mut texts = Vec::new();
            for item in items {
                match item {
                    Value::String(s) => texts.push(s.clone()),
                    Value::Number(n) => texts.push(n.to_string()),
                    Value::Bool(b) => texts.push(b.to_string()),
                    _ => return Err(wrong(1, "a list of texts")),
                }
            }
            texts.join(&separator)
        }
        "format" => format_text(&text_of(0)?, &arguments[1..])?,
        "cidrsubnet" => cidrsubnet(&text_of(0)?, integer(1)?, integer(2)?)?,
        other => unreachable!("`{other}` passed check"),
    }))
}

/// `%s` (text), `%d` (an integer) and `%%`, as Terraform's `format` has them.
fn format_text(pattern: &str, values: &[Value]) -> Result<String, String> {
    let mut out = String::new();
    let mut next = 0;
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let verb = chars.next();
        if verb == Some('%') {
            out.push('%');
            continue;
        }
        let value = values.get(next).ok_or_else(|| {
            format!(
                "`format`: \"{pattern}\" wants more values than the {} given",
                values.len()
            )
        })?;
        next += 1;
        match (verb, value) {
            (Some('s'), Value::String(s)) => out.push_str(s),
            (Some('s'), Value::Number(n)) => out.push_str(&n.to_string()),
            (Some('s'), Value::Bool(b)) => out.push_str(&b.to_string()),
            (Some('d'), Value::Number(n)) if n.is_i64() => out.push_str(&n.to_string()),
            (Some('s' | 'd'), other) => {
                return Err(format!(
                    "`format`: %{} cannot show {other}",
                    verb.unwrap_or_default()
                ))
            }
            _ => {
                return Err(format!(
                    "`format`: \"{pattern}\" has a verb other than %s, %d and %%"
                ))
            }
        }
    }
    if next < values.len() {
        return Err(format!(
            "`format`: \"{pattern}\" uses {next} of the {} values given",
            values.len()
        ));
    }
    Ok(out)
}

/// The `netnum`th block of `newbits` more bits inside `prefix` (IPv4):
/// `cidrsubnet("10.0.0.0/16", 8, 2)` is `10.0.2.0/24`.
fn cidrsubnet(prefix: &str, newbits: i64, netnum: i64) -> Result<String, String> {
    let invalid = || format!("`cidrsubnet`: `{prefix}` is not an IPv4 block such as 10.0.0.0/16");
    let (address, length) = prefix.split_once('/').ok_or_else(invalid)?;
    let address: std::net::Ipv4Addr = address.parse().map_err(|_| invalid())?;
    let length: i64 = length.parse().map_err(|_| invalid())?;
    if !(0..=32).contains(&length) {
        return Err(invalid());
    }
    if newbits < 1 || length + newbits > 32 {
        return Err(format!(
            "`cidrsubnet`: {newbits} new bits on a /{length} make a /{}; an IPv4 block is at most /32 and takes at least 1 new bit",
            length + newbits
        ));
    }
    if netnum < 0 || netnum >= 1_i64 << newbits {
        return Err(format!(
            "`cidrsubnet`: {newbits} new bits make {} blocks (0 to {}); {netnum} is not one of them",
            1_i64 << newbits,
            (1_i64 << newbits) - 1
        ));
    }
    let length = length as u32;
    let mask = if length == 0 {
        0
    } else {
        u32::MAX << (32 - length)
    };
    let base = u32::from(address) & mask;
    let new_length = length + newbits as u32;
    let block = base | ((netnum as u32) << (32 - new_length));
    Ok(format!("{}/{new_length}", std::net::Ipv4Addr::from(block)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(text: &str) -> Call {
        parse_call(text).expect("a call").expect("parses").0
    }

    fn run(text: &str, arguments: &[Value]) -> Result<Value, String> {
        apply(&call(text), arguments)
    }

    #[test]
    fn calls_parse_with_references_and_literals_and_show_as_written() {
        let (parsed, used) = parse_call(r#" format("%s}-%d", var.name, 3) } rest"#)
            .unwrap()
            .unwrap();
        assert_eq!(used, r#" format("%s}-%d", var.name, 3) }"#.len());
        assert_eq!(parsed.to_string(), r#"format("%s}-%d", var.name, 3)"#);
        assert_eq!(
            parsed.references().into_iter().cloned().collect::<Vec<_>>(),
            [Reference {
                root: "var".into(),
                attribute: "name".into()
            }]
        );
        assert_eq!(
            call(r#"join(",", ["a", "b"])}"#).arguments[1],
            Argument::Value(json!(["a", "b"]))
        );
        assert!(parse_call("var.name}").is_none());
        assert!(parse_call("lower(var.name").unwrap().is_err());
        assert!(parse_call("lower(var.name) x}").unwrap().is_err());
        assert!(parse_call("lower(var.name,)}").unwrap().is_err());
    }

    #[test]
    fn cidrsubnet_counts_blocks_inside_the_prefix() {
        let cidr =
            |p: &str, n: i64, k: i64| run("cidrsubnet(a, b, c)}", &[json!(p), json!(n), json!(k)]);
        assert_eq!(cidr("10.0.0.0/16", 8, 1).unwrap(), "10.0.1.0/24");
        assert_eq!(cidr("10.0.0.0/16", 8, 255).unwrap(), "10.0.255.0/24");
        assert_eq!(cidr("10.0.0.0/16", 4, 15).unwrap(), "10.0.240.0/20");
        assert_eq!(cidr("10.1.2.3/16", 2, 3).unwrap(), "10.1.192.0/18");
        assert_eq!(cidr("172.16.0.0/12", 4, 2).unwrap(), "172.18.0.0/16");
        assert!(cidr("10.0.0.0/16", 8, 256)
            .unwrap_err()
            .contains("256 is not one of them"));
        assert!(cidr("10.0.0.0/30", 4, 0).unwrap_err().contains("/34"));
        assert!(cidr("10.0.0/16", 8, 0)
            .unwrap_err()
            .contains("not an IPv4 block"));
        let error = run(
            "cidrsubnet(a, b, c)}",
            &[json!("10.0.0.0/16"), json!("8"), json!(1)],
        );
        assert_eq!(
            error.unwrap_err(),
            "`cidrsubnet`: argument 2 must be an integer, found \"8\""
        );
    }

    #[test]
    fn join_lower_and_format() {
        assert_eq!(
            run("join(a, b)}", &[json!(", "), json!(["a", "b", 3])]).unwrap(),
            "a, b, 3"
        );
        assert!(run("join(a, b)}", &[json!(","), json!("a")])
            .unwrap_err()
            .contains("must be a list"));
        assert_eq!(run("lower(a)}", &[json!("Prod-EU")]).unwrap(), "prod-eu");
        assert_eq!(
            run(
                "format(a, b, c)}",
                &[json!("%s-%d-100%%"), json!("api"), json!(7)]
            )
            .unwrap(),
            "api-7-100%"
        );
        assert!(run("format(a, b)}", &[json!("%d"), json!("x")])
            .unwrap_err()
            .contains("%d cannot show"));
        assert!(run("format(a)}", &[json!("%s")])
            .unwrap_err()
            .contains("more values"));
        assert!(run("format(a, b, c)}", &[json!("%s"), json!(1), json!(2)])
            .unwrap_err()
            .contains("uses 1 of the 2"));
    }

    #[test]
    fn unknown_functions_and_wrong_arity_say_how_to_write_it() {
        assert_eq!(
            call("lower(a, b)}").check().unwrap_err(),
            "`lower` takes 1 argument, given 2: write lower(TEXT)"
        );
        assert_eq!(
            call("cidrsubnet(a)}").check().unwrap_err(),
            "`cidrsubnet` takes 3 arguments, given 1: write cidrsubnet(PREFIX, NEWBITS, NETNUM)"
        );
        assert!(call("format()}")
            .check()
            .unwrap_err()
            .contains("at least 1 argument,"));
        assert!(call("upper(a)}")
            .check()
            .unwrap_err()
            .starts_with("unknown function `upper`"));
    }
}
