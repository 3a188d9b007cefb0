//! Names and expressions: resolving a plan's named values and tables, which may refer to
//! each other in any order, into type-checked [`Expr`]s and indexed tables.
//!
//! Values and tables are resolved depth first from their uses, so a value may name a table
//! keyed by another value declared further down; a value reached again while it is being
//! resolved is a cycle, reported with its path. Every name has a type (number, text, date,
//! condition) and a scope: a name that reads a field group's member field (directly or
//! through others) exists once per member, and may only be used inside an aggregate over
//! that group (`max_over(drivers, ...)`), which is checked here, not while rating.

use std::collections::BTreeMap;

use toml::Spanned;

use super::expr::{self, BinOp, Kind, Node};
use super::load::Cx;
use super::raw::{RawKey, RawPlan, RawRule, RawTable};
use super::table::{KeyDecl, KeyKind, ValueDecl, parse_table};
use super::{Agg, Arith, CmpOp, Expr, GroupId, InputDef, Ref, Table, TableRefs, Ty, ValueDef};
use crate::engine::Rounding;

/// Where a name is in the middle of being resolved.
#[derive(Clone, Debug)]
enum State<T> {
    Todo,
    Visiting,
    Done(T),
    Failed,
}

/// The functions expressions may call, for the "unknown function" message.
const FUNCTIONS: &str = "if, min, max, round, years_between, year, date, present, count_exposures, max_over, min_over, sum_over, count_over, first_over";

/// Resolves the plan's names: inputs are given; values and tables are compiled on demand.
pub(super) struct Names<'r> {
    pub inputs: &'r [InputDef],
    /// Inputs and values by name.
    pub refs: BTreeMap<String, Ref>,
    /// Tables by name. Older plans name a table after the input that keys it (steps say
    /// which they mean); an expression naming such a pair is refused as ambiguous.
    pub tables_by_name: BTreeMap<String, usize>,
    /// Group names, for aggregates.
    pub groups: BTreeMap<String, GroupId>,
    raw_values: Vec<(&'r Spanned<String>, &'r Spanned<String>)>,
    raw_tables: Vec<(&'r Spanned<String>, &'r RawTable)>,
    values: Vec<State<ValueDef>>,
    tables: Vec<State<(Table, TableRefs)>>,
    /// The names being resolved, for a cycle's path.
    stack: Vec<String>,
}

/// A compiled expression with its type and the field group it reads members of.
pub(super) type Typed = (Expr, Ty, Option<GroupId>);

impl<'r> Names<'r> {
    /// Registers every name; a name used twice is an error, located at the second.
    pub fn new(cx: &mut Cx<'_>, raw: &'r RawPlan, inputs: &'r [InputDef]) -> Names<'r> {
        let mut refs = BTreeMap::new();
        let mut groups = BTreeMap::new();
        for (i, def) in inputs.iter().enumerate() {
            refs.insert(def.name.to_string(), Ref::Input(i));
            if let Some(g) = def.group
                && let Some((_, group)) = def.source.group()
            {
                groups.entry(group.to_owned()).or_insert(g);
            }
        }
        let mut raw_values = Vec::new();
        for (name, e) in &raw.values {
            if refs.contains_key(name.get_ref()) {
                cx.err(
                    name,
                    format!(
                        "`{}` is already an input: a value needs its own name",
                        name.get_ref()
                    ),
                );
                continue;
            }
            refs.insert(name.get_ref().clone(), Ref::Value(raw_values.len()));
            raw_values.push((name, e));
        }
        let mut raw_tables = Vec::new();
        let mut tables_by_name = BTreeMap::new();
        for (name, t) in &raw.tables {
            if let Some(Ref::Value(_)) = refs.get(name.get_ref()) {
                cx.err(
                    name,
                    format!(
                        "`{}` is already a value: a table needs its own name",
                        name.get_ref()
                    ),
                );
                continue;
            }
            tables_by_name.insert(name.get_ref().clone(), raw_tables.len());
            raw_tables.push((name, t));
        }
        let values = raw_values.iter().map(|_| State::Todo).collect();
        let tables = raw_tables.iter().map(|_| State::Todo).collect();
        Names {
            inputs,
            refs,
            tables_by_name,
            groups,
            raw_values,
            raw_tables,
            values,
            tables,
            stack: Vec::new(),
        }
    }

    /// Resolves every value and table (so each is checked even if nothing uses it) and
    /// hands them over; `None` in a slot means its errors are reported.
    #[allow(clippy::type_complexity)]
    pub fn finish(
        mut self,
        cx: &mut Cx<'_>,
    ) -> (Vec<Option<ValueDef>>, Vec<Option<(Table, TableRefs)>>) {
        for v in 0..self.values.len() {
            self.info(cx, Ref::Value(v));
        }
        for t in 0..self.tables.len() {
            self.info(cx, Ref::Table(t));
        }
        let values = self
            .values
            .into_iter()
            .map(|s| match s {
                State::Done(v) => Some(v),
                _ => None,
            })
            .collect();
        let tables = self
            .tables
            .into_iter()
            .map(|s| match s {
                State::Done(t) => Some(t),
                _ => None,
            })
            .collect();
        (values, tables)
    }

    /// What a name in an expression or a table key means; `Err` says why it means nothing
    /// (unknown, or an input and a table of the same name).
    fn lookup(&self, name: &str) -> Result<Ref, String> {
        match (self.refs.get(name), self.tables_by_name.get(name)) {
            (Some(&r), None) => Ok(r),
            (None, Some(&t)) => Ok(Ref::Table(t)),
            (Some(_), Some(_)) => Err(format!(
                "`{name}` is both an input and a table: rename the table to use it here (for example `{name}_factor`)"
            )),
            (None, None) => Err(format!("unknown name `{name}`; {}", self.known())),
        }
    }

    /// A table, once resolved (for steps, which name tables directly).
    pub fn table_refs(&self, t: usize) -> Option<&TableRefs> {
        match &self.tables[t] {
            State::Done((_, refs)) => Some(refs),
            _ => None,
        }
    }

    /// The type and group of a name, resolving it first if needed; `None` when it failed
    /// (its errors are reported once, where it is defined).
    pub fn info(&mut self, cx: &mut Cx<'_>, r: Ref) -> Option<(Ty, Option<GroupId>)> {
        match r {
            Ref::Input(i) => Some((self.inputs[i].ty.ty(), self.inputs[i].group)),
            Ref::Value(v) => {
                match &self.values[v] {
                    State::Done(d) => return Some((d.ty, d.group)),
                    State::Failed => return None,
                    State::Visiting => {
                        let (name, _) = self.raw_values[v];
                        let start = self
                            .stack
                            .iter()
                            .position(|n| n == name.get_ref())
                            .unwrap_or(0);
                        let mut path = self.stack[start..].to_vec();
                        path.push(name.get_ref().clone());
                        cx.err(
                            name,
                            format!(
                                "named values refer to each other in a cycle: {}",
                                path.join(" -> ")
                            ),
                        );
                        self.values[v] = State::Failed;
                        return None;
                    }
                    State::Todo => {}
                }
                let (name, text) = self.raw_values[v];
                self.values[v] = State::Visiting;
                self.stack.push(name.get_ref().clone());
                let compiled = self.compile_text(cx, text);
                self.stack.pop();
                if matches!(self.values[v], State::Failed) {
                    return None;
                }
                match compiled {
                    Some((expr, ty, group)) => {
                        self.values[v] = State::Done(ValueDef {
                            name: name.get_ref().as_str().into(),
                            expr,
                            ty,
                            group,
                        });
                        Some((ty, group))
                    }
                    None => {
                        self.values[v] = State::Failed;
                        None
                    }
                }
            }
            Ref::Table(t) => {
                match &self.tables[t] {
                    State::Done((_, refs)) => return Some((Ty::Number, refs.group)),
                    State::Failed => return None,
                    State::Visiting => {
                        let (name, _) = self.raw_tables[t];
                        cx.err(
                            name,
                            format!(
                                "table `{}` is keyed, through other names, by its own value",
                                name.get_ref()
                            ),
                        );
                        self.tables[t] = State::Failed;
                        return None;
                    }
                    State::Todo => {}
                }
                let (name, raw) = self.raw_tables[t];
                self.tables[t] = State::Visiting;
                self.stack.push(name.get_ref().clone());
                let loaded = self.table(cx, name, raw);
                self.stack.pop();
                if matches!(self.tables[t], State::Failed) {
                    return None;
                }
                match loaded {
                    Some(done) => {
                        let group = done.1.group;
                        self.tables[t] = State::Done(done);
                        Some((Ty::Number, group))
                    }
                    None => {
                        self.tables[t] = State::Failed;
                        None
                    }
                }
            }
        }
    }

    /// Looks a name up for a table key or a column; errors are located at `at`.
    fn name_ref(
        &mut self,
        cx: &mut Cx<'_>,
        at: &Spanned<String>,
    ) -> Option<(Ref, Ty, Option<GroupId>)> {
        // A key's `input` means the input (or value) when a table has the same name.
        let r = match self
            .refs
            .get(at.get_ref().as_str())
            .copied()
            .ok_or(())
            .or_else(|()| self.lookup(at.get_ref()))
        {
            Ok(r) => r,
            Err(message) => {
                cx.err(at, message);
                return None;
            }
        };
        let (ty, group) = self.info(cx, r)?;
        Some((r, ty, group))
    }

    fn known(&self) -> String {
        let mut names: Vec<&str> = self.refs.keys().map(String::as_str).collect();
        names.extend(self.tables_by_name.keys().map(String::as_str));
        names.sort_unstable();
        format!(
            "the plan's inputs, values and tables are {}",
            names.join(", ")
        )
    }

    fn table(
        &mut self,
        cx: &mut Cx<'_>,
        name: &Spanned<String>,
        t: &RawTable,
    ) -> Option<(Table, TableRefs)> {
        let mut decls = Vec::new();
        let mut keys = Vec::new();
        let mut group = None;
        let mut ok = true;
        for key in &t.keys {
            match self.key(cx, key) {
                Some((decl, r, g)) => {
                    ok &= merge(cx, &key.input, &mut group, g);
                    decls.push(decl);
                    keys.push(r);
                }
                None => ok = false,
            }
        }
        if t.keys.is_empty() {
            cx.err(
                name,
                format!("table `{}` needs at least one key", name.get_ref()),
            );
            ok = false;
        }
        let (value, column) = match (&t.value, &t.value_column) {
            (Some(v), None) => (Some(ValueDecl::Column(v.get_ref())), None),
            (None, Some(c)) => match self.name_ref(cx, c) {
                Some((r, Ty::Text, g)) => {
                    ok &= merge(cx, c, &mut group, g);
                    (Some(ValueDecl::Matrix), Some(r))
                }
                Some((_, ty, _)) => {
                    cx.err(
                        c,
                        format!(
                            "`value_column` names the column by text, and `{}` is {}",
                            c.get_ref(),
                            ty.as_str()
                        ),
                    );
                    (None, None)
                }
                None => (None, None),
            },
            (Some(v), Some(_)) => {
                cx.err(
                    v,
                    "give `value` (one column) or `value_column` (a matrix), not both",
                );
                (None, None)
            }
            (None, None) => {
                cx.err(name, format!("table `{}` needs `value = \"column\"` or, for a matrix, `value_column = \"name\"`", name.get_ref()));
                (None, None)
            }
        };
        let default = match &t.default {
            Some(d) => {
                let d = cx.decimal(d, "table default");
                ok &= d.is_some();
                d
            }
            None => None,
        };
        let round = match &t.round {
            Some(r) => {
                let r = cx.rule(r);
                ok &= r.is_some();
                r
            }
            None => None,
        };
        let file = t.file.get_ref();
        if file.contains("..") || std::path::Path::new(file).is_absolute() {
            cx.err(
                &t.file,
                format!("table file {file:?} must be a file inside the plan folder"),
            );
            return None;
        }
        let value = value?;
        if !ok {
            return None;
        }
        let path = cx.dir.join(file);
        let bytes = match cx.files.read(std::path::Path::new(file)) {
            Ok(b) => b,
            Err(e) => {
                cx.errors.push(super::PlanError {
                    file: path,
                    line: 0,
                    column: 0,
                    message: format!("cannot read table `{}`: {e}", name.get_ref()),
                });
                return None;
            }
        };
        match parse_table(name.get_ref(), &path, &bytes, &decls, value, default) {
            Ok(table) => Some((
                table,
                TableRefs {
                    keys: keys.into_boxed_slice(),
                    column,
                    round,
                    group,
                    missing: t.missing.as_ref().map(|m| m.get_ref().as_str().into()),
                },
            )),
            Err(errs) => {
                cx.errors.extend(errs);
                None
            }
        }
    }

    fn key<'k>(
        &mut self,
        cx: &mut Cx<'_>,
        key: &'k RawKey,
    ) -> Option<(KeyDecl<'k>, Ref, Option<GroupId>)> {
        let (r, ty, group) = self.name_ref(cx, &key.input)?;
        let spelled = [&key.column, &key.from, &key.prefix, &key.interpolate];
        let (kind, column) = match (
            &key.column,
            &key.from,
            &key.to,
            &key.prefix,
            &key.interpolate,
        ) {
            _ if spelled.iter().filter(|s| s.is_some()).count() != 1
                || (key.from.is_some() != key.to.is_some()) =>
            {
                cx.err(&key.input, "a table key is one of `column = \"...\"` (exact), `from` and `to` (a band), `prefix = \"...\"` (longest prefix) or `interpolate = \"...\"` (points)");
                return None;
            }
            (Some(c), ..) => (
                if ty == Ty::Number {
                    KeyKind::Number
                } else {
                    KeyKind::Text
                },
                c,
            ),
            (_, Some(f), ..) => (KeyKind::Band, f),
            (.., Some(p), _) => (KeyKind::Prefix, p),
            (.., Some(i)) => (KeyKind::Interpolate, i),
            _ => unreachable!("one spelling is given"),
        };
        let fits = match kind {
            KeyKind::Text => ty == Ty::Text,
            KeyKind::Prefix => ty == Ty::Text,
            _ => ty == Ty::Number,
        };
        if !fits {
            let need = match kind {
                KeyKind::Band => "a band key needs a number",
                KeyKind::Interpolate => "an interpolation key needs a number",
                KeyKind::Prefix => "a prefix key needs text",
                _ => "an exact key needs text or a number",
            };
            cx.err(
                &key.input,
                format!("{need}, and `{}` is {}", key.input.get_ref(), ty.as_str()),
            );
            return None;
        }
        Some((
            KeyDecl {
                kind,
                column: column.get_ref(),
                to: key.to.as_ref().map(|t| t.get_ref().as_str()),
            },
            r,
            group,
        ))
    }

    /// Compiles the expression in a TOML string, locating errors inside it.
    pub fn compile_text(&mut self, cx: &mut Cx<'_>, text: &Spanned<String>) -> Option<Typed> {
        let base = cx.content_start(text);
        match expr::parse(text.get_ref()) {
            Ok(node) => self.compile(cx, base, &node),
            Err(e) => {
                cx.err_at(base + e.at, e.message);
                None
            }
        }
    }

    /// Compiles an expression that must be of type `want` and read no member field outside
    /// an aggregate (`what` names it in messages).
    pub fn compile_top(
        &mut self,
        cx: &mut Cx<'_>,
        text: &Spanned<String>,
        want: Ty,
        what: &str,
    ) -> Option<Expr> {
        let (expr, ty, group) = self.compile_text(cx, text)?;
        if ty != want {
            cx.err(
                text,
                format!(
                    "{what} must be {}, and this is {}",
                    want.as_str(),
                    ty.as_str()
                ),
            );
            return None;
        }
        if let Some(g) = group {
            let name = self
                .groups
                .iter()
                .find(|(_, id)| **id == g)
                .map_or("?", |(n, _)| n.as_str());
            cx.err(text, format!("{what} reads member fields of field group `{name}` outside an aggregate: take one value with max_over({name}, ...), min_over, sum_over, count_over or first_over"));
            return None;
        }
        Some(expr)
    }

    fn compile(&mut self, cx: &mut Cx<'_>, base: usize, node: &Node) -> Option<Typed> {
        let at = base + node.at;
        let mut group = None;
        let sub = |names: &mut Self,
                   cx: &mut Cx<'_>,
                   n: &Node,
                   want: Option<Ty>,
                   group: &mut Option<GroupId>|
         -> Option<Expr> {
            let (e, ty, g) = names.compile(cx, base, n)?;
            if let Some(want) = want
                && ty != want
            {
                cx.err_at(
                    base + n.at,
                    format!("expected {}, found {}", want.as_str(), ty.as_str()),
                );
                return None;
            }
            if !merge_at(cx, base + n.at, group, g) {
                return None;
            }
            Some(e)
        };
        let (expr, ty) = match &node.kind {
            Kind::Number(d) => (Expr::Num(*d), Ty::Number),
            Kind::Text(t) => (Expr::Text(t.as_str().into()), Ty::Text),
            Kind::Name(name) => {
                let r = match self.lookup(name) {
                    Ok(r) => r,
                    Err(_) if self.groups.contains_key(name) => {
                        cx.err_at(at, format!("`{name}` is a field group: use it as the first argument of max_over, min_over, sum_over, count_over or first_over"));
                        return None;
                    }
                    Err(message) => {
                        cx.err_at(at, message);
                        return None;
                    }
                };
                let (ty, g) = self.info(cx, r)?;
                group = g;
                (Expr::Ref(r), ty)
            }
            Kind::Neg(x) => (
                Expr::Neg(Box::new(sub(self, cx, x, Some(Ty::Number), &mut group)?)),
                Ty::Number,
            ),
            Kind::Not(x) => (
                Expr::Not(Box::new(sub(self, cx, x, Some(Ty::Bool), &mut group)?)),
                Ty::Bool,
            ),
            Kind::Binary(op, a, b) => {
                let arith = match op {
                    BinOp::Add => Some(Arith::Add),
                    BinOp::Sub => Some(Arith::Sub),
                    BinOp::Mul => Some(Arith::Mul),
                    BinOp::Div => Some(Arith::Div),
                    _ => None,
                };
                if let Some(arith) = arith {
                    let a = sub(self, cx, a, Some(Ty::Number), &mut group);
                    let b = sub(self, cx, b, Some(Ty::Number), &mut group);
                    (Expr::Arith(arith, Box::new(a?), Box::new(b?)), Ty::Number)
                } else if matches!(op, BinOp::And | BinOp::Or) {
                    let a = sub(self, cx, a, Some(Ty::Bool), &mut group);
                    let b = sub(self, cx, b, Some(Ty::Bool), &mut group);
                    let (a, b) = (Box::new(a?), Box::new(b?));
                    (
                        if *op == BinOp::And {
                            Expr::And(a, b)
                        } else {
                            Expr::Or(a, b)
                        },
                        Ty::Bool,
                    )
                } else {
                    let (ea, ta, ga) = self.compile(cx, base, a)?;
                    let (eb, tb, gb) = self.compile(cx, base, b)?;
                    if !merge_at(cx, base + a.at, &mut group, ga)
                        || !merge_at(cx, base + b.at, &mut group, gb)
                    {
                        return None;
                    }
                    let cmp = match op {
                        BinOp::Eq => CmpOp::Eq,
                        BinOp::Ne => CmpOp::Ne,
                        BinOp::Lt => CmpOp::Lt,
                        BinOp::Le => CmpOp::Le,
                        BinOp::Gt => CmpOp::Gt,
                        _ => CmpOp::Ge,
                    };
                    if ta != tb {
                        cx.err_at(
                            at,
                            format!("cannot compare {} with {}", ta.as_str(), tb.as_str()),
                        );
                        return None;
                    }
                    if !matches!(cmp, CmpOp::Eq | CmpOp::Ne) && !matches!(ta, Ty::Number | Ty::Date)
                    {
                        cx.err_at(
                            at,
                            format!(
                                "only numbers and dates are ordered; this compares {}",
                                ta.as_str()
                            ),
                        );
                        return None;
                    }
                    (Expr::Compare(cmp, Box::new(ea), Box::new(eb)), Ty::Bool)
                }
            }
            Kind::In(x, list, negated) => {
                let (ex, tx, gx) = self.compile(cx, base, x)?;
                if !merge_at(cx, base + x.at, &mut group, gx) {
                    return None;
                }
                let mut out = Vec::with_capacity(list.len());
                for item in list {
                    out.push(sub(self, cx, item, Some(tx), &mut group)?);
                }
                (
                    Expr::In(Box::new(ex), out.into_boxed_slice(), *negated),
                    Ty::Bool,
                )
            }
            Kind::Call(f, args) => return self.call(cx, base, at, f, args),
        };
        Some((expr, ty, group))
    }

    fn call(
        &mut self,
        cx: &mut Cx<'_>,
        base: usize,
        at: usize,
        f: &str,
        args: &[Node],
    ) -> Option<Typed> {
        let arity = |cx: &mut Cx<'_>, ok: bool, want: &str| {
            if !ok {
                cx.err_at(
                    at,
                    format!("{f}() takes {want}, not {} argument(s)", args.len()),
                );
            }
            ok
        };
        let mut group = None;
        let typed = |names: &mut Self,
                     cx: &mut Cx<'_>,
                     n: &Node,
                     want: Ty,
                     group: &mut Option<GroupId>|
         -> Option<Expr> {
            let (e, ty, g) = names.compile(cx, base, n)?;
            if ty != want {
                cx.err_at(
                    base + n.at,
                    format!(
                        "{f}() expects {} here, found {}",
                        want.as_str(),
                        ty.as_str()
                    ),
                );
                return None;
            }
            merge_at(cx, base + n.at, group, g).then_some(e)
        };
        let literal_text = |cx: &mut Cx<'_>, n: &Node, what: &str| -> Option<String> {
            match &n.kind {
                Kind::Text(t) => Some(t.clone()),
                _ => {
                    cx.err_at(base + n.at, format!("{f}() takes {what} as a quoted text"));
                    None
                }
            }
        };
        let (expr, ty) = match f {
            "if" => {
                if !arity(
                    cx,
                    args.len() == 3,
                    "3 arguments: a condition, a value if it holds, one if not",
                ) {
                    return None;
                }
                let c = typed(self, cx, &args[0], Ty::Bool, &mut group)?;
                let (a, ta, ga) = self.compile(cx, base, &args[1])?;
                let (b, tb, gb) = self.compile(cx, base, &args[2])?;
                if ta != tb {
                    cx.err_at(
                        base + args[2].at,
                        format!(
                            "if()'s two values must have one type: {} and {}",
                            ta.as_str(),
                            tb.as_str()
                        ),
                    );
                    return None;
                }
                if !merge_at(cx, base + args[1].at, &mut group, ga)
                    || !merge_at(cx, base + args[2].at, &mut group, gb)
                {
                    return None;
                }
                (Expr::If(Box::new(c), Box::new(a), Box::new(b)), ta)
            }
            "min" | "max" => {
                if !arity(cx, args.len() >= 2, "2 or more numbers") {
                    return None;
                }
                let mut out = Vec::new();
                for a in args {
                    out.push(typed(self, cx, a, Ty::Number, &mut group)?);
                }
                let out = out.into_boxed_slice();
                (
                    if f == "min" {
                        Expr::Min(out)
                    } else {
                        Expr::Max(out)
                    },
                    Ty::Number,
                )
            }
            "round" => {
                if !arity(
                    cx,
                    (2..=3).contains(&args.len()),
                    "a number, a step such as 0.01 and optionally a mode",
                ) {
                    return None;
                }
                let x = typed(self, cx, &args[0], Ty::Number, &mut group)?;
                let Kind::Number(step) = args[1].kind else {
                    cx.err_at(
                        base + args[1].at,
                        "round()'s step is a number written out, such as 0.01 (cents), 0.001 or 1",
                    );
                    return None;
                };
                let mode = match args.get(2) {
                    Some(m) => {
                        literal_text(cx, m, "its mode ('half-up', 'half-even', 'up', 'down')")?
                    }
                    None => "half-up".to_owned(),
                };
                let rounding = match cx.rounding_of(&mode, step) {
                    Ok(r) => r,
                    Err(message) => {
                        cx.err_at(base + args[1].at, message);
                        return None;
                    }
                };
                (Expr::Round(Box::new(x), rounding), Ty::Number)
            }
            "years_between" => {
                if !arity(
                    cx,
                    args.len() == 2,
                    "2 dates: from (a date of birth) and to (the rating date)",
                ) {
                    return None;
                }
                let a = typed(self, cx, &args[0], Ty::Date, &mut group);
                let b = typed(self, cx, &args[1], Ty::Date, &mut group);
                (Expr::YearsBetween(Box::new(a?), Box::new(b?)), Ty::Number)
            }
            "year" => {
                if !arity(cx, args.len() == 1, "1 date") {
                    return None;
                }
                (
                    Expr::Year(Box::new(typed(self, cx, &args[0], Ty::Date, &mut group)?)),
                    Ty::Number,
                )
            }
            "date" => {
                if !arity(cx, args.len() == 1, "1 text 'YYYY-MM-DD'") {
                    return None;
                }
                let text = literal_text(cx, &args[0], "a date 'YYYY-MM-DD'")?;
                let Ok(d) = text.parse::<jiff::civil::Date>() else {
                    cx.err_at(
                        base + args[0].at,
                        format!("{text:?} is not a date YYYY-MM-DD"),
                    );
                    return None;
                };
                (Expr::Date(d), Ty::Date)
            }
            "present" => {
                if !arity(cx, args.len() == 1, "1 input name") {
                    return None;
                }
                let input = match &args[0].kind {
                    Kind::Name(n) => match self.refs.get(n.as_str()) {
                        Some(Ref::Input(i)) => Some(*i),
                        _ => None,
                    },
                    _ => None,
                };
                let Some(i) = input else {
                    cx.err_at(base + args[0].at, "present() takes the name of an input");
                    return None;
                };
                group = self.inputs[i].group;
                (Expr::Present(i), Ty::Bool)
            }
            "count_exposures" => {
                if !arity(cx, args.len() == 1, "1 exposure name such as 'vehicle'") {
                    return None;
                }
                let name = literal_text(cx, &args[0], "the exposure's name")?;
                (Expr::CountExposures(name.into()), Ty::Number)
            }
            "max_over" | "min_over" | "sum_over" | "first_over" | "count_over" => {
                let agg = match f {
                    "max_over" => Agg::Max,
                    "min_over" => Agg::Min,
                    "sum_over" => Agg::Sum,
                    "first_over" => Agg::First,
                    _ => Agg::Count,
                };
                let (min, max) = match agg {
                    Agg::Count => (1, 2),
                    Agg::Sum => (2, 3),
                    _ => (2, 4),
                };
                let want = match agg {
                    Agg::Count => "a field group and optionally a condition on its members",
                    Agg::Sum => {
                        "a field group, a value per member and optionally a condition on its members"
                    }
                    _ => {
                        "a field group, a value per member, optionally a condition on its members and the refusal's wording when none qualifies"
                    }
                };
                if !arity(cx, (min..=max).contains(&args.len()), want) {
                    return None;
                }
                let g = match &args[0].kind {
                    Kind::Name(n) => self.groups.get(n.as_str()).copied(),
                    _ => None,
                };
                let Some(g) = g else {
                    let known: Vec<&str> = self.groups.keys().map(String::as_str).collect();
                    cx.err_at(base + args[0].at, format!("{f}()'s first argument is a field group; the plan's groups are {} (an input with `group = \"...\"` declares one)", if known.is_empty() { "none".to_owned() } else { known.join(", ") }));
                    return None;
                };
                let mut inner = Some(g);
                let of = if agg == Agg::Count {
                    None
                } else {
                    Some(Box::new(typed(self, cx, &args[1], Ty::Number, &mut inner)?))
                };
                let filter = match args.get(min) {
                    Some(c) => Some(Box::new(typed(self, cx, c, Ty::Bool, &mut inner)?)),
                    None => None,
                };
                let none = match args.get(min + 1) {
                    Some(m) => Some(literal_text(cx, m, "the refusal's wording")?.into()),
                    None => None,
                };
                (
                    Expr::Aggregate {
                        agg,
                        group: g,
                        of,
                        filter,
                        none,
                    },
                    Ty::Number,
                )
            }
            other => {
                cx.err_at(
                    at,
                    format!("unknown function `{other}`; functions are {FUNCTIONS}"),
                );
                return None;
            }
        };
        Some((expr, ty, group))
    }
}

/// Merges an expression's group scope with a part's; two different groups are an error.
fn merge_at(
    cx: &mut Cx<'_>,
    at: usize,
    group: &mut Option<GroupId>,
    other: Option<GroupId>,
) -> bool {
    match (*group, other) {
        (Some(a), Some(b)) if a != b => {
            cx.err_at(
                at,
                "this mixes member fields of two field groups; aggregate each group on its own",
            );
            false
        }
        (None, Some(b)) => {
            *group = Some(b);
            true
        }
        _ => true,
    }
}

fn merge(
    cx: &mut Cx<'_>,
    at: &Spanned<String>,
    group: &mut Option<GroupId>,
    other: Option<GroupId>,
) -> bool {
    let offset = at.span().start;
    merge_at(cx, offset, group, other)
}

/// A rounding rule from the plan file.
impl Cx<'_> {
    pub(super) fn rule(&mut self, r: &RawRule) -> Option<Rounding> {
        self.rule_of(&r.mode, &r.step)
    }
}
