"""The scorecard as the seed's checklist in Markdown, as JSON, and as CLI lines.

Every evidence string crosses the untrusted-text boundary here (it quotes services, URLs
and files): escape-free, masked, never markup.
"""

from __future__ import annotations

import json

from actions.readiness.model import SECTIONS, Mark, Scorecard, Verdict
from console.masking import safe_str

SECTION_MARKS = {"Infrastructure Health": "✅", "Security Compliance": "🔒",
                 "Operational Readiness": "📊", "Performance Baselines": "🚀",
                 "Bangladesh ERP Requirements": "🇧🇩"}
BOX = {Mark.PASS: "[x]", Mark.FAIL: "[ ]", Mark.UNKNOWN: "[ ]", Mark.OUT_OF_SCOPE: "[ ]"}
CLI_MARK = {Mark.PASS: "✓", Mark.FAIL: "✗", Mark.UNKNOWN: "?", Mark.OUT_OF_SCOPE: "-"}


def summary(card: Scorecard) -> str:
    return (f"{card.score_text()} · {card.count(Mark.FAIL)} fail · "
            f"{card.count(Mark.UNKNOWN)} unknown")


def _words(v: Verdict) -> str:
    text = safe_str(v.evidence, 300)
    if v.mark is Mark.FAIL and v.fix:
        text += f" (fix: {safe_str(v.fix, 120)})"
    elif v.mark is Mark.UNKNOWN and v.fix:
        text += f" (to measure: {safe_str(v.fix, 120)})"
    return text


def markdown(card: Scorecard, stack_name: str) -> str:
    when = card.taken_at.strftime("%Y-%m-%d %H:%M UTC")
    lines = ["## Success Metrics Checklist", "",
             f"_Evaluated live by vextrus-console against {safe_str(stack_name, 60)} at {when}: "
             f"{summary(card)}._", ""]
    for section in SECTIONS:
        lines += [f"### {section} {SECTION_MARKS[section]}"]
        for v in card.verdicts:
            if v.item.section == section:
                state = "" if v.mark is Mark.PASS else f"**{v.mark.value}**: "
                lines.append(f"- {BOX[v.mark]} {v.item.title}: {state}{_words(v)}")
        for item in card.out_of_scope:
            if item.section == section:
                lines.append(f"- [ ] {item.title}: out of the console's scope "
                             "(the ERP's business rules)")
        lines.append("")
    return "\n".join(lines)


def as_json(card: Scorecard) -> str:
    return json.dumps({
        "schema": 1, "taken_at": card.taken_at.isoformat(), "passed": card.passed,
        "total": card.total, "score": round(card.score, 4),
        "items": [{**v.as_dict(), "evidence": safe_str(v.evidence, 1000)} for v in card.verdicts],
        "out_of_scope": [i.title for i in card.out_of_scope],
    }, indent=2)


def cli_lines(card: Scorecard) -> list[str]:
    out = [summary(card)]
    section = ""
    for v in card.verdicts:
        if v.item.section != section:
            section = v.item.section
            out.append(f"{section}")
        out.append(f"  {CLI_MARK[v.mark]} {v.item.title}: {_words(v)}")
    return out
