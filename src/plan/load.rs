//! Loading: a plan folder -> a validated, indexed [`Plan`].
//!
//! Everything is checked once, up front, and every problem is collected (not just the
//! first), each located by file, line and column: unknown inputs or tables, bad decimals,
//! duplicate keys, overlapping or missing bands, rounding rules that make no sense.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::civil::Date;
use rust_decimal::Decimal;
use toml::Spanned;

use super::raw::{RawKey, RawPlan, RawStep, RawWhen};
use super::table::{KeyDecl, KeyKind, load_table};
use super::{
    Calc, CalcStep, CmpOp, CommissionDef, Cond, CondValue, InputDef, InputId, InputType, Operand,
    Outputs, Plan, PlanError, PlanErrors, PlanSet, Proration, Step, TableId, Technical,
};
use crate::engine::{Builtin, Level, Method, Rounding, RoundingMode, Source};

/// The plan file's name inside a plan folder.
pub const PLAN_FILE: &str = "plan.toml";

/// Loads every plan folder (a sub-folder with a `plan.toml`) of `dir`, or `dir` itself when
/// it is a plan folder. Stops at the first bad plan and returns all of its errors.
pub fn load_dir(dir: &Path) -> Result<PlanSet, PlanErrors> {
    if dir.join(PLAN_FILE).is_file() {
        return Ok(PlanSet::new(vec![Arc::new(load_plan(dir)?)]));
    }
    let entries = std::fs::read_dir(dir)
        .map_err(|e| one(dir, format!("cannot read the plans folder: {e}")))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.join(PLAN_FILE).is_file())
        .collect();
    dirs.sort();
    if dirs.is_empty() {
        return Err(one(
            dir,
            format!("no plan folders (sub-folders with a {PLAN_FILE}) here"),
        ));
    }
    let mut plans = Vec::with_capacity(dirs.len());
    for d in dirs {
        plans.push(Arc::new(load_plan(&d)?));
    }
    Ok(PlanSet::new(plans))
}

fn one(file: &Path, message: String) -> PlanErrors {
    PlanErrors(vec![PlanError {
        file: file.to_path_buf(),
        line: 0,
        column: 0,
        message,
    }])
}

/// Loads and validates one plan folder.
pub fn load_plan(dir: &Path) -> Result<Plan, PlanErrors> {
    let file = dir.join(PLAN_FILE);
    let text =
        std::fs::read_to_string(&file).map_err(|e| one(&file, format!("cannot read: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let mut cx = Cx {
        dir,
        file: &file,
        text,
        errors: Vec::new(),
    };
    let raw: RawPlan = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let (line, column) = e.span().map_or((0, 0), |s| cx.line_col(s.start));
            return Err(PlanErrors(vec![PlanError {
                file,
                line,
                column,
                message: e.message().trim().to_owned(),
            }]));
        }
    };
    let plan = cx.plan(raw);
    match plan {
        Some(plan) if cx.errors.is_empty() => Ok(plan),
        _ => Err(PlanErrors(cx.errors)),
    }
}

/// Validation context: where we are and what went wrong so far.
struct Cx<'a> {
    dir: &'a Path,
    file: &'a Path,
    text: &'a str,
    errors: Vec<PlanError>,
}

impl Cx<'_> {
    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    fn err<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        let (line, column) = self.line_col(at.span().start);
        self.errors.push(PlanError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        });
    }

    fn decimal(&mut self, s: &Spanned<String>, what: &str) -> Option<Decimal> {
        match Decimal::from_str_exact(s.get_ref().trim()) {
            Ok(d) => Some(d),
            Err(_) => {
                self.err(
                    s,
                    format!(
                        "{what} must be a decimal number such as \"0.021\", got {:?}",
                        s.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn date(&mut self, s: &Spanned<String>, what: &str) -> Option<Date> {
        match s.get_ref().parse::<Date>() {
            Ok(d) => Some(d),
            Err(_) => {
                self.err(
                    s,
                    format!("{what} must be a date YYYY-MM-DD, got {:?}", s.get_ref()),
                );
                None
            }
        }
    }

    fn plan(&mut self, raw: RawPlan) -> Option<Plan> {
        let folder = self
            .dir
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or("")
            .to_owned();
        let id = match &raw.plan.id {
            Some(id) if *id.get_ref() != folder => {
                self.err(
                    id,
                    format!(
                        "plan id {:?} must equal its folder name {folder:?}",
                        id.get_ref()
                    ),
                );
                id.get_ref().clone()
            }
            Some(id) => id.get_ref().clone(),
            None => folder,
        };
        if raw.plan.version.get_ref().trim().is_empty() {
            self.err(&raw.plan.version, "version must not be empty");
        }
        if raw.plan.product.get_ref().trim().is_empty() {
            self.err(&raw.plan.product, "product must not be empty");
        }
        let from = self.date(&raw.plan.effective_from, "effective_from");
        let to = raw
            .plan
            .effective_to
            .as_ref()
            .and_then(|t| self.date(t, "effective_to"));
        if let (Some(f), Some(t), Some(at)) = (from, to, &raw.plan.effective_to)
            && t <= f
        {
            self.err(
                at,
                format!("effective_to {t} must be after effective_from {f}"),
            );
        }
        let rounding = self.rounding(&raw);
        let proration = self.proration(&raw);
        let inputs = self.inputs(&raw);
        let input_ids: BTreeMap<&str, InputId> = inputs
            .iter()
            .enumerate()
            .map(|(i, d)| (&*d.name, i))
            .collect();
        let (tables, table_ids, failed_tables) = self.tables(&raw, &inputs, &input_ids);
        let names = Names {
            inputs: &inputs,
            input_ids: &input_ids,
            table_ids: &table_ids,
            failed_tables: &failed_tables,
        };
        let technical = self.technical(&raw);
        let mut perils = Vec::new();
        let mut fallback = None;
        for (name, peril) in &raw.perils {
            let calc = self.calc(&names, name.get_ref(), &peril.steps);
            let tech = match (&technical, &peril.technical_steps) {
                (Some(Technical::Calc), Some(steps)) => {
                    self.calc(&names, name.get_ref(), steps).map(Box::new)
                }
                (Some(Technical::Calc), None) => {
                    self.err(
                        name,
                        format!(
                            "peril `{}` needs `technical_steps`: outputs.technical = \"steps\"",
                            name.get_ref()
                        ),
                    );
                    None
                }
                (_, Some(_)) => {
                    self.err(name, format!("peril `{}` has `technical_steps` but outputs.technical is not \"steps\"", name.get_ref()));
                    None
                }
                (_, None) => None,
            };
            if let Some(mut calc) = calc {
                calc.technical = tech;
                if name.get_ref() == "*" {
                    fallback = Some(calc);
                } else {
                    perils.push((name.get_ref().as_str().into(), calc));
                }
            }
        }
        if raw.perils.is_empty() {
            self.errors.push(PlanError {
                file: self.file.to_path_buf(),
                line: 0,
                column: 0,
                message: "the plan prices no perils: add a [perils.NAME] section (or [perils.\"*\"] for all)".into(),
            });
        }
        let commissions = raw.outputs.commissions.as_ref().map(|list| {
            list.iter()
                .filter_map(|c| {
                    let ratio = self.decimal(&c.ratio, "commission ratio")?;
                    Some(CommissionDef {
                        recipient: c.recipient.get_ref().as_str().into(),
                        ratio,
                    })
                })
                .collect()
        });
        let outputs = Outputs {
            technical,
            exact: raw.outputs.exact_premium,
            commissions,
        };
        Some(Plan {
            id: id.into(),
            version: raw.plan.version.get_ref().as_str().into(),
            product: raw.plan.product.get_ref().as_str().into(),
            effective_from: from?,
            effective_to: to,
            inputs,
            tables,
            perils,
            fallback,
            rounding: rounding?,
            outputs,
            proration: proration?,
        })
    }

    fn rounding(&mut self, raw: &RawPlan) -> Option<Rounding> {
        let mode = match raw.rounding.mode.get_ref().as_str() {
            "half-up" => Some(RoundingMode::HalfUp),
            "half-even" => Some(RoundingMode::HalfEven),
            "up" => Some(RoundingMode::Up),
            "down" => Some(RoundingMode::Down),
            other => {
                self.err(
                    &raw.rounding.mode,
                    format!("rounding mode {other:?} is not one of half-up, half-even, up, down"),
                );
                None
            }
        };
        let step = self.decimal(&raw.rounding.step, "rounding step");
        if let Some(s) = step
            && s <= Decimal::ZERO
        {
            self.err(&raw.rounding.step, format!("rounding step must be positive (0.01 for cents, 1 for whole units, 0.05 for nickels), got {s}"));
            return None;
        }
        Some(Rounding {
            mode: mode?,
            step: step?,
        })
    }

    fn method(&mut self, s: &Spanned<String>) -> Option<Method> {
        match s.get_ref().as_str() {
            "months" => Some(Method::Months),
            "whole-days" => Some(Method::WholeDays),
            other => {
                self.err(
                    s,
                    format!("proration method {other:?} is not one of months, whole-days"),
                );
                None
            }
        }
    }

    fn proration(&mut self, raw: &RawPlan) -> Option<Proration> {
        let Some(p) = &raw.proration else {
            return Some(Proration {
                method: Method::Months,
                by_schedule: Vec::new(),
            });
        };
        let method = self.method(&p.method);
        let by_schedule = p
            .by_schedule
            .iter()
            .filter_map(|(name, m)| Some((name.as_str().into(), self.method(m)?)))
            .collect();
        Some(Proration {
            method: method?,
            by_schedule,
        })
    }

    fn technical(&mut self, raw: &RawPlan) -> Option<Technical> {
        match (&raw.outputs.technical_ratio, &raw.outputs.technical) {
            (Some(r), None) => self.decimal(r, "technical_ratio").map(Technical::Ratio),
            (None, Some(t)) if t.get_ref() == "steps" => Some(Technical::Calc),
            (None, Some(t)) => {
                self.err(
                    t,
                    format!(
                        "outputs.technical must be \"steps\" (or use technical_ratio), got {:?}",
                        t.get_ref()
                    ),
                );
                None
            }
            (Some(r), Some(_)) => {
                self.err(
                    r,
                    "give either technical_ratio or technical = \"steps\", not both",
                );
                None
            }
            (None, None) => None,
        }
    }

    fn inputs(&mut self, raw: &RawPlan) -> Vec<InputDef> {
        let mut out = Vec::new();
        for (name, input) in &raw.inputs {
            let ty = match input.ty.get_ref().as_str() {
                "decimal" => InputType::Decimal,
                "integer" => InputType::Integer,
                "text" => InputType::Text,
                other => {
                    self.err(
                        &input.ty,
                        format!("input type {other:?} is not one of decimal, integer, text"),
                    );
                    continue;
                }
            };
            let source = match (&input.level, &input.builtin) {
                (Some(level), None) => {
                    let level = match level.get_ref().as_str() {
                        "policy" => Level::Policy,
                        "exposure" => Level::Exposure,
                        "peril" => Level::Peril,
                        other => {
                            self.err(
                                level,
                                format!("level {other:?} is not one of policy, exposure, peril"),
                            );
                            continue;
                        }
                    };
                    let field = input
                        .field
                        .as_ref()
                        .map_or(name.get_ref().as_str(), |f| f.get_ref().as_str());
                    Source::Field {
                        level,
                        name: field.into(),
                    }
                }
                (None, Some(b)) => {
                    if let Some(f) = &input.field {
                        self.err(f, "a builtin input has no `field`");
                    }
                    match Builtin::parse(b.get_ref()) {
                        Some(b) => Source::Builtin(b),
                        None => {
                            let all: Vec<&str> = Builtin::ALL.iter().map(|b| b.as_str()).collect();
                            self.err(
                                b,
                                format!(
                                    "unknown builtin {:?}; builtins are {}",
                                    b.get_ref(),
                                    all.join(", ")
                                ),
                            );
                            continue;
                        }
                    }
                }
                (Some(level), Some(_)) => {
                    self.err(
                        level,
                        format!(
                            "input `{}` has both `level` and `builtin`: give one",
                            name.get_ref()
                        ),
                    );
                    continue;
                }
                (None, None) => {
                    self.err(
                        name,
                        format!(
                            "input `{}` needs `level` (policy, exposure, peril) or `builtin`",
                            name.get_ref()
                        ),
                    );
                    continue;
                }
            };
            if let Some(d) = &input.default
                && parse_value(ty, d.get_ref()).is_none()
            {
                self.err(
                    d,
                    format!("default {:?} is not {}", d.get_ref(), ty.expected()),
                );
            }
            out.push(InputDef {
                name: name.get_ref().as_str().into(),
                source,
                ty,
                required: input.required.unwrap_or(true),
                default: input.default.as_ref().map(|d| d.get_ref().trim().into()),
            });
        }
        out
    }

    fn tables(
        &mut self,
        raw: &RawPlan,
        inputs: &[InputDef],
        input_ids: &BTreeMap<&str, InputId>,
    ) -> (Vec<super::Table>, TableIds, BTreeSet<String>) {
        let mut tables = Vec::new();
        let mut ids = BTreeMap::new();
        // Tables whose own errors are already reported: steps naming them add no second error.
        let mut failed = BTreeSet::new();
        for (name, t) in &raw.tables {
            let mut decls = Vec::new();
            let mut key_inputs = Vec::new();
            let mut ok = true;
            for key in &t.keys {
                match self.key(key, inputs, input_ids) {
                    Some((decl, id)) => {
                        decls.push(decl);
                        key_inputs.push(id);
                    }
                    None => ok = false,
                }
            }
            if t.keys.is_empty() {
                self.err(
                    name,
                    format!("table `{}` needs at least one key", name.get_ref()),
                );
                ok = false;
            }
            let default = match &t.default {
                Some(d) => match self.decimal(d, "table default") {
                    Some(d) => Some(d),
                    None => {
                        ok = false;
                        None
                    }
                },
                None => None,
            };
            let file = t.file.get_ref();
            if file.contains("..") || Path::new(file).is_absolute() {
                self.err(
                    &t.file,
                    format!("table file {file:?} must be a file inside the plan folder"),
                );
                continue;
            }
            if !ok {
                failed.insert(name.get_ref().clone());
                continue;
            }
            match load_table(
                name.get_ref(),
                &self.dir.join(file),
                &decls,
                t.value.get_ref(),
                default,
            ) {
                Ok(table) => {
                    ids.insert(
                        name.get_ref().clone(),
                        (tables.len(), key_inputs.into_boxed_slice()),
                    );
                    tables.push(table);
                }
                Err(errs) => {
                    self.errors.extend(errs);
                    failed.insert(name.get_ref().clone());
                }
            }
        }
        (tables, ids, failed)
    }

    fn key<'k>(
        &mut self,
        key: &'k RawKey,
        inputs: &[InputDef],
        input_ids: &BTreeMap<&str, InputId>,
    ) -> Option<(KeyDecl<'k>, InputId)> {
        let Some(&id) = input_ids.get(key.input.get_ref().as_str()) else {
            self.err(
                &key.input,
                format!("table key names unknown input `{}`", key.input.get_ref()),
            );
            return None;
        };
        let numeric = inputs[id].ty != InputType::Text;
        match (&key.column, &key.from, &key.to) {
            (Some(c), None, None) => Some((
                KeyDecl {
                    kind: if numeric {
                        KeyKind::Number
                    } else {
                        KeyKind::Text
                    },
                    column: c.get_ref(),
                    to: None,
                },
                id,
            )),
            (None, Some(f), Some(t)) => {
                if !numeric {
                    self.err(
                        &key.input,
                        format!(
                            "band key input `{}` must be decimal or integer, not text",
                            key.input.get_ref()
                        ),
                    );
                    return None;
                }
                Some((
                    KeyDecl {
                        kind: KeyKind::Band,
                        column: f.get_ref(),
                        to: Some(t.get_ref()),
                    },
                    id,
                ))
            }
            _ => {
                self.err(
                    &key.input,
                    "a table key is either `column = \"...\"` (exact) or `from` and `to` (a band)",
                );
                None
            }
        }
    }

    fn calc(&mut self, names: &Names<'_>, peril: &str, steps: &[Spanned<RawStep>]) -> Option<Calc> {
        let mut out = Vec::new();
        let mut uses = Vec::new();
        let mut ok = true;
        for (i, step) in steps.iter().enumerate() {
            match self.step(names, step, &mut uses) {
                Some(mut s) => {
                    if s.label.is_empty() {
                        s.label =
                            format!("step {} ({})", i + 1, step.get_ref().op.get_ref()).into();
                    }
                    out.push(s);
                }
                None => ok = false,
            }
        }
        if steps.is_empty() {
            self.errors.push(PlanError {
                file: self.file.to_path_buf(),
                line: 0,
                column: 0,
                message: format!("peril `{peril}` has no steps"),
            });
            return None;
        }
        match steps.first().map(|s| s.get_ref().op.get_ref().as_str()) {
            Some("base") => {}
            _ => {
                self.err(
                    &steps[0],
                    format!("peril `{peril}`: the first step must be `op = \"base\"`"),
                );
                ok = false;
            }
        }
        uses.sort_unstable();
        uses.dedup();
        ok.then(|| Calc {
            steps: out,
            uses: uses.into_boxed_slice(),
            technical: None,
        })
    }

    fn step(
        &mut self,
        names: &Names<'_>,
        step: &Spanned<RawStep>,
        uses: &mut Vec<InputId>,
    ) -> Option<CalcStep> {
        let s = step.get_ref();
        let when = match &s.when {
            Some(w) => Some(self.when(names, w, uses)?),
            None => None,
        };
        let op = s.op.get_ref().as_str();
        let second = |cx: &mut Self, uses: &mut Vec<InputId>| -> Option<Option<Operand>> {
            cx.operand(
                names,
                step,
                (&s.times, &s.times_input, &s.times_table),
                uses,
                false,
            )
        };
        let step_kind = match op {
            "base" | "add" => {
                let a = self.operand(names, step, (&s.value, &s.input, &s.table), uses, true)??;
                let b = second(self, uses)?;
                if op == "base" {
                    Step::Base(a, b)
                } else {
                    Step::Add(a, b)
                }
            }
            "factor" | "minimum" | "maximum" => {
                let a = self.operand(names, step, (&s.value, &s.input, &s.table), uses, true)??;
                if s.times.is_some() || s.times_input.is_some() || s.times_table.is_some() {
                    self.err(
                        step,
                        format!("`{op}` takes one operand; `times` is for base and add"),
                    );
                    return None;
                }
                match op {
                    "factor" => Step::Factor(a),
                    "minimum" => Step::Minimum(a),
                    _ => Step::Maximum(a),
                }
            }
            "add_excess" => {
                let Some(input) = &s.input else {
                    self.err(
                        step,
                        "`add_excess` needs `input`, `over` and a `times` factor",
                    );
                    return None;
                };
                let id = self.numeric_input(names, input, uses)?;
                let Some(over) = &s.over else {
                    self.err(
                        step,
                        "`add_excess` needs `over` (the threshold subtracted from the input)",
                    );
                    return None;
                };
                let threshold = self.decimal(over, "over")?;
                if s.value.is_some() || s.table.is_some() {
                    self.err(
                        step,
                        "`add_excess` takes `input`, `over` and `times`, not `value` or `table`",
                    );
                    return None;
                }
                let Some(factor) = second(self, uses)? else {
                    self.err(
                        step,
                        "`add_excess` needs a `times` factor (or `times_input`, `times_table`)",
                    );
                    return None;
                };
                Step::AddExcess {
                    input: id,
                    threshold,
                    factor,
                }
            }
            other => {
                self.err(&s.op, format!("unknown op {other:?}; ops are base, factor, add, add_excess, minimum, maximum"));
                return None;
            }
        };
        if op != "add_excess" && s.over.is_some() {
            self.err(step, "`over` only goes with `op = \"add_excess\"`");
            return None;
        }
        Some(CalcStep {
            step: step_kind,
            when,
            label: s.label.clone().unwrap_or_default().into(),
        })
    }

    /// Reads one operand from its three spellings; exactly one must be given when `required`.
    fn operand(
        &mut self,
        names: &Names<'_>,
        step: &Spanned<RawStep>,
        (value, input, table): OperandFields<'_>,
        uses: &mut Vec<InputId>,
        required: bool,
    ) -> Option<Option<Operand>> {
        let given = value.is_some() as u8 + input.is_some() as u8 + table.is_some() as u8;
        if given > 1 {
            self.err(step, "give one operand: a `value`, an `input` or a `table` (or one of times, times_input, times_table)");
            return None;
        }
        if let Some(v) = value {
            return Some(Some(Operand::Const(self.decimal(v, "value")?)));
        }
        if let Some(i) = input {
            return Some(Some(Operand::Input(self.numeric_input(names, i, uses)?)));
        }
        if let Some(t) = table {
            let Some((id, keys)) = names.table_ids.get(t.get_ref().as_str()) else {
                if names.failed_tables.contains(t.get_ref()) {
                    return None;
                }
                let known: Vec<&str> = names.table_ids.keys().map(String::as_str).collect();
                self.err(
                    t,
                    format!(
                        "unknown table `{}`; tables are {}",
                        t.get_ref(),
                        known.join(", ")
                    ),
                );
                return None;
            };
            uses.extend(keys.iter().copied());
            return Some(Some(Operand::Table {
                table: *id,
                keys: keys.clone(),
            }));
        }
        if required {
            self.err(
                step,
                format!(
                    "`{}` needs an operand: `value`, `input` or `table`",
                    step.get_ref().op.get_ref()
                ),
            );
            return None;
        }
        Some(None)
    }

    fn input_id(&mut self, names: &Names<'_>, name: &Spanned<String>) -> Option<InputId> {
        match names.input_ids.get(name.get_ref().as_str()) {
            Some(&id) => Some(id),
            None => {
                let known: Vec<&str> = names.input_ids.keys().copied().collect();
                self.err(
                    name,
                    format!(
                        "unknown input `{}`; inputs are {}",
                        name.get_ref(),
                        known.join(", ")
                    ),
                );
                None
            }
        }
    }

    fn numeric_input(
        &mut self,
        names: &Names<'_>,
        name: &Spanned<String>,
        uses: &mut Vec<InputId>,
    ) -> Option<InputId> {
        let id = self.input_id(names, name)?;
        if names.inputs[id].ty == InputType::Text {
            self.err(
                name,
                format!(
                    "input `{}` is text; arithmetic needs a decimal or integer input",
                    name.get_ref()
                ),
            );
            return None;
        }
        uses.push(id);
        Some(id)
    }

    fn when(&mut self, names: &Names<'_>, w: &RawWhen, uses: &mut Vec<InputId>) -> Option<Cond> {
        let id = self.input_id(names, &w.input)?;
        uses.push(id);
        let ty = names.inputs[id].ty;
        let given = [
            w.equals.is_some(),
            w.not_equals.is_some(),
            w.any_of.is_some(),
            w.not_in.is_some(),
            w.gt.is_some(),
            w.ge.is_some(),
            w.lt.is_some(),
            w.le.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given != 1 {
            self.err(
                &w.input,
                "a condition takes exactly one of equals, not_equals, in, not_in, gt, ge, lt, le",
            );
            return None;
        }
        let values =
            |cx: &mut Self, list: Vec<(&Spanned<String>, String)>| -> Option<Box<[CondValue]>> {
                let mut out = Vec::new();
                for (at, v) in list {
                    match ty {
                        InputType::Text => out.push(CondValue::Text(v.trim().into())),
                        _ => match parse_value(ty, &v) {
                            Some(crate::engine::Value::Number(d)) => out.push(CondValue::Number(d)),
                            _ => {
                                cx.err(
                                    at,
                                    format!(
                                        "{v:?} is not {} like input `{}`",
                                        ty.expected(),
                                        w.input.get_ref()
                                    ),
                                );
                                return None;
                            }
                        },
                    }
                }
                Some(out.into_boxed_slice())
            };
        let list_of = |s: &Spanned<Vec<String>>| -> Vec<(Spanned<String>, String)> {
            s.get_ref()
                .iter()
                .map(|v| (Spanned::new(s.span(), v.clone()), v.clone()))
                .collect()
        };
        if let Some(v) = &w.equals {
            return Some(Cond::In(id, values(self, vec![(v, v.get_ref().clone())])?));
        }
        if let Some(v) = &w.not_equals {
            return Some(Cond::NotIn(
                id,
                values(self, vec![(v, v.get_ref().clone())])?,
            ));
        }
        if let Some(v) = &w.any_of {
            let owned = list_of(v);
            return Some(Cond::In(
                id,
                values(self, owned.iter().map(|(s, v)| (s, v.clone())).collect())?,
            ));
        }
        if let Some(v) = &w.not_in {
            let owned = list_of(v);
            return Some(Cond::NotIn(
                id,
                values(self, owned.iter().map(|(s, v)| (s, v.clone())).collect())?,
            ));
        }
        if ty == InputType::Text {
            self.err(
                &w.input,
                format!(
                    "input `{}` is text: compare it with equals, not_equals, in or not_in",
                    w.input.get_ref()
                ),
            );
            return None;
        }
        let (op, v) = [
            (CmpOp::Gt, &w.gt),
            (CmpOp::Ge, &w.ge),
            (CmpOp::Lt, &w.lt),
            (CmpOp::Le, &w.le),
        ]
        .into_iter()
        .find_map(|(op, v)| v.as_ref().map(|v| (op, v)))?;
        Some(Cond::Cmp(id, op, self.decimal(v, "comparison value")?))
    }
}

/// An operand's three spellings in a step: `value`, `input`, `table` (or their `times_` forms).
type OperandFields<'s> = (
    &'s Option<Spanned<String>>,
    &'s Option<Spanned<String>>,
    &'s Option<Spanned<String>>,
);

/// Table name -> its index and the inputs feeding its keys.
type TableIds = BTreeMap<String, (TableId, Box<[InputId]>)>;

struct Names<'a> {
    inputs: &'a [InputDef],
    input_ids: &'a BTreeMap<&'a str, InputId>,
    table_ids: &'a BTreeMap<String, (TableId, Box<[InputId]>)>,
    failed_tables: &'a BTreeSet<String>,
}

/// Parses a raw value as an input type; `None` when it does not fit.
pub(crate) fn parse_value(ty: InputType, raw: &str) -> Option<crate::engine::Value<'_>> {
    let raw = raw.trim();
    match ty {
        InputType::Text => Some(crate::engine::Value::Text(raw)),
        InputType::Decimal => Decimal::from_str_exact(raw)
            .ok()
            .map(crate::engine::Value::Number),
        InputType::Integer => Decimal::from_str_exact(raw)
            .ok()
            .filter(|d| d.fract().is_zero())
            .map(crate::engine::Value::Number),
    }
}
