"""Skips allowed in CI. With ``CI=true`` in the environment any other
skipped test fails the run (see ``tests/conftest.py``): a broken optional
extra or a missing Chromium must not pass as a green suite.

Keys are test ids as pytest prints them, without parameters; each value
says on which supported stack the test has nothing to check.
"""
import os
from typing import Dict, List, Tuple

SAFETY = 'tests/test_utils/test_checkpoint_safety.py::'
WEIGHTS_ONLY = ('torch < 2.6 unpickles fully by default, so there is no '
                'refusal to scope (requirements allow torch >= 2.1)')

ALLOWED: Dict[str, str] = {
    SAFETY + 'test_mmengine_types_allowed_only_inside_the_scope':
    WEIGHTS_ONLY,
    SAFETY + 'test_foreign_objects_are_refused_inside_the_scope':
    WEIGHTS_ONLY,
}


def in_ci() -> bool:
    """True where the CI convention ``CI=true`` (or 1) is set."""
    return os.environ.get('CI', '').strip().lower() in ('true', '1', 'yes')


def skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        longrepr = longrepr[2]
    return str(longrepr).replace('Skipped: ', '', 1)


def unexplained_skips(reports, allowed=None) -> List[Tuple[str, str]]:
    """(test id, reason) of the skipped ``reports`` not in ``allowed``
    (default ``ALLOWED``); expected failures (xfail) are not skips."""
    allowed = ALLOWED if allowed is None else allowed
    out = []
    for report in reports:
        if hasattr(report, 'wasxfail'):
            continue
        if report.nodeid.split('[')[0] not in allowed:
            out.append((report.nodeid, skip_reason(report)))
    return out


def _skipped(session) -> list:
    reporter = session.config.pluginmanager.get_plugin('terminalreporter')
    if reporter is None:
        return []
    return list(reporter.stats.get('skipped', []))


def pytest_sessionfinish(session, exitstatus):
    """In CI an unexplained skip fails the run (exit status 1)."""
    if in_ci() and exitstatus == 0 and unexplained_skips(_skipped(session)):
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not in_ci():
        return
    found = unexplained_skips(terminalreporter.stats.get('skipped', []))
    if not found:
        return
    terminalreporter.section('skips not allowed in CI', sep='=', red=True)
    for nodeid, reason in found:
        terminalreporter.line(f'{nodeid}: {reason}')
    terminalreporter.line(
        'CI=true: a skip fails the run unless tests/allowed_skips.py '
        'lists it with its reason. Install what the test needs '
        '(pip install -e ".[demo,export]"; apt-get install chromium).')
