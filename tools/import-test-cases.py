#!/usr/bin/env python3
"""Builds the bundled plans' test cases (rating-tables/<plan>/tests/NNN.{request,expected}.json)
from answers computed outside the rater, never from the rater's own output:

- socotra-reference and personal-auto: Socotra's reference answers in the shared fixtures
  (rating-variants/NNN.request.json with NNN.reference.json / NNN.personal-auto.json, and the
  two rating-ec request/response pairs as 020 and 021). Numbers are kept as written (parsed
  as text, not floats); keys other than the four answer amounts (e.g. `years`) are dropped;
  commissions take the new shape {"recipient", "yearlyAmount"}; an {"error": ...} answer
  becomes an error case.
- homeowners: tests/golden/homeowners (hand-computed, with their "why" notes).

Where Socotra's binary floating point lands on the other side of a half cent, exact decimal
arithmetic is right: FLOAT_FIXES recomputes those amounts with Python's decimal module (and
checks the reference's number is the float one) and says why in the case's "why" note.

Usage: tools/import-test-cases.py [FIXTURES]   (default ../shared/socotra/fixtures)
"""
import json
import shutil
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT.parent / "shared/socotra/fixtures")
AMOUNTS = ("yearlyPremium", "exactPremium", "yearlyTechnicalPremium")
CENT = Decimal("0.01")


def cents(x):
    return (x).quantize(CENT, rounding=ROUND_HALF_UP)


def fix_014():
    # bodily_injury: vehicle_value 10250 x 0.0259 x factor 1, over a full year.
    yearly = cents(Decimal(10250) * Decimal("0.0259"))
    assert Decimal(10250) * Decimal("0.0259") == Decimal("265.475")
    return {
        "08ba9bd9-7e31-8ad6-3a0e-a6e15ec69be3": {
            "yearlyPremium": (str(yearly), "265.47"),
            "exactPremium": (str(yearly), "265.47"),
        }
    }, (
        "Socotra's myrater.py answers 265.47 for 08ba9bd9 (bodily_injury): 10250 x 0.0259 is "
        "265.475 exactly, a half-cent tie, but in binary floating point 265.47499999999997, so "
        "round() goes down. Exact decimal arithmetic rounds the tie half up: 265.48, and the "
        "full-year exactPremium is the same."
    )


def fix_016():
    exact_product = Decimal(78250) * Decimal("0.0259")
    assert exact_product == Decimal("2026.675")
    yearly = cents(exact_product)
    # The period (its `years`, 0.8392697...) is not near a half cent here: 2026.68 x years =
    # 1700.931..., so the float years value is precise enough to round correctly.
    years = Decimal("0.8392697132616487")
    exact = cents(yearly * years)
    return {
        "468fb596-ec9a-360c-5105-122ab0882411": {
            "yearlyPremium": (str(yearly), "2026.67"),
            "exactPremium": (str(exact), "1700.92"),
        }
    }, (
        "Socotra's myrater.py answers 2026.67 for 468fb596 (bodily_injury): 78250 x 0.0259 is "
        "2026.675 exactly, a half-cent tie, but in binary floating point 2026.6749999999997, so "
        "round() goes down. Exact decimal arithmetic: 2026.68; prorated over 0.83927 years = "
        "1700.931... -> 1700.93 (Socotra: 2026.67 x 0.83927 -> 1700.92)."
    )


def exact_by_hand(months, period):
    """Socotra's rating-ec personal-auto answers carry yearlyPremium only (that myrater.py
    version answered no exactPremium), but the plan answers it. Computed by hand here with
    exact fractions, by Socotra's month count from the policy's anchor (monthCount / 12: whole
    months on the anchor's grid plus the fraction of the grid month a partial month covers)."""
    def fix():
        from fractions import Fraction
        def changes(out):
            res = {}
            for loc, p in out.items():
                yearly = Fraction(Decimal(p["yearlyPremium"]))
                x = yearly * months / 12
                res[loc] = {"exactPremium": (str(cents(Decimal(x.numerator) / Decimal(x.denominator))), None)}
            return res
        return changes, (
            f"exactPremium is not in Socotra's answer (its rater answered yearlyPremium only); "
            f"computed by hand: {period}; exactPremium = yearlyPremium x months / 12, rounded "
            f"half up to cents. Socotra's socotra-reference answer for the same request "
            f"(1.25 x months / 12) agrees with this period."
        )
    return fix


from fractions import Fraction as _F

FLOAT_FIXES = {
    ("personal-auto", "014"): fix_014,
    ("personal-auto", "016"): fix_016,
    # Anchor 2022-04-15 00:00 America/Los_Angeles; coverage ends 2025-01-01 00:00 PST.
    ("personal-auto", "020"): exact_by_hand(
        32 + _F(17, 31),
        "coverage 2022-04-15 -> 2025-01-01 (Los Angeles) = 32 whole months to 2024-12-15, "
        "then 17 of the 31 days of the grid month to 2025-01-15: 32 + 17/31 months",
    ),
    ("personal-auto", "021"): exact_by_hand(
        _F(9 * 86400 + 4 * 3600 + 4 * 60 + 57, 30 * 86400) + 31 + _F(17, 31),
        "coverage 2022-05-05 19:55:03 PDT -> 2025-01-01 (Los Angeles), anchor 2022-04-15: "
        "9 d 4 h 4 min 57 s of the 30-day grid month to 2022-05-15, 31 whole months to "
        "2024-12-15, then 17/31: 31.85406 months",
    ),
}


def expected_from(answer_file, plan, case):
    raw = json.loads(answer_file.read_text(), parse_float=str, parse_int=str)
    src = f"{answer_file.parent.name}/{answer_file.name}"
    if "error" in raw:
        return {"why": f"Socotra's answer ({src}) is an error", "error": raw["error"]}
    out = {"why": f"Socotra's answer: {src}", "pricedPerilCharacteristics": {}}
    for loc, peril in raw["pricedPerilCharacteristics"].items():
        e = {k: str(peril[k]) for k in AMOUNTS if k in peril}
        if "commissions" in peril:
            e["commissions"] = [
                {"recipient": c["recipient"],
                 "yearlyAmount": str(c.get("yearlyAmount", c.get("amount")))}
                for c in peril["commissions"]
            ]
        out["pricedPerilCharacteristics"][loc] = e
    fix = FLOAT_FIXES.get((plan, case))
    if fix:
        changes, why = fix()
        if callable(changes):
            changes = changes(out["pricedPerilCharacteristics"])
        for loc, fields in changes.items():
            for field, (ours, socotra) in fields.items():
                got = out["pricedPerilCharacteristics"][loc].get(field)
                assert socotra is None and got is None or Decimal(got) == Decimal(socotra), (
                    plan, case, loc, field, got)
                out["pricedPerilCharacteristics"][loc][field] = ours
        out["why"] = f"Socotra's answer: {src}, corrected: {why}"
    return out


def write(dir_, case, request, expected):
    dir_.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(request, dir_ / f"{case}.request.json")
    (dir_ / f"{case}.expected.json").write_text(json.dumps(expected, indent=1) + "\n")


def main():
    variants = FIXTURES / "rating-variants"
    ec = FIXTURES / "rating-ec"
    plans = {"socotra-reference": "reference", "personal-auto": "personal-auto"}
    for plan, suffix in plans.items():
        tests = ROOT / "rating-tables" / plan / "tests"
        for req in sorted(variants.glob("*.request.json")):
            case = req.name.split(".")[0]
            write(tests, case, req, expected_from(variants / f"{case}.{suffix}.json", plan, case))
        for case, kind in (("020", "newbusiness2"), ("021", "endorsement1")):
            answer = ec / (f"ec-rating-response-{kind}.json" if plan == "socotra-reference"
                           else f"ec-rating-response-{kind}.personal-auto.json")
            write(tests, case, ec / f"ec-rating-request-{kind}.json",
                  expected_from(answer, plan, case))
    golden = ROOT / "tests/golden/homeowners"
    tests = ROOT / "rating-tables/homeowners/tests"
    for i, req in enumerate(sorted(golden.glob("*.request.json")), start=1):
        stem = req.name[: -len(".request.json")]
        exp = json.loads((golden / f"{stem}.expected.json").read_text(), parse_float=str)
        if isinstance(exp.get("error"), dict):
            err = exp["error"]
            exp["error"] = f"{err['code']} (table {err['table']})" if "table" in err else err["code"]
        for peril in exp.get("pricedPerilCharacteristics", {}).values():
            for c in peril.get("commissions", []):
                if "amount" in c:
                    c["yearlyAmount"] = c.pop("amount")
        exp["why"] = f"{stem}: {exp.get('why', '')}"
        write(tests, f"{i:03}", req, exp)


if __name__ == "__main__":
    main()
