"""``vmm check``: verify a live installation the way a postmaster would by
hand (vmm(1), installation check).

Every check returns :class:`Result` objects (status ``ok``, ``warning`` or
``FAIL``, a name, and a detail that says what to change, naming the file or
parameter).  Nothing is ever changed: vmm's own connection is a read-only
session, Postfix and Dovecot are only asked (``postconf``, ``postmap -q``,
``doveconf``, ``doveadm auth test``/``user``), and no file is written.
Every external command runs with a timeout of a few seconds, so a dead
database host named in a map file fails quickly instead of hanging.
"""

from vmm.check.base import FAIL, OK, WARNING, CheckRun, Result, failed
from vmm.check.database import (
    check_base_directory,
    check_database,
    check_interrupted_work,
)
from vmm.check.dovecot import check_dovecot
from vmm.check.postfix import check_postfix
from vmm.check.roles import check_roles

__all__ = ('FAIL', 'OK', 'WARNING', 'CHECKS', 'Result', 'failed',
           'run_checks')

#: The checks, in the order their lines are shown; each takes the
#: :class:`CheckRun` and adds its Results to it.
CHECKS = (check_database, check_base_directory, check_interrupted_work,
          check_postfix, check_dovecot, check_roles)


def run_checks(config, postfix_dir=None, dovecot_config=None, user=None,
               password=None):
    """Every check against *config*; the list of Results."""
    run = CheckRun(config, postfix_dir, dovecot_config, user, password)
    try:
        for check in CHECKS:
            check(run)
    finally:
        run.close()
    return run.results
