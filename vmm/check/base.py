"""What one ``vmm check`` run knows while its checks run, and what each
check reports: a list of :class:`Result` lines."""

import collections

from vmm.i18n import _

OK, WARNING, FAIL = 'ok', 'warning', 'FAIL'

#: Seconds any external command (and any query) may take.
TIMEOUT = 5

Result = collections.namedtuple('Result', 'status name detail')


def failed(results):
    """How many of *results* are FAIL."""
    return sum(1 for r in results if r.status == FAIL)


class CheckRun:
    """The state the checks share: the configuration and the options, vmm's
    read-only connection (made by the database check), the roles the
    Postfix and Dovecot files name, and the Results so far."""

    def __init__(self, config, postfix_dir=None, dovecot_config=None,
                 user=None, password=None):
        self.config = config
        self.postfix_dir = postfix_dir
        self.dovecot_config = dovecot_config
        self.user = user
        self.password = password
        self.results = []
        self.conn = self.cur = None
        self.db_ok = False
        self.postfix_roles = {}     # role → file naming it
        self.dovecot_roles = {}

    def add(self, status, name, detail):
        self.results.append(Result(status, name, detail))

    def query(self, name, work):
        """Run ``work()`` (database queries); a database error becomes a
        FAIL line and the transaction is rolled back."""
        import psycopg2

        from vmm.database import first_line
        try:
            return work()
        except psycopg2.Error as err:
            self.conn.rollback()
            self.add(FAIL, name, _('database error: %s') % first_line(err))
            return None

    def scalar(self, sql):
        self.cur.execute(sql)
        return self.cur.fetchone()[0]

    def close(self):
        if self.conn is not None:
            try:
                self.conn.rollback()
            finally:
                self.conn.close()
