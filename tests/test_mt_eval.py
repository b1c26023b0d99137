"""The translation memory measured on sentences written apart from it (tests/data/mt_eval/, README there): the
adversarial near-misses — negation, antonym actions, question vs statement, currency, magnitude, who, object, time —
are held at zero wrong meanings. Coverage and precision on the realistic set are `kiosk bench mt`'s to report."""

from pathlib import Path

import pytest

from kiosk.translation.evaluation import evaluate, load_cases
from kiosk.translation.memory import default_memory

DATA = Path(__file__).parent / "data"
SETS = {"adversarial": DATA / "mt_eval" / "adversarial.toml", "realistic": DATA / "mt_eval" / "realistic.toml",
        "dev": DATA / "mt_dev.toml"}


def _run(name):
    path = SETS[name]
    if not path.exists():
        pytest.skip(f"{path} is not in this checkout yet")
    cases = load_cases(path)
    assert cases, path
    known = set(default_memory().table.intents)
    unknown = {i for c in cases for i in c.intents if i and i not in known}
    assert not unknown, f"{path} labels intents the catalogue does not have: {sorted(unknown)[:10]}"
    return evaluate(default_memory(), cases)


# Labels written before the catalogue had the intent the memory answers with — correct translations that the set
# counts as wrong until its author relabels them (`kiosk bench mt` still counts them). Each excuses one answer only.
STALE_LABELS: dict[str, tuple[str, ...]] = {}  # none: labels that a catalogue change made stale are relabelled in the set


@pytest.mark.parametrize("name", ["adversarial", "dev"])
def test_no_wrong_meaning_on_near_misses(name):
    tallies, outcomes = _run(name)
    wrong = [(o.case.id, o.case.text, o.case.intents, o.answered, o.slots) for o in outcomes
             if o.verdict == "wrong" and STALE_LABELS.get(o.case.id) != o.answered]
    assert wrong == [], wrong[:10]


def test_realistic_set_is_answered_precisely():
    """Wrong meanings on ordinary counter sentences stay rare (goal: precision ≥ 99 %, reported by the bench)."""
    tallies, outcomes = _run("realistic")
    t = tallies["all"]
    assert t.answered == 0 or t.precision >= 0.97, t.as_dict()

