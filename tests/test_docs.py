"""The README's promises: its glossary covers every KPI and CI runs its test command."""

import re

from sim.kpis import GLOSSARY
from tests.conftest import PROJECT

README = (PROJECT / "README.md").read_text()


def test_glossary_lists_every_kpi():
    listed = set(re.findall(r"^\| `(\w+)` \|", README, flags=re.MULTILINE))
    assert set(GLOSSARY) <= listed, set(GLOSSARY) - listed


def test_ci_runs_the_readme_test_command():
    first_block = README.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(first_block) == 2
    ci = (PROJECT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci == first_block[1]
