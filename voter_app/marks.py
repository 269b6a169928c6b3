"""Choose-several contests in the voter app: what a voter types for a marking (CLI), a
marking's check (the CLI and the page's API share it), and how a marking is written back for
a person or for JSON. The rule a contest states is `Contest.rule` (formats.manifest), the one
wording every role shows.

A choose-several contest (`Contest.choose_several`) takes between `min_marks` and `max_marks`
of its candidates; with `min_marks` 0 (`Contest.blank_allowed`) a ballot may mark none (a
blank ballot). docs/spec.md, "Voter app", "The ballot", says it in words.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from formats.ballot import Choice
from formats.manifest import Contest
from i18n import LANGUAGES, N_, _, language
from voter_app.transport import VoterAppError
from voter_app.voting import describe, resolve_choice

# What a voter types for a blank ballot (no candidate marked), besides an empty answer: these
# words and the translations of BLANK_WORD in every language, e.g. "ไม่ทำเครื่องหมาย".
BLANK_WORD = N_("blank")
BLANK_WORDS = ("none", "blank", "-")
SEPARATOR = ","


def marks_problem(contest: Contest, count: int) -> str | None:
    """Why `count` marks do not fit the contest, naming it, or None when they do."""
    if count > contest.max_marks:
        return _("{contest}: {count} marked, too many: mark at most {max}.").format(
            contest=contest.name, count=count, max=contest.max_marks
        )
    if count < contest.min_marks:
        if count == 0:
            return _("{contest}: nothing marked: mark at least {min}.").format(
                contest=contest.name, min=contest.min_marks
            )
        return _("{contest}: {count} marked, too few: mark at least {min}.").format(
            contest=contest.name, count=count, min=contest.min_marks
        )
    return None


def blank_words() -> frozenset[str]:
    """Every word that means "no candidate marked" (casefolded), in every language."""
    words = set(BLANK_WORDS)
    for code in LANGUAGES:
        with language(code):
            words.add(_(BLANK_WORD).casefold())
    return frozenset(words)


def is_blank_answer(text: str) -> bool:
    folded = " ".join(text.split()).casefold()
    return not folded.strip(SEPARATOR + " ") or folded in blank_words()


def resolve_marks(contest: Contest, text: str, check_bounds: bool = True) -> frozenset[int]:
    """The candidate numbers a voter typed for a choose-several contest: numbers or names
    (each understood as `resolve_choice` understands one choice, or as `describe` shows it,
    "11 Name (Party)", in any language) separated by commas; an empty answer or a blank word
    is no mark. VoterAppError, in one line naming the contest,
    for an unknown or repeated candidate, and (`check_bounds`) for too many or too few."""
    whole = " ".join(text.split()).casefold()
    named = bool(whole) and any(
        whole in (t.casefold() for t in c.name.all_texts()) for c in contest.candidates
    )
    marked: list[int] = []
    shown = _shown_forms(contest)
    if not is_blank_answer(text) or named:  # a candidate named "Blank" is that candidate
        for piece in text.split(SEPARATOR):
            if not piece.strip():
                continue  # "11, 13," or "11,,13": a stray comma marks nothing
            folded = " ".join(piece.split()).casefold()
            number = shown.get(folded) or resolve_choice(contest, piece)
            if number in marked:
                raise VoterAppError(
                    _("{contest}: {candidate} is given twice: mark each candidate once.").format(
                        contest=contest.name, candidate=describe(contest, number)
                    )
                )
            marked.append(number)
    if check_bounds and (problem := marks_problem(contest, len(marked))):
        raise VoterAppError(problem)
    return frozenset(marked)


def _shown_forms(contest: Contest) -> dict[str, int]:
    """Each candidate as `describe` shows it in every language (casefolded) -> its number:
    what the summary shows may be typed back."""
    forms: dict[str, int] = {}
    for code in LANGUAGES:
        with language(code):
            for candidate in contest.candidates:
                text = " ".join(describe(contest, candidate.number).split()).casefold()
                forms[text] = candidate.number
    return forms


def in_ballot_order(contest: Contest, marked: Iterable[int]) -> list[int]:
    """The marked numbers in the contest's ballot order."""
    wanted = set(marked)
    return [c.number for c in contest.candidates if c.number in wanted]


def typed(contest: Contest, marked: Iterable[int]) -> str:
    """A marking written the way a voter types it at the CLI (numbers, commas), or "" for
    blank: `resolve_marks` of it gives the marking back."""
    return f"{SEPARATOR} ".join(str(n) for n in in_ballot_order(contest, marked))


def choice_view(contest: Contest, choice: Choice) -> dict[str, Any]:
    """A contest's choice for the pages' JSON: `contest` (its name), `candidate` (the choice as
    `describe` names it) and, for a choose-several contest, `marks`: each marked candidate so
    named, in ballot order (empty for blank), for the page to show one a line."""
    view: dict[str, Any] = {"contest": str(contest.name), "candidate": describe(contest, choice)}
    if contest.choose_several:
        assert not isinstance(choice, int)
        view["marks"] = [describe(contest, n) for n in in_ballot_order(contest, choice)]
    return view
