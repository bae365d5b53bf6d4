"""The built-in dbt profile decides what real dbt-core decides (``dbt_agreement.py``).

dbt-core is never a dependency of this project and tests never install anything: this runs the
differential check against every dbt-core venv that ``python tests/consent/dbt_agreement.py``
has created under ``.dbt-venvs/``, and skips, saying how to create one, when there is none.
"""

from __future__ import annotations

import pytest

from tests.consent import dbt_agreement


@pytest.mark.timeout(600)
def test_the_dbt_profile_agrees_with_real_dbt_core_on_every_case():
    pythons = dbt_agreement.find_dbt_venvs()
    if not pythons:
        pytest.skip(
            "no dbt-core venv under .dbt-venvs/: run "
            "`.venv/bin/python tests/consent/dbt_agreement.py` once to create them"
        )
    versions = list(pythons)

    rows = dbt_agreement.compare(pythons)

    wrong = dbt_agreement.disagreements(rows, versions)
    assert not wrong, "\n".join(wrong) + "\n\n" + dbt_agreement.table(rows, versions)
    checked = [row for row in rows if any(row.verdict(v) == "agree" for v in versions)]
    assert len(checked) == len(dbt_agreement.CASES), "every case was compared with some version"
    outcomes = {row.ours["outcome"] for row in rows}
    assert outcomes == {"tracks", "off", "refuses"}, "the matrix covers all three outcomes"
