//! The plan's expression language, as text: a tokenizer and a parser to a syntax tree whose
//! every node knows its byte offset in the expression, so the loader can point a mistake at
//! its line and column in `plan.toml`.
//!
//! The grammar is the arithmetic a rate manual writes, nothing more:
//!
//! ```text
//! expr   := or
//! or     := and ("or" and)*
//! and    := not ("and" not)*
//! not    := "not" not | cmp
//! cmp    := sum (("==" | "!=" | "<" | "<=" | ">" | ">=") sum
//!               | "in" "(" expr ("," expr)* ")" | "not" "in" "(" ... ")")?
//! sum    := prod (("+" | "-") prod)*
//! prod   := unary (("*" | "/") unary)*
//! unary  := "-" unary | atom
//! atom   := number | 'text' | name | name "(" args ")" | "(" expr ")"
//! ```
//!
//! Names and calls are resolved and type-checked by the loader (`load.rs`), which turns the
//! tree into the engine's [`super::Expr`].

use rust_decimal::Decimal;

/// A syntax tree node and its byte offset in the expression text.
#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    /// Byte offset of the node's first token.
    pub at: usize,
    /// What it is.
    pub kind: Kind,
}

/// Binary operators.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `and`
    And,
    /// `or`
    Or,
}

/// What a node is.
#[derive(Clone, Debug, PartialEq)]
pub enum Kind {
    /// A decimal literal, exact.
    Number(Decimal),
    /// A text literal.
    Text(String),
    /// A name: an input, a named value, a table, or a field group (as an aggregate's first
    /// argument).
    Name(String),
    /// `name(args...)`.
    Call(String, Vec<Node>),
    /// `-x`.
    Neg(Box<Node>),
    /// `not x`.
    Not(Box<Node>),
    /// `a op b`.
    Binary(BinOp, Box<Node>, Box<Node>),
    /// `x in (a, b)` (`negated`: `x not in (...)`).
    In(Box<Node>, Vec<Node>, bool),
}

/// A syntax error: where and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset in the expression.
    pub at: usize,
    /// What is wrong.
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Number(Decimal),
    Text(String),
    Ident(String),
    Sym(&'static str),
    End,
}

struct Lexer<'s> {
    src: &'s str,
    pos: usize,
}

const SYMBOLS: [&str; 13] = [
    "==", "!=", "<=", ">=", "<", ">", "+", "-", "*", "/", "(", ")", ",",
];

impl Lexer<'_> {
    fn next(&mut self) -> Result<(usize, Tok), SyntaxError> {
        let rest = &self.src[self.pos..];
        let trimmed = rest.trim_start();
        self.pos += rest.len() - trimmed.len();
        let at = self.pos;
        let Some(c) = trimmed.chars().next() else {
            return Ok((at, Tok::End));
        };
        if c.is_ascii_digit()
            || (c == '.' && trimmed[1..].starts_with(|d: char| d.is_ascii_digit()))
        {
            let len = trimmed
                .find(|d: char| !(d.is_ascii_digit() || d == '.'))
                .unwrap_or(trimmed.len());
            let text = &trimmed[..len];
            self.pos += len;
            return Decimal::from_str_exact(text)
                .map(|d| (at, Tok::Number(d)))
                .map_err(|_| SyntaxError {
                    at,
                    message: format!("{text:?} is not a decimal number"),
                });
        }
        if c == '\'' || c == '"' {
            let body = &trimmed[1..];
            let Some(end) = body.find(c) else {
                return Err(SyntaxError {
                    at,
                    message: format!("text starting here has no closing {c}"),
                });
            };
            self.pos += end + 2;
            return Ok((at, Tok::Text(body[..end].to_owned())));
        }
        if c.is_alphabetic() || c == '_' {
            let len = trimmed
                .find(|d: char| !(d.is_alphanumeric() || d == '_'))
                .unwrap_or(trimmed.len());
            self.pos += len;
            return Ok((at, Tok::Ident(trimmed[..len].to_owned())));
        }
        for sym in SYMBOLS {
            if trimmed.starts_with(sym) {
                self.pos += sym.len();
                return Ok((at, Tok::Sym(sym)));
            }
        }
        Err(SyntaxError {
            at,
            message: format!("unexpected character {c:?}"),
        })
    }
}

/// Parses one expression.
pub fn parse(src: &str) -> Result<Node, SyntaxError> {
    let mut p = Parser {
        lexer: Lexer { src, pos: 0 },
        peeked: None,
        depth: 0,
    };
    let node = p.or()?;
    match p.take()? {
        (_, Tok::End) => Ok(node),
        (at, tok) => Err(SyntaxError {
            at,
            message: format!("unexpected {} after a complete expression", show(&tok)),
        }),
    }
}

/// How deep an expression may nest: a plan is written by people, and the parser recurses.
const MAX_DEPTH: usize = 64;

struct Parser<'s> {
    lexer: Lexer<'s>,
    peeked: Option<(usize, Tok)>,
    depth: usize,
}

fn show(tok: &Tok) -> String {
    match tok {
        Tok::Number(d) => format!("number {d}"),
        Tok::Text(t) => format!("text {t:?}"),
        Tok::Ident(i) => format!("`{i}`"),
        Tok::Sym(s) => format!("`{s}`"),
        Tok::End => "the end of the expression".into(),
    }
}

impl Parser<'_> {
    fn peek(&mut self) -> Result<&(usize, Tok), SyntaxError> {
        if self.peeked.is_none() {
            self.peeked = Some(self.lexer.next()?);
        }
        Ok(self.peeked.as_ref().expect("just filled"))
    }

    fn take(&mut self) -> Result<(usize, Tok), SyntaxError> {
        self.peek()?;
        Ok(self.peeked.take().expect("just peeked"))
    }

    fn eat_sym(&mut self, sym: &str) -> Result<bool, SyntaxError> {
        if matches!(self.peek()?, (_, Tok::Sym(s)) if *s == sym) {
            self.take()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn eat_word(&mut self, word: &str) -> Result<bool, SyntaxError> {
        if matches!(self.peek()?, (_, Tok::Ident(w)) if w == word) {
            self.take()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn expect(&mut self, sym: &str) -> Result<(), SyntaxError> {
        match self.take()? {
            (_, Tok::Sym(s)) if s == sym => Ok(()),
            (at, tok) => Err(SyntaxError {
                at,
                message: format!("expected `{sym}`, found {}", show(&tok)),
            }),
        }
    }

    fn binary(
        &mut self,
        next: fn(&mut Self) -> Result<Node, SyntaxError>,
        ops: &[(&str, BinOp)],
        words: bool,
    ) -> Result<Node, SyntaxError> {
        let mut left = next(self)?;
        loop {
            let op = match self.peek()? {
                (_, Tok::Sym(s)) if !words => ops.iter().find(|(o, _)| o == s).map(|(_, op)| *op),
                (_, Tok::Ident(w)) if words => ops.iter().find(|(o, _)| o == w).map(|(_, op)| *op),
                _ => None,
            };
            let Some(op) = op else { return Ok(left) };
            self.take()?;
            let right = next(self)?;
            left = Node {
                at: left.at,
                kind: Kind::Binary(op, Box::new(left), Box::new(right)),
            };
        }
    }

    /// Runs `f` one level deeper, refusing to go past [`MAX_DEPTH`] (bundles come from
    /// tenants: a hostile expression must not overflow the stack).
    fn nested(
        &mut self,
        f: impl FnOnce(&mut Self) -> Result<Node, SyntaxError>,
    ) -> Result<Node, SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let at = self.peek()?.0;
            return Err(SyntaxError {
                at,
                message: format!("the expression nests deeper than {MAX_DEPTH} levels"),
            });
        }
        let r = f(self);
        self.depth -= 1;
        r
    }

    fn or(&mut self) -> Result<Node, SyntaxError> {
        self.nested(|p| p.binary(Self::and, &[("or", BinOp::Or)], true))
    }

    fn and(&mut self) -> Result<Node, SyntaxError> {
        self.binary(Self::not, &[("and", BinOp::And)], true)
    }

    fn not(&mut self) -> Result<Node, SyntaxError> {
        let at = self.peek()?.0;
        if self.eat_word("not")? {
            let inner = self.nested(Self::not)?;
            return Ok(Node {
                at,
                kind: Kind::Not(Box::new(inner)),
            });
        }
        self.cmp()
    }

    fn cmp(&mut self) -> Result<Node, SyntaxError> {
        let left = self.sum()?;
        const OPS: [(&str, BinOp); 6] = [
            ("==", BinOp::Eq),
            ("!=", BinOp::Ne),
            ("<=", BinOp::Le),
            (">=", BinOp::Ge),
            ("<", BinOp::Lt),
            (">", BinOp::Gt),
        ];
        let op = match self.peek()? {
            (_, Tok::Sym(s)) => OPS.iter().find(|(o, _)| o == s).map(|(_, op)| *op),
            _ => None,
        };
        if let Some(op) = op {
            self.take()?;
            let right = self.sum()?;
            return Ok(Node {
                at: left.at,
                kind: Kind::Binary(op, Box::new(left), Box::new(right)),
            });
        }
        let negated = if self.eat_word("in")? {
            false
        } else if matches!(self.peek()?, (_, Tok::Ident(w)) if w == "not") {
            self.take()?;
            if !self.eat_word("in")? {
                let (at, tok) = self.take()?;
                return Err(SyntaxError {
                    at,
                    message: format!("expected `in` after `not`, found {}", show(&tok)),
                });
            }
            true
        } else {
            return Ok(left);
        };
        self.expect("(")?;
        let mut list = vec![self.or()?];
        while self.eat_sym(",")? {
            list.push(self.or()?);
        }
        self.expect(")")?;
        Ok(Node {
            at: left.at,
            kind: Kind::In(Box::new(left), list, negated),
        })
    }

    fn sum(&mut self) -> Result<Node, SyntaxError> {
        self.binary(Self::prod, &[("+", BinOp::Add), ("-", BinOp::Sub)], false)
    }

    fn prod(&mut self) -> Result<Node, SyntaxError> {
        self.binary(Self::unary, &[("*", BinOp::Mul), ("/", BinOp::Div)], false)
    }

    fn unary(&mut self) -> Result<Node, SyntaxError> {
        let at = self.peek()?.0;
        if self.eat_sym("-")? {
            let inner = self.nested(Self::unary)?;
            return Ok(Node {
                at,
                kind: Kind::Neg(Box::new(inner)),
            });
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Node, SyntaxError> {
        let (at, tok) = self.take()?;
        let kind = match tok {
            Tok::Number(d) => Kind::Number(d),
            Tok::Text(t) => Kind::Text(t),
            Tok::Ident(name) if matches!(name.as_str(), "and" | "or" | "not" | "in") => {
                return Err(SyntaxError {
                    at,
                    message: format!("expected a value, found the word `{name}`"),
                });
            }
            Tok::Ident(name) => {
                if self.eat_sym("(")? {
                    let mut args = Vec::new();
                    if !self.eat_sym(")")? {
                        args.push(self.or()?);
                        while self.eat_sym(",")? {
                            args.push(self.or()?);
                        }
                        self.expect(")")?;
                    }
                    Kind::Call(name, args)
                } else {
                    Kind::Name(name)
                }
            }
            Tok::Sym("(") => {
                let inner = self.or()?;
                self.expect(")")?;
                return Ok(inner);
            }
            other => {
                return Err(SyntaxError {
                    at,
                    message: format!("expected a value, found {}", show(&other)),
                });
            }
        };
        Ok(Node { at, kind })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(n: &Node) -> String {
        match &n.kind {
            Kind::Number(d) => d.to_string(),
            Kind::Text(t) => format!("'{t}'"),
            Kind::Name(x) => x.clone(),
            Kind::Call(f, args) => {
                let a: Vec<String> = args.iter().map(shape).collect();
                format!("{f}({})", a.join(", "))
            }
            Kind::Neg(x) => format!("(-{})", shape(x)),
            Kind::Not(x) => format!("(not {})", shape(x)),
            Kind::Binary(op, a, b) => format!("({} {op:?} {})", shape(a), shape(b)),
            Kind::In(x, list, neg) => {
                let l: Vec<String> = list.iter().map(shape).collect();
                format!(
                    "({} {}in [{}])",
                    shape(x),
                    if *neg { "not " } else { "" },
                    l.join(", ")
                )
            }
        }
    }

    #[test]
    fn precedence_is_the_usual_one() {
        let n = parse("B * TF + 2 * -x / 4").unwrap();
        assert_eq!(shape(&n), "((B Mul TF) Add ((2 Mul (-x)) Div 4))");
        let n = parse("a == 1 and not b in ('x', 'y') or c >= 0.5").unwrap();
        assert_eq!(
            shape(&n),
            "(((a Eq 1) And (not (b in ['x', 'y']))) Or (c Ge 0.5))"
        );
        let n = parse("max_over(drivers, round(f * g, 0.001), t == \"Rated\")").unwrap();
        assert_eq!(
            shape(&n),
            "max_over(drivers, round((f Mul g), 0.001), (t Eq 'Rated'))"
        );
        assert_eq!(shape(&parse("x not in (1)").unwrap()), "(x not in [1])");
    }

    #[test]
    fn errors_point_at_the_offending_token() {
        let e = parse("B * (TF + 1").unwrap_err();
        assert_eq!(e.at, 11);
        assert!(e.message.contains("expected `)`"), "{e:?}");
        let e = parse("B ** 2").unwrap_err();
        assert_eq!(e.at, 3);
        let e = parse("a 'b'").unwrap_err();
        assert_eq!(e.at, 2);
        assert!(e.message.contains("after a complete expression"));
        let e = parse("'open").unwrap_err();
        assert_eq!(e.at, 0);
        let e = parse("1.2.3").unwrap_err();
        assert!(e.message.contains("not a decimal"));
        let e = parse("a and or b").unwrap_err();
        assert_eq!(e.at, 6);
        let deep = format!("{}1{}", "(".repeat(200), ")".repeat(200));
        assert!(parse(&deep).unwrap_err().message.contains("nests deeper"));
    }
}
