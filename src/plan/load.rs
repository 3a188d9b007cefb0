//! Loading: a plan folder -> a validated, indexed [`Plan`].
//!
//! Everything is checked once, up front, and every problem is collected (not just the
//! first), each located by file, line and column: unknown inputs or tables, bad decimals,
//! duplicate keys, overlapping or missing bands, rounding rules that make no sense.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::civil::Date;
use rust_decimal::Decimal;
use toml::Spanned;

use super::compile::Names;
use super::raw::{RawPlan, RawStep, RawWhen};
use super::{
    Body, Calc, CalcStep, CmpOp, CommissionDef, Cond, CondValue, GroupDef, InputDef, InputId,
    InputType, Operand, Outputs, Plan, PlanError, PlanErrors, PlanSet, Proration, Recipient, Ref,
    Step, Technical, Ty,
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
    let set = PlanSet::new(plans);
    super::select::check_ambiguity(&set, |p| dir.join(p.id()).join(PLAN_FILE))?;
    Ok(set)
}

fn one(file: &Path, message: String) -> PlanErrors {
    PlanErrors(vec![PlanError {
        file: file.to_path_buf(),
        line: 0,
        column: 0,
        message,
    }])
}

/// Where a plan's files come from: a folder on disk, or a bundle unpacked in memory.
pub trait PlanFiles {
    /// The bytes of the file at `rel` (a path relative to the plan folder, such as
    /// `plan.toml` or `tables/base_rate.csv`).
    fn read(&self, rel: &Path) -> std::io::Result<std::borrow::Cow<'_, [u8]>>;
}

/// A plan folder on disk.
pub struct FolderFiles<'a>(pub &'a Path);

impl PlanFiles for FolderFiles<'_> {
    fn read(&self, rel: &Path) -> std::io::Result<std::borrow::Cow<'_, [u8]>> {
        std::fs::read(self.0.join(rel)).map(std::borrow::Cow::Owned)
    }
}

/// Loads and validates one plan folder.
pub fn load_plan(dir: &Path) -> Result<Plan, PlanErrors> {
    load_plan_from(dir, &FolderFiles(dir))
}

/// Loads and validates one plan whose files `files` gives; `dir` names the plan folder (its
/// last component is the plan id) and prefixes the files in error messages.
pub fn load_plan_from(dir: &Path, files: &dyn PlanFiles) -> Result<Plan, PlanErrors> {
    let file = dir.join(PLAN_FILE);
    let bytes = files
        .read(Path::new(PLAN_FILE))
        .map_err(|e| one(&file, format!("cannot read: {e}")))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| one(&file, format!("cannot read: not UTF-8 ({e})")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut cx = Cx {
        dir,
        files,
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
pub(super) struct Cx<'a> {
    pub(super) dir: &'a Path,
    pub(super) files: &'a dyn PlanFiles,
    file: &'a Path,
    text: &'a str,
    pub(super) errors: Vec<PlanError>,
}

impl Cx<'_> {
    /// Reports a problem at a byte offset of the plan file.
    pub(super) fn err_at(&mut self, offset: usize, message: impl Into<String>) {
        let (line, column) = self.line_col(offset);
        self.errors.push(PlanError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        });
    }

    /// The byte offset of a TOML string's first character (after its opening quotes), so an
    /// error inside an expression points at the character itself. Escapes inside a basic
    /// string shift later columns; expressions rarely have any.
    pub(super) fn content_start(&self, s: &Spanned<String>) -> usize {
        let start = s.span().start;
        let rest = &self.text[start.min(self.text.len())..];
        if rest.starts_with("\"\"\"") || rest.starts_with("'''") {
            let after = start + 3;
            let nl = self.text[after..].starts_with('\n') as usize;
            after + nl
        } else {
            start + 1
        }
    }

    /// A rounding rule from the plan file; a bad mode and a bad step are both reported.
    pub(super) fn rule_of(
        &mut self,
        mode: &Spanned<String>,
        step: &Spanned<String>,
    ) -> Option<Rounding> {
        let m = match self.rounding_of(mode.get_ref(), Decimal::ONE) {
            Ok(r) => Some(r.mode),
            Err(message) => {
                self.err(mode, message);
                None
            }
        };
        let s = self.decimal(step, "rounding step")?;
        if let Err(message) = self.rounding_of("half-up", s) {
            self.err(step, message);
            return None;
        }
        Some(Rounding { mode: m?, step: s })
    }

    /// A rounding rule from a mode's name and a step.
    pub(super) fn rounding_of(&self, mode: &str, step: Decimal) -> Result<Rounding, String> {
        let mode = match mode {
            "half-up" => RoundingMode::HalfUp,
            "half-even" => RoundingMode::HalfEven,
            "up" => RoundingMode::Up,
            "down" => RoundingMode::Down,
            other => {
                return Err(format!(
                    "rounding mode {other:?} is not one of half-up, half-even, up, down"
                ));
            }
        };
        if step <= Decimal::ZERO {
            return Err(format!(
                "rounding step must be positive (0.01 for cents, 1 for whole units, 0.05 for nickels), got {step}"
            ));
        }
        Ok(Rounding { mode, step })
    }

    fn line_col(&self, offset: usize) -> (usize, usize) {
        let before = &self.text[..offset.min(self.text.len())];
        let line = before.matches('\n').count() + 1;
        let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
        (line, column)
    }

    pub(super) fn err<T>(&mut self, at: &Spanned<T>, message: impl Into<String>) {
        let (line, column) = self.line_col(at.span().start);
        self.errors.push(PlanError {
            file: self.file.to_path_buf(),
            line,
            column,
            message: message.into(),
        });
    }

    pub(super) fn decimal(&mut self, s: &Spanned<String>, what: &str) -> Option<Decimal> {
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
        let (inputs, groups) = self.inputs(&raw);
        let input_ids: BTreeMap<&str, InputId> = inputs
            .iter()
            .enumerate()
            .map(|(i, d)| (&*d.name, i))
            .collect();
        let mut names = Names::new(self, &raw, &inputs);
        let technical = self.technical(&raw);
        let mut perils = Vec::new();
        let mut fallback = None;
        for (name, peril) in &raw.perils {
            let calc = self.peril_calc(
                &mut names,
                &inputs,
                &input_ids,
                name,
                peril.steps.as_deref(),
                peril.premium.as_ref(),
                "premium",
            );
            let tech = match (&technical, &peril.technical_steps, &peril.technical) {
                (Some(Technical::Calc), steps, expr) if steps.is_some() != expr.is_some() => self
                    .peril_calc(
                        &mut names,
                        &inputs,
                        &input_ids,
                        name,
                        steps.as_deref(),
                        expr.as_ref(),
                        "technical premium",
                    )
                    .map(Box::new),
                (Some(Technical::Calc), _, _) => {
                    self.err(
                        name,
                        format!(
                            "peril `{}` needs its technical premium: `technical_steps` or `technical = \"expression\"` (outputs.technical = \"steps\")",
                            name.get_ref()
                        ),
                    );
                    None
                }
                (_, None, None) => None,
                _ => {
                    self.err(name, format!("peril `{}` has a technical premium but outputs.technical is not \"steps\"", name.get_ref()));
                    None
                }
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
        let commissions = self.commissions(&raw, &mut names, rounding.as_ref().map(|r| r.3));
        let (values, tables) = names.finish(self);
        let values: Vec<_> = values
            .into_iter()
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default();
        let (tables, table_refs): (Vec<_>, Vec<_>) =
            match tables.into_iter().collect::<Option<Vec<_>>>() {
                Some(t) => t.into_iter().unzip(),
                None => (Vec::new(), Vec::new()),
            };
        let (_, yearly_rounding, exact_rounding, _, technical_rounding) = rounding?;
        let outputs = Outputs {
            technical,
            exact: raw.outputs.exact_premium,
            commissions,
            yearly_rounding,
            exact_rounding,
            technical_rounding,
        };
        let line = match &raw.plan.line {
            Some(l) if l.get_ref().trim().is_empty() => {
                self.err(
                    l,
                    "line must not be empty (leave it out to use the plan id)",
                );
                id.clone()
            }
            Some(l) => l.get_ref().trim().to_owned(),
            None => id.clone(),
        };
        Some(Plan {
            id: id.into(),
            line: line.into(),
            auto_select: raw.plan.auto_select.unwrap_or(true),
            version: raw.plan.version.get_ref().as_str().into(),
            product: raw.plan.product.get_ref().as_str().into(),
            effective_from: from?,
            effective_to: to,
            inputs,
            tables,
            table_refs,
            values,
            groups,
            perils,
            fallback,
            outputs,
            proration: proration?,
        })
    }

    /// A peril's premium: `steps`, or a `premium` expression (one of them).
    #[allow(clippy::too_many_arguments)]
    fn peril_calc(
        &mut self,
        names: &mut Names<'_>,
        inputs: &[InputDef],
        input_ids: &BTreeMap<&str, InputId>,
        name: &Spanned<String>,
        steps: Option<&[Spanned<RawStep>]>,
        premium: Option<&Spanned<String>>,
        what: &str,
    ) -> Option<Calc> {
        match (steps, premium) {
            (Some(steps), None) => {
                let refs = StepNames {
                    inputs,
                    input_ids,
                    names,
                };
                self.calc(refs, name.get_ref(), steps)
            }
            (None, Some(p)) => {
                let expr = names.compile_top(
                    self,
                    p,
                    Ty::Number,
                    &format!("peril `{}`'s {what}", name.get_ref()),
                )?;
                Some(Calc {
                    body: Body::Expr(expr),
                    uses: Box::new([]),
                    technical: None,
                })
            }
            (Some(_), Some(p)) => {
                self.err(
                    p,
                    format!(
                        "peril `{}`: give `steps` or a `{what}` expression, not both",
                        name.get_ref()
                    ),
                );
                None
            }
            (None, None) => {
                self.err(
                    name,
                    format!(
                        "peril `{}` needs `premium = \"expression\"` or `steps = [...]`",
                        name.get_ref()
                    ),
                );
                None
            }
        }
    }

    fn commissions(
        &mut self,
        raw: &RawPlan,
        names: &mut Names<'_>,
        default: Option<Rounding>,
    ) -> Option<Vec<CommissionDef>> {
        let list = raw.outputs.commissions.as_ref()?;
        let mut out = Vec::new();
        for c in list {
            let recipient = match (&c.recipient, &c.recipient_from) {
                (Some(r), None) => Some(Recipient::Fixed(r.get_ref().as_str().into())),
                (None, Some(from)) => names
                    .compile_top(self, from, Ty::Text, "a commission's recipient")
                    .map(Recipient::Of),
                _ => {
                    self.err(&c.ratio, "a commission names its recipient: `recipient = \"agent\"` or `recipient_from = \"expression\"` (one of them)");
                    None
                }
            };
            let ratio = names.compile_top(self, &c.ratio, Ty::Number, "a commission's ratio");
            let when = match &c.when {
                Some(w) => names
                    .compile_top(self, w, Ty::Bool, "a commission's condition")
                    .map(Some),
                None => Some(None),
            };
            let exact = match c.amount.as_ref().map(|a| a.get_ref().as_str()) {
                None | Some("yearly") => Some(false),
                Some("exact") => {
                    if !raw.outputs.exact_premium {
                        self.err(c.amount.as_ref().expect("matched"), "`amount = \"exact\"` needs `exact_premium = true`: it is a share of exactPremium");
                    }
                    Some(true)
                }
                Some(other) => {
                    self.err(c.amount.as_ref().expect("matched"), format!("commission amount {other:?} is not one of yearly (yearlyAmount), exact (exactAmount)"));
                    None
                }
            };
            let rounding = match &c.rounding {
                Some(r) => self.rule(r),
                None => default,
            };
            if let (Some(recipient), Some(ratio), Some(when), Some(exact), Some(rounding)) =
                (recipient, ratio, when, exact, rounding)
            {
                out.push(CommissionDef {
                    recipient,
                    ratio,
                    when,
                    exact,
                    rounding,
                });
            }
        }
        Some(out)
    }

    /// The default rule and each output's: (default, yearly, exact, commission, technical).
    fn rounding(
        &mut self,
        raw: &RawPlan,
    ) -> Option<(Rounding, Rounding, Rounding, Rounding, Rounding)> {
        // Cents, half up: what every rate manual here asks for unless it says otherwise.
        let cents = Rounding {
            mode: RoundingMode::HalfUp,
            step: Decimal::new(1, 2),
        };
        let Some(r) = &raw.rounding else {
            return Some((cents, cents, cents, cents, cents));
        };
        let default = self.rule_of(&r.mode, &r.step);
        let mut each = |rule: &Option<super::raw::RawRule>| match rule {
            Some(rule) => self.rule(rule),
            None => default,
        };
        let yearly = each(&r.yearly);
        let exact = each(&r.exact);
        let commission = each(&r.commission);
        let technical = each(&r.technical);
        Some((default?, yearly?, exact?, commission?, technical?))
    }

    fn method(&mut self, s: &Spanned<String>) -> Option<Method> {
        match s.get_ref().as_str() {
            "months" => Some(Method::Months),
            "whole-days" => Some(Method::WholeDays),
            "calendar-days" => Some(Method::CalendarDays),
            other => {
                self.err(
                    s,
                    format!(
                        "proration method {other:?} is not one of months, whole-days, calendar-days"
                    ),
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

    fn inputs(&mut self, raw: &RawPlan) -> (Vec<InputDef>, Vec<GroupDef>) {
        let mut out = Vec::new();
        let mut groups: Vec<GroupDef> = Vec::new();
        for (name, input) in &raw.inputs {
            let ty = match input.ty.get_ref().as_str() {
                "decimal" => InputType::Decimal,
                "integer" => InputType::Integer,
                "text" => InputType::Text,
                "date" => InputType::Date,
                other => {
                    self.err(
                        &input.ty,
                        format!("input type {other:?} is not one of decimal, integer, text, date"),
                    );
                    continue;
                }
            };
            let level = match &input.level {
                None => None,
                Some(level) => match level.get_ref().as_str() {
                    "policy" => Some(Level::Policy),
                    "exposure" => Some(Level::Exposure),
                    "peril" => Some(Level::Peril),
                    other => {
                        self.err(
                            level,
                            format!("level {other:?} is not one of policy, exposure, peril"),
                        );
                        continue;
                    }
                },
            };
            let field = input
                .field
                .as_ref()
                .map_or(name.get_ref().as_str(), |f| f.get_ref().as_str());
            let mut group_id = None;
            let source = match (level, &input.builtin, &input.group) {
                (level, None, Some(group)) => {
                    // A member field: the group field sits on the policy unless `level` says.
                    let level = level.unwrap_or(Level::Policy);
                    if level == Level::Peril {
                        self.err(
                            group,
                            "field groups are read from policy or exposure characteristics, not perils",
                        );
                        continue;
                    }
                    let g = match groups.iter().position(|g| *g.name == **group.get_ref()) {
                        Some(g) if groups[g].level != level => {
                            self.err(
                                group,
                                format!(
                                    "field group `{}` is read at two levels ({} and {})",
                                    group.get_ref(),
                                    groups[g].level.as_str(),
                                    level.as_str()
                                ),
                            );
                            continue;
                        }
                        Some(g) => g,
                        None => {
                            groups.push(GroupDef {
                                name: group.get_ref().as_str().into(),
                                level,
                            });
                            groups.len() - 1
                        }
                    };
                    group_id = Some(g);
                    Source::Member {
                        level,
                        group: group.get_ref().as_str().into(),
                        name: field.into(),
                    }
                }
                (Some(level), None, None) => Source::Field {
                    level,
                    name: field.into(),
                },
                (None, Some(b), None) => {
                    if let Some(f) = &input.field {
                        self.err(f, "a builtin input has no `field`");
                    }
                    match Builtin::parse(b.get_ref()) {
                        Some(builtin) => {
                            let timestamp = matches!(
                                builtin,
                                Builtin::CoverageStart
                                    | Builtin::CoverageEnd
                                    | Builtin::PolicyStart
                                    | Builtin::PolicyEnd
                            );
                            if builtin == Builtin::RatingDate && ty != InputType::Date {
                                self.err(
                                    &input.ty,
                                    "the builtin `ratingDate` is a date: `type = \"date\"`",
                                );
                                continue;
                            }
                            if ty == InputType::Date && !timestamp && builtin != Builtin::RatingDate
                            {
                                self.err(&input.ty, format!("builtin `{}` is not a timestamp; only timestamps and `ratingDate` are read as dates", b.get_ref()));
                                continue;
                            }
                            Source::Builtin(builtin)
                        }
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
                (_, Some(b), _) => {
                    self.err(
                        b,
                        format!(
                            "input `{}` has `builtin` and also `level` or `group`: give one",
                            name.get_ref()
                        ),
                    );
                    continue;
                }
                (None, None, None) => {
                    self.err(
                        name,
                        format!(
                            "input `{}` needs `level` (policy, exposure, peril), `group` (a field group's member field) or `builtin`",
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
                group: group_id,
            });
        }
        (out, groups)
    }

    fn calc(
        &mut self,
        mut names: StepNames<'_, '_>,
        peril: &str,
        steps: &[Spanned<RawStep>],
    ) -> Option<Calc> {
        let names = &mut names;
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
            body: Body::Steps(out),
            uses: uses.into_boxed_slice(),
            technical: None,
        })
    }

    fn step(
        &mut self,
        names: &mut StepNames<'_, '_>,
        step: &Spanned<RawStep>,
        uses: &mut Vec<InputId>,
    ) -> Option<CalcStep> {
        let s = step.get_ref();
        let when = match &s.when {
            Some(w) => Some(self.when(names, w, uses)?),
            None => None,
        };
        let op = s.op.get_ref().as_str();
        let times = (&s.times, &s.times_input, &s.times_table);
        let step_kind = match op {
            "base" | "add" => {
                let a = self.operand(names, step, (&s.value, &s.input, &s.table), uses, true)??;
                let b = self.operand(names, step, times, uses, false)?;
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
                let Some(factor) = self.operand(names, step, times, uses, false)? else {
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
        names: &mut StepNames<'_, '_>,
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
            let Some(&id) = names.names.tables_by_name.get(t.get_ref().as_str()) else {
                let known: Vec<&str> = names
                    .names
                    .tables_by_name
                    .keys()
                    .map(String::as_str)
                    .collect();
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
            // A table whose own errors are reported adds no second error here.
            let (_, group) = names.names.info(self, Ref::Table(id))?;
            if group.is_some() {
                self.err(t, format!("table `{}` is keyed by a field group's member fields: use it inside max_over(...) in an expression", t.get_ref()));
                return None;
            }
            let refs = names.names.table_refs(id)?;
            uses.extend(refs.keys.iter().filter_map(|k| match k {
                Ref::Input(i) => Some(*i),
                _ => None,
            }));
            if let Some(Ref::Input(i)) = refs.column {
                uses.push(i);
            }
            return Some(Some(Operand::Table(id)));
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

    fn input_id(
        &mut self,
        names: &mut StepNames<'_, '_>,
        name: &Spanned<String>,
    ) -> Option<InputId> {
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
        names: &mut StepNames<'_, '_>,
        name: &Spanned<String>,
        uses: &mut Vec<InputId>,
    ) -> Option<InputId> {
        let id = self.input_id(names, name)?;
        if matches!(names.inputs[id].ty, InputType::Text | InputType::Date) {
            self.err(
                name,
                format!(
                    "input `{}` is {}; arithmetic needs a decimal or integer input",
                    name.get_ref(),
                    names.inputs[id].ty.ty().as_str()
                ),
            );
            return None;
        }
        if names.inputs[id].group.is_some() {
            self.err(name, format!("input `{}` is a field group's member field: steps read one value per characteristic; use an expression with max_over(...)", name.get_ref()));
            return None;
        }
        uses.push(id);
        Some(id)
    }

    fn when(
        &mut self,
        names: &mut StepNames<'_, '_>,
        w: &RawWhen,
        uses: &mut Vec<InputId>,
    ) -> Option<Cond> {
        let id = self.input_id(names, &w.input)?;
        if names.inputs[id].group.is_some() || names.inputs[id].ty == InputType::Date {
            self.err(&w.input, format!("input `{}` cannot be tested in a step's `when` (a member field or a date): use an expression", w.input.get_ref()));
            return None;
        }
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

/// What steps need to resolve names: the inputs, and the plan's other names.
struct StepNames<'n, 'r> {
    inputs: &'n [InputDef],
    input_ids: &'n BTreeMap<&'n str, InputId>,
    names: &'n mut Names<'r>,
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
        InputType::Date => raw.parse::<Date>().ok().map(crate::engine::Value::Date),
    }
}
