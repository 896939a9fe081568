//! A YAML tree that remembers where every node came from, so that every
//! validation error can name file, line and column.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::Spanned;
use std::fmt;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Position {
    pub line: u64,
    pub column: u64,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Tree {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Key, Node)>),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Key {
    pub text: String,
    pub position: Position,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub tree: Tree,
    pub position: Position,
}

impl Node {
    pub fn kind_name(&self) -> &'static str {
        match self.tree {
            Tree::Null => "null",
            Tree::Bool(_) => "a boolean",
            Tree::Int(_) => "an integer",
            Tree::Float(_) => "a number",
            Tree::Str(_) => "a string",
            Tree::Seq(_) => "a list",
            Tree::Map(_) => "a mapping",
        }
    }

    pub fn get(&self, key: &str) -> Option<&Node> {
        match &self.tree {
            Tree::Map(entries) => entries.iter().find(|(k, _)| k.text == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Plain JSON form, without positions.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match &self.tree {
            Tree::Null => Value::Null,
            Tree::Bool(b) => Value::Bool(*b),
            Tree::Int(i) => Value::from(*i),
            Tree::Float(f) => serde_json::Number::from_f64(*f).map_or(Value::Null, Value::Number),
            Tree::Str(s) => Value::String(s.clone()),
            Tree::Seq(items) => Value::Array(items.iter().map(Node::to_json).collect()),
            Tree::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.text.clone(), v.to_json()))
                    .collect(),
            ),
        }
    }
}

fn position(location: &serde_saphyr::Location) -> Position {
    Position {
        line: location.line(),
        column: location.column(),
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<Tree>::deserialize(deserializer)?;
        Ok(Node {
            position: position(&spanned.referenced),
            tree: spanned.value,
        })
    }
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let spanned = Spanned::<KeyText>::deserialize(deserializer)?;
        Ok(Key {
            position: position(&spanned.referenced),
            text: spanned.value.0,
        })
    }
}

/// Mapping keys are text in a stack; numbers and booleans used as keys are
/// taken as their YAML spelling.
struct KeyText(String);

impl<'de> Deserialize<'de> for KeyText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = KeyText;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a mapping key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<KeyText, E> {
                Ok(KeyText(v.to_owned()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<KeyText, E> {
                Ok(KeyText(v.to_string()))
            }
        }
        deserializer.deserialize_any(KeyVisitor)
    }
}

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct TreeVisitor;
        impl<'de> Visitor<'de> for TreeVisitor {
            type Value = Tree;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
                Ok(Tree::Null)
            }
            fn visit_none<E: de::Error>(self) -> Result<Tree, E> {
                Ok(Tree::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Tree, D::Error> {
                Tree::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Tree, E> {
                Ok(Tree::Bool(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Tree, E> {
                Ok(Tree::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Tree, E> {
                i64::try_from(v)
                    .map(Tree::Int)
                    .map_err(|_| E::custom("integer too large"))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Tree, E> {
                Ok(Tree::Float(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Tree, E> {
                Ok(Tree::Str(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Tree, E> {
                Ok(Tree::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element::<Node>()? {
                    items.push(item);
                }
                Ok(Tree::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
                let mut entries: Vec<(Key, Node)> = Vec::new();
                while let Some(key) = map.next_key::<Key>()? {
                    let value = map.next_value::<Node>()?;
                    if entries.iter().any(|(k, _)| k.text == key.text) {
                        return Err(de::Error::custom(format!(
                            "duplicate key `{}` at line {}",
                            key.text, key.position.line
                        )));
                    }
                    entries.push((key, value));
                }
                Ok(Tree::Map(entries))
            }
        }
        deserializer.deserialize_any(TreeVisitor)
    }
}

/// Parses one YAML document. Alias expansion and nesting are bounded by the
/// parser's budget, so a "billion laughs" file fails instead of eating memory.
pub fn parse(text: &str) -> Result<Node, (Position, String)> {
    // YAML 1.2 booleans only: `N` (a DynamoDB attribute type), `no` and
    // `off` stay strings, as they do for AWS.
    let mut options = serde_saphyr::Options::default();
    options.strict_booleans = true;
    options.reject_unsupported_tags = true;
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|error| {
        let at = error.location().map(|l| position(&l)).unwrap_or_default();
        (at, message(error.without_snippet()))
    })
}

/// The parser's error in the stack's terms (its own wording speaks of its
/// options and budgets). One line: the caller adds file, line and column.
fn message(error: &serde_saphyr::Error) -> String {
    use serde_saphyr::{Error, MessageFormatter};
    let text = match error {
        Error::UnsupportedTag { tag, .. } => format!(
            "YAML tag `{tag}` is not part of the stack language (CloudFormation's `!Ref`, `!GetAtt`, `!Sub` are not supported); write a reference instead, such as `${{key.key_id}}` or `${{table.arn}}`"
        ),
        Error::DuplicateMappingKey { key, .. } => format!(
            "the key `{}` is given twice in this mapping",
            key.as_deref().unwrap_or("?")
        ),
        Error::Budget { .. } => {
            "the file is too large, too deeply nested, or expands too many aliases to be a stack".to_owned()
        }
        other => serde_saphyr::UserMessageFormatter
            .format_message(other)
            .into_owned(),
    };
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_nodes_keep_their_positions() {
        let node = parse("a:\n  b: 5\n  c: [x, y]\n").unwrap();
        let a = node.get("a").unwrap();
        assert_eq!(a.position.line, 2);
        let b = a.get("b").unwrap();
        assert_eq!(b.tree, Tree::Int(5));
        assert_eq!((b.position.line, b.position.column), (2, 6));
        let Tree::Seq(items) = &a.get("c").unwrap().tree else {
            panic!("not a list")
        };
        assert_eq!(items[1].position.line, 3);
    }

    #[test]
    fn only_yaml_1_2_booleans() {
        let node = parse("a: N\nb: no\nc: true\n").unwrap();
        assert_eq!(node.get("a").unwrap().tree, Tree::Str("N".into()));
        assert_eq!(node.get("b").unwrap().tree, Tree::Str("no".into()));
        assert_eq!(node.get("c").unwrap().tree, Tree::Bool(true));
    }

    #[test]
    fn cloudformation_tags_and_library_wording_are_said_in_stack_terms() {
        let (at, message) = parse("a: !Ref key\n").unwrap_err();
        assert_eq!(at.line, 1);
        assert!(
            message.contains("`!Ref` is not part of the stack language"),
            "{message}"
        );
        let (_, message) = parse("a: 1\na: 2\n").unwrap_err();
        assert_eq!(message, "the key `a` is given twice in this mapping");
        let (_, message) = parse(&"[".repeat(300)).unwrap_err();
        assert!(
            !message.contains("Options") && !message.contains('\n'),
            "{message}"
        );
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            text.push_str(&format!(
                "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n",
                p = i - 1
            ));
        }
        assert!(parse(&text).is_err());
    }
}
