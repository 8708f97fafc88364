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

import collections
import os
import re
import shutil
import stat
import subprocess

from vmm.i18n import _, ngettext

OK, WARNING, FAIL = 'ok', 'warning', 'FAIL'

#: Seconds any external command may take.
TIMEOUT = 5

#: How many real objects of each kind are tried through the Postfix maps.
SAMPLE = 5

#: A local part and a domain that are (almost certainly) not in vmm.
MISSING_LOCALPART = 'vmm-check-no-such-user'
MISSING_DOMAIN = 'vmm-check.invalid'

DEFAULT_DOVECOT_CONFIG = '/etc/dovecot/dovecot.conf'

Result = collections.namedtuple('Result', 'status name detail')


def failed(results):
    """How many of *results* are FAIL."""
    return sum(1 for r in results if r.status == FAIL)


# -- running programs ------------------------------------------------------


class Outcome:
    """What a program did: returncode, stdout, stderr; or why it did not
    run (``problem``: not found, timed out)."""

    def __init__(self, returncode=None, stdout='', stderr='', problem=None):
        self.returncode, self.stdout, self.stderr = returncode, stdout, stderr
        self.problem = problem
        self.timed_out = False

    @property
    def ok(self):
        return self.problem is None and self.returncode == 0

    def message(self):
        """One line saying why the program failed."""
        if self.problem:
            return self.problem
        return first_message(self.stderr) or first_message(self.stdout) or \
            _('exit status %d') % self.returncode


def first_message(text):
    """The first meaningful line of a program's error output, without the
    program name; a ``warning:`` line is preferred (Postfix names the
    cause there and only says "Application error" in the fatal line)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for wanted in ('warning:', 'fatal:', 'error:', ''):
        for line in lines:
            if wanted in line:
                line = re.sub(r'^[\w./-]+: (warning|fatal|error|Error|'
                              r'Fatal): ', '', line)
                # Postfix replaces the newlines of libpq's messages by '?'
                return re.sub(r'\?\s*', ' ', line).strip()
    return ''


def run(argv, input=None, timeout=TIMEOUT):
    """Run *argv* (never through a shell) with a timeout."""
    try:
        proc = subprocess.run(
            argv, input=input, capture_output=True, text=True,
            timeout=timeout, errors='replace',
            stdin=None if input is not None else subprocess.DEVNULL)
    except FileNotFoundError:
        return Outcome(problem=_("'%s' not found") % argv[0])
    except PermissionError:
        return Outcome(problem=_("'%s' is not executable") % argv[0])
    except subprocess.TimeoutExpired:
        outcome = Outcome(problem=ngettext(
            '%(program)s did not answer within %(s)d second',
            '%(program)s did not answer within %(s)d seconds', timeout)
                          % {'program': os.path.basename(argv[0]),
                             's': timeout})
        outcome.timed_out = True
        return outcome
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def executable(path):
    return bool(path) and os.path.isfile(path) and os.access(path, os.X_OK)


def find_program(name, *candidates):
    """The first executable of *candidates*, else *name* on $PATH."""
    for path in candidates:
        if executable(path):
            return path
    return shutil.which(name)


# -- small parsers -----------------------------------------------------------


def parse_postfix_cf(text):
    """name → value of a main.cf-style file (pgsql-*.cf), continuation
    lines joined."""
    pairs = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith('#'):
            continue
        if line[0].isspace() and pairs:
            pairs[-1][1] += ' ' + line.strip()
            continue
        name, sep, value = line.partition('=')
        if sep:
            pairs.append([name.strip(), value.strip()])
    return {name: value for name, value in pairs}


def parse_dovecot_ext(text):
    """name → value of a dovecot-sql.conf.ext, backslash continuations
    joined."""
    settings, logical, pending = {}, [], ''
    for line in text.splitlines():
        stripped = line.strip()
        if not pending and (not stripped or stripped.startswith('#')):
            continue
        if stripped.endswith('\\'):
            pending += stripped[:-1].strip() + ' '
            continue
        logical.append(pending + stripped)
        pending = ''
    if pending:
        logical.append(pending)
    for line in logical:
        name, sep, value = line.partition('=')
        if sep:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            settings[name.strip()] = value
    return settings


def parse_connect(text):
    """The key=value words of a libpq connection string, as libpq reads
    them (quotes and backslash escapes); {} for one it cannot read."""
    import psycopg2
    from psycopg2.extensions import parse_dsn
    try:
        return parse_dsn(text or '')
    except psycopg2.ProgrammingError:
        return {}


def parse_doveconf_sections(text, section):
    """The settings of each top-level *section* { … } of doveconf output."""
    found, current, depth = [], None, 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.endswith('{'):
            depth += 1
            if depth == 1 and stripped.split()[0] == section:
                current = {}
                found.append(current)
            continue
        if stripped == '}':
            depth -= 1
            if depth == 0:
                current = None
            continue
        if current is not None and depth == 1:
            name, _sep, value = stripped.partition('=')
            current[name.strip()] = value.strip()
    return found


# -- the Postfix maps vmm serves --------------------------------------------

#: parameter, keys (domain names or addresses), how to compute the expected
#: answer with vmm's own connection, whether only found/not found matters
#: (Postfix ignores the value of domain lists and relay_recipient_maps),
#: and what vmm's map file mentions in its query.
PostfixMap = collections.namedtuple('PostfixMap',
                                    'parameter keys sql presence marker')

_FUNCTION = 'SELECT %s FROM %s(%%(local)s, %%(domain)s)'
POSTFIX_MAPS = (
    PostfixMap('virtual_mailbox_domains', 'domain',
               'SELECT gid FROM postfix_gid WHERE domainname = %(key)s',
               True, 'postfix_gid'),
    PostfixMap('virtual_mailbox_maps', 'address',
               _FUNCTION % ('maildir', 'postfix_virtual_mailbox_map'),
               False, 'postfix_virtual_mailbox_map'),
    PostfixMap('virtual_alias_maps', 'address',
               _FUNCTION % ('destination', 'postfix_virtual_alias_map'),
               False, 'postfix_virtual_alias_map'),
    PostfixMap('virtual_uid_maps', 'address',
               _FUNCTION % ('uid', 'postfix_virtual_uid_map'),
               False, 'postfix_virtual_uid_map'),
    PostfixMap('virtual_gid_maps', 'address',
               'SELECT gid FROM postfix_gid WHERE domainname = %(domain)s',
               False, 'postfix_gid'),
    PostfixMap('transport_maps', 'address',
               _FUNCTION % ('transport', 'postfix_transport_map'),
               False, 'postfix_transport_map'),
    PostfixMap('relocated_maps', 'address',
               _FUNCTION % ('destination', 'postfix_relocated_map'),
               False, 'postfix_relocated_map'),
    PostfixMap('smtpd_sender_login_maps', 'address',
               _FUNCTION % ('login', 'postfix_smtpd_sender_login_map'),
               False, 'postfix_smtpd_sender_login_map'),
    PostfixMap('relay_domains', 'domain',
               'SELECT status FROM postfix_relay_domain_map(%(key)s)',
               True, 'postfix_relay_domain_map'),
    PostfixMap('relay_recipient_maps', 'address',
               _FUNCTION % ('status', 'postfix_relay_recipient_map'),
               True, 'postfix_relay_recipient_map'),
)
RELAY_PARAMETERS = ('relay_domains', 'relay_recipient_maps')

def pgsql_tables(value):
    """The files of the ``pgsql:`` tables in a parameter's value (a
    ``proxy:`` in front is dropped: postmap asks the table itself)."""
    files = []
    for item in re.split(r'[\s,]+', value or ''):
        while item.startswith('proxy:'):
            item = item[len('proxy:'):]
        if item.startswith('pgsql:') and len(item) > len('pgsql:'):
            files.append(item[len('pgsql:'):])
    return files


def sample_keys(cur):
    """Real and missing keys to try, chosen by a few cheap queries:
    (domain names, addresses)."""
    def column(sql, params=None):
        cur.execute(sql, params)
        return [row[0] for row in cur.fetchall()]

    def add(target, values):
        for value in values:
            if value not in target and not re.search(r'\s', value):
                target.append(value)

    addresses, domains = [], []
    primary = '(SELECT %s, gid FROM %s LIMIT %d) s JOIN domain_name n ' \
              'ON n.gid = s.gid AND n.is_primary'
    add(addresses, column("SELECT s.local_part || '@' || n.domainname FROM "
                          + primary % ('local_part', 'users', SAMPLE)))
    add(addresses, column(
        "SELECT DISTINCT s.address || '@' || n.domainname FROM "
        + primary % ('address', 'alias', SAMPLE * 10) + ' LIMIT %d' % SAMPLE))
    add(addresses, column("SELECT s.address || '@' || n.domainname FROM "
                          + primary % ('address', 'relocated', SAMPLE)))
    # Alias domains: an account, an alias, a relocated user and a missing
    # local part under each of a few.
    cur.execute('SELECT domainname, gid FROM domain_name WHERE NOT '
                'is_primary ORDER BY domainname LIMIT %s', (SAMPLE,))
    alias_domains = cur.fetchall()
    for name, gid in alias_domains:
        for table, column_name in (('users', 'local_part'),
                                   ('alias', 'address'),
                                   ('relocated', 'address')):
            add(addresses, ['%s@%s' % (local, name) for local in column(
                'SELECT %s FROM %s WHERE gid = %%s LIMIT 1'
                % (column_name, table), (gid,))])
    # Missing local parts: in domains with a catch-all first, then others.
    with_catchall = column(
        'SELECT n.domainname FROM (SELECT DISTINCT gid FROM catchall LIMIT '
        '%s) c JOIN domain_name n ON n.gid = c.gid AND n.is_primary',
        (SAMPLE,))
    primaries = column('SELECT domainname FROM domain_name WHERE is_primary '
                       'ORDER BY domainname LIMIT %s', (SAMPLE,))
    relays = column('SELECT domainname FROM relay_domain ORDER BY domainname '
                    'LIMIT %s', (SAMPLE,))
    add(addresses, column("SELECT local_part || '@' || domainname FROM "
                          'relay_recipient LIMIT %s', (SAMPLE,)))
    names = (with_catchall + primaries)[:SAMPLE] + \
        [name for name, _gid in alias_domains] + relays
    add(addresses, ['%s@%s' % (MISSING_LOCALPART, name) for name in names])
    add(addresses, ['%s@%s' % (MISSING_LOCALPART, MISSING_DOMAIN)])
    add(domains, primaries + [name for name, _gid in alias_domains] + relays
        + [MISSING_DOMAIN])
    return domains, addresses


def expected_answers(cur, pmap, keys):
    """key → sorted list of values vmm's lookup interface answers (empty
    when not found)."""
    answers = {}
    for key in keys:
        local, _sep, domain = key.rpartition('@')
        cur.execute(pmap.sql, {'key': key, 'local': local, 'domain': domain})
        # Postfix joins the rows with commas
        answers[key] = sorted(value for row in cur.fetchall()
                              for value in str(row[0]).split(','))
    return answers


def postmap_answers(postmap, config_dir, path, keys):
    """key → sorted list of values ``postmap -q -`` answers, or an
    Outcome saying why postmap failed."""
    outcome = run([postmap, '-c', config_dir, '-q', '-', 'pgsql:' + path],
                  input=''.join(key + '\n' for key in keys))
    if outcome.problem or outcome.returncode not in (0, 1) or \
            'fatal:' in outcome.stderr:
        if not outcome.problem and outcome.returncode == 0:
            outcome.returncode = 1
        return outcome
    answers = {key: [] for key in keys}
    for line in outcome.stdout.splitlines():
        key, sep, value = line.partition('\t')
        if not sep:
            key, sep, value = line.partition(' ')
        answers[key.strip().lower()] = sorted(value.strip().split(','))
    return answers


def _shown(values):
    return ','.join(values) if values else _('(not found)')


# -- the checks --------------------------------------------------------------


class Checker:
    """Runs every check of one ``vmm check``; see :meth:`run`."""

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

    def run(self):
        """All checks, in order; the list of Results."""
        try:
            self.check_database()
            self.check_base_directory()
            self.check_interrupted_work()
            self.check_postfix()
            self.check_dovecot()
            self.check_roles()
            self.check_dkim()
        finally:
            if self.conn is not None:
                try:
                    self.conn.rollback()
                finally:
                    self.conn.close()
        return self.results

    def _query(self, name, work):
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

    # -- database --------------------------------------------------------

    def check_database(self):
        from vmm import database, schema
        from vmm.errors import VMMError
        cfg = self.config
        where = '%s@%s:%s' % (cfg['database.name'], cfg['database.host'],
                              cfg['database.port'])
        try:
            self.conn = database.connect(cfg, read_write=False)
        except VMMError as err:
            self.add(FAIL, 'database',
                     _('%(error)s; check [database] in %(file)s')
                     % {'error': err.msg, 'file': cfg.path})
            self.add(WARNING, 'schema', _('not checked: no database '
                                          'connection'))
            return
        self.conn.set_session(readonly=True, autocommit=False)
        self.cur = self.conn.cursor()
        self.cur.execute("SET statement_timeout = '%ds'" % TIMEOUT)
        self.add(OK, 'database', _('connected to %(where)s as %(user)s')
                 % {'where': where, 'user': cfg['database.user']})
        try:
            version = schema.installed_version(self.cur)
        except VMMError as err:
            self.add(FAIL, 'schema', err.msg)
            return
        if version == schema.SCHEMA_VERSION:
            self.db_ok = True
            self.add(OK, 'schema', _('version %d, current') % version)
        elif version is not None and version > schema.SCHEMA_VERSION:
            self.add(FAIL, 'schema',
                     _('the database schema (version %(db)d) is newer than '
                       'this vmm (version %(vmm)d): upgrade vmm')
                     % {'db': version, 'vmm': schema.SCHEMA_VERSION})
        elif version is None:
            self.add(FAIL, 'schema', _('the database %s holds no vmm schema: '
                                       'run `vmm dbupgrade`')
                     % cfg['database.name'])
        else:
            self.add(FAIL, 'schema',
                     _('version %(db)d, this vmm needs %(vmm)d: run '
                       '`vmm dbupgrade`')
                     % {'db': version, 'vmm': schema.SCHEMA_VERSION})

    # -- base directory ----------------------------------------------------

    def check_base_directory(self):
        name = 'base_directory'
        path = self.config['misc.base_directory']
        try:
            st = os.stat(path)
        except FileNotFoundError:
            self.add(FAIL, name, _("'%(dir)s' (misc.base_directory) does not "
                                   'exist: create it with `install -d -m '
                                   "0711 %(dir)s`") % {'dir': path})
            return
        except OSError as err:
            self.add(FAIL, name, _("'%(dir)s' (misc.base_directory): "
                                   '%(error)s') % {'dir': path,
                                                   'error': err.strerror})
            return
        if not stat.S_ISDIR(st.st_mode):
            self.add(FAIL, name, _("'%s' (misc.base_directory) is not a "
                                   'directory') % path)
            return
        mode = stat.S_IMODE(st.st_mode)
        problems = []
        if st.st_uid != 0:
            problems.append(_('it belongs to uid %(uid)d, not root: `chown '
                              "root %(dir)s`") % {'uid': st.st_uid,
                                                  'dir': path})
        if mode & (stat.S_IWGRP | stat.S_IWOTH):
            problems.append(_('group or others can write to it (mode '
                              '%(mode)04o): '
                              "`chmod go-w %(dir)s`")
                            % {'mode': mode, 'dir': path})
        if not mode & stat.S_IXOTH:
            problems.append(_('the accounts cannot enter it (mode %(mode)04o)'
                              ": `chmod o+x %(dir)s`")
                            % {'mode': mode, 'dir': path})
        parent = os.path.dirname(os.path.abspath(path))
        while True:
            try:
                pst = os.stat(parent)
            except OSError:
                break
            pmode = stat.S_IMODE(pst.st_mode)
            if not pmode & stat.S_IXOTH:
                problems.append(_("the accounts cannot enter its parent "
                                  "'%(dir)s' (mode %(mode)04o): `chmod o+x "
                                  "%(dir)s`") % {'dir': parent,
                                                 'mode': pmode})
            if pmode & stat.S_IWOTH and not pmode & stat.S_ISVTX:
                problems.append(_("anyone can rename or replace it: its "
                                  "parent '%(dir)s' has mode %(mode)04o: "
                                  "`chmod o-w %(dir)s`")
                                % {'dir': parent, 'mode': pmode})
            if parent == os.path.dirname(parent):
                break
            parent = os.path.dirname(parent)
        if problems:
            self.add(FAIL, name, _("'%s' (misc.base_directory): ") % path
                     + '; '.join(problems))
        else:
            self.add(OK, name, _("'%(dir)s' exists, owner root, mode "
                                 '%(mode)04o') % {'dir': path, 'mode': mode})

    def check_interrupted_work(self):
        """Directory work of runs that were killed: every vmm run as root
        finishes it first, so anything here is waiting for one."""
        from vmm.staging import dead_runs
        name = 'interrupted_runs'
        runs = dead_runs(self.config['misc.base_directory'])
        removals = 0
        if self.db_ok:
            removals = self._query(name, lambda: self._scalar(
                'SELECT count(*) FROM directory_removal'))
            if removals is None:
                return
        if runs or removals:
            self.add(WARNING, name, _(
                'work of interrupted runs is waiting (runs with staged '
                'directories: %(runs)d, directory removals owed: '
                '%(removals)d): the next vmm command run as root finishes it')
                % {'runs': runs, 'removals': removals})
        else:
            self.add(OK, name, _('no directory work of an interrupted run '
                                 'is waiting'))

    def _scalar(self, sql):
        self.cur.execute(sql)
        return self.cur.fetchone()[0]

    # -- Postfix -------------------------------------------------------------

    def check_postfix(self):
        postconf = self.config['bin.postconf']
        if not executable(postconf):
            self.add(WARNING, 'postfix',
                     _("Postfix is not installed here ('%s' (bin.postconf) "
                       'not found): Postfix checks skipped; install Postfix '
                       'or set bin.postconf') % postconf)
            return
        postmap = find_program('postmap', os.path.join(
            os.path.dirname(postconf), 'postmap'))
        directory = self.postfix_dir
        if directory is None:
            out = run([postconf, '-h', 'config_directory'])
            directory = out.stdout.strip() if out.ok else ''
            if not directory:
                self.add(FAIL, 'postfix', _('`%(cmd)s` failed: %(error)s')
                         % {'cmd': postconf + ' -h config_directory',
                            'error': out.message()})
                return
        modules = run([postconf, '-c', directory, '-m'])
        if not modules.ok:
            self.add(FAIL, 'postfix', _('`postconf -c %(dir)s -m` failed: '
                                        '%(error)s')
                     % {'dir': directory, 'error': modules.message()})
            return
        if 'pgsql' not in modules.stdout.split():
            self.add(FAIL, 'postfix',
                     _('Postfix has no pgsql support (`postconf -m` does not '
                       'list it): install it (Debian: postfix-pgsql)'))
            pgsql = False
        else:
            self.add(OK, 'postfix', _('pgsql support (postconf -m); '
                                      'configuration in %s') % directory)
            pgsql = True
        if postmap is None:
            self.add(FAIL, 'postfix:postmap', _("'postmap' not found next "
                                                "to %s") % postconf)
            return
        settings = run([postconf, '-c', directory, '-n', '-x'])
        if not settings.ok:
            self.add(FAIL, 'postfix:main.cf', _('`postconf -c %(dir)s -n -x`'
                                                ' failed: %(error)s')
                     % {'dir': directory, 'error': settings.message()})
            return
        values = {}
        for line in settings.stdout.splitlines():
            name, sep, value = line.partition('=')
            if sep:
                values[name.strip()] = value.strip()
        self._check_maps(postmap, directory, values, pgsql)

    def _relay_domain_count(self):
        """How many relay domains vmm has; None when unknown."""
        if not self.db_ok:
            return None

        def work():
            self.cur.execute('SELECT count(*) FROM relay_domain')
            return self.cur.fetchone()[0]
        return self._query('postfix:sample', work)

    def _check_maps(self, postmap, directory, values, pgsql):
        main_cf = os.path.join(directory, 'main.cf')
        relays = self._relay_domain_count()
        keys = None
        if self.db_ok:
            keys = self._query('postfix:sample',
                               lambda: sample_keys(self.cur))
        jobs = []       # (map, file, keys, expected)
        for pmap in POSTFIX_MAPS:
            name = 'postfix:' + pmap.parameter
            value = values.get(pmap.parameter)
            optional = pmap.parameter in RELAY_PARAMETERS and not relays
            if value is None:
                if optional and relays == 0:
                    self.add(OK, name, _('not set in %s; vmm has no relay '
                                         'domains') % main_cf)
                elif optional:
                    self.add(WARNING, name, _('not set in %s; needed once vmm '
                                              'has relay domains') % main_cf)
                else:
                    # Postfix's virtual(8) reads the uid and gid maps
                    # itself; main.cf.example names them without proxy:.
                    table = 'pgsql:' if pmap.parameter in (
                        'virtual_uid_maps', 'virtual_gid_maps') \
                        else 'proxy:pgsql:'
                    self.add(FAIL, name,
                             _('%(param)s is not set in %(file)s: set it as '
                               'in main.cf.example (%(param)s = '
                               '%(table)s${config_directory}/pgsql-'
                               '%(param)s.cf)')
                             % {'param': pmap.parameter, 'file': main_cf,
                                'table': table})
                continue
            files = pgsql_tables(value)
            if not files:
                self.add(WARNING if optional else FAIL, name,
                         _("%(param)s in %(file)s names no pgsql: table "
                           "(it is '%(value)s'): set it as in "
                           'main.cf.example')
                         % {'param': pmap.parameter, 'file': main_cf,
                            'value': value})
                continue
            texts, problem = {}, None
            for path in files:
                try:
                    with open(path, encoding='utf-8',
                              errors='replace') as handle:
                        texts[path] = handle.read()
                except PermissionError as err:
                    if os.geteuid() != 0:
                        problem = (WARNING, _(
                            '%(file)s (named by %(param)s) is not readable '
                            'for this user: run `vmm check` as root')
                            % {'file': path, 'param': pmap.parameter})
                    else:
                        problem = (FAIL, _(
                            "%(file)s (named by %(param)s) cannot be read: "
                            '%(error)s') % {'file': path,
                                            'param': pmap.parameter,
                                            'error': err.strerror})
                    break
                except OSError as err:
                    problem = (FAIL, _("%(file)s (named by %(param)s) cannot "
                                       'be read: %(error)s')
                               % {'file': path, 'param': pmap.parameter,
                                  'error': err.strerror})
                    break
            if problem:
                self.add(problem[0], name, problem[1])
                continue
            # More than one pgsql table: vmm's is the one that asks vmm's
            # lookup interface.
            chosen = [p for p in files if pmap.marker in texts[p]] or files
            for path in chosen:
                user = parse_postfix_cf(texts[path]).get('user')
                if user:
                    self.postfix_roles.setdefault(user, path)
            if not pgsql:
                self.add(WARNING, name, _('%(file)s not compared with vmm: '
                                          'Postfix has no pgsql support')
                         % {'file': chosen[0]})
                continue
            if keys is None:
                self.add(WARNING, name,
                         _('%(file)s not compared with vmm: no usable vmm '
                           'database') % {'file': chosen[0]})
                continue
            domains, addresses = keys
            wanted = domains if pmap.keys == 'domain' else addresses
            expected = self._query(name, lambda pmap=pmap, wanted=wanted:
                                   expected_answers(self.cur, pmap, wanted))
            if expected is None:
                continue
            for path in chosen:
                jobs.append((pmap, path, wanted, expected))
        self._run_postmaps(postmap, directory, jobs)

    def _run_postmaps(self, postmap, directory, jobs):
        """Ask every map file at once (each postmap has its own timeout, so
        several dead hosts still cost one timeout in all)."""
        from concurrent.futures import ThreadPoolExecutor
        with ThreadPoolExecutor(max_workers=max(1, len(jobs))) as pool:
            futures = [pool.submit(postmap_answers, postmap, directory, path,
                                   wanted)
                       for _pmap, path, wanted, _expected in jobs]
            answers = [future.result() for future in futures]
        for (pmap, path, wanted, expected), got in zip(jobs, answers):
            self._compare(pmap, path, wanted, expected, got)

    def _compare(self, pmap, path, wanted, expected, got):
        name = 'postfix:' + pmap.parameter
        if isinstance(got, Outcome) and got.timed_out:
            with open(path, encoding='utf-8', errors='replace') as handle:
                hosts = parse_postfix_cf(handle.read()).get('hosts', '')
            self.add(FAIL, name,
                     ngettext('%(file)s (%(param)s): `postmap -q` got no '
                              'answer within %(s)d second: is the database '
                              'server of hosts = %(hosts)s in %(file)s up '
                              'and reachable?',
                              '%(file)s (%(param)s): `postmap -q` got no '
                              'answer within %(s)d seconds: is the database '
                              'server of hosts = %(hosts)s in %(file)s up '
                              'and reachable?', TIMEOUT)
                     % {'file': path, 'param': pmap.parameter, 's': TIMEOUT,
                        'hosts': hosts or 'localhost'})
            return
        if isinstance(got, Outcome):
            self.add(FAIL, name,
                     _('%(file)s (%(param)s): `postmap -q` failed: %(error)s;'
                       ' check hosts, user, password, dbname and query in '
                       '%(file)s') % {'file': path, 'param': pmap.parameter,
                                      'error': got.message()})
            return
        wrong = []
        for key in wanted:
            want, have = expected[key], got.get(key, [])
            if (bool(want) != bool(have)) if pmap.presence else \
                    (want != have):
                wrong.append(key)
        if wrong:
            key = wrong[0]
            self.add(FAIL, name,
                     ngettext("%(file)s (%(param)s): for %(count)d of "
                              "%(total)d key Postfix's answer differs from "
                              "vmm's lookup functions, e.g. `postmap -q "
                              "%(key)s` gives '%(got)s', vmm '%(want)s'; "
                              'check dbname and query in %(file)s (see '
                              'pgsql/postfix/pgsql-%(param)s.cf)',
                              "%(file)s (%(param)s): for %(count)d of "
                              "%(total)d keys Postfix's answer differs from "
                              "vmm's lookup functions, e.g. `postmap -q "
                              "%(key)s` gives '%(got)s', vmm '%(want)s'; "
                              'check dbname and query in %(file)s (see '
                              'pgsql/postfix/pgsql-%(param)s.cf)',
                              len(wanted))
                     % {'file': path, 'param': pmap.parameter,
                        'count': len(wrong), 'total': len(wanted),
                        'key': key, 'got': _shown(got.get(key, [])),
                        'want': _shown(expected[key])})
            return
        found = sum(1 for key in wanted if expected[key])
        self.add(OK, name, ngettext(
            '%(file)s gives the same answer as vmm for the %(total)d sample '
            'key tried (%(found)d of them exist in vmm; for the others both '
            'answer nothing)',
            '%(file)s gives the same answers as vmm for all %(total)d sample '
            'keys tried (%(found)d of them exist in vmm; for the others both '
            'answer nothing)', len(wanted))
            % {'file': path, 'total': len(wanted), 'found': found})

    # -- Dovecot -------------------------------------------------------------

    def check_dovecot(self):
        doveadm = self.config['bin.doveadm']
        bindir = os.path.dirname(doveadm)
        dovecot = find_program(
            'dovecot', os.path.join(bindir, 'dovecot'),
            os.path.join(os.path.dirname(bindir), 'sbin', 'dovecot'),
            '/usr/sbin/dovecot', '/usr/local/sbin/dovecot')
        doveconf = find_program('doveconf', os.path.join(bindir, 'doveconf'))
        if not executable(doveadm) or dovecot is None or doveconf is None:
            missing = doveadm if not executable(doveadm) else \
                'dovecot' if dovecot is None else 'doveconf'
            self.add(WARNING, 'dovecot',
                     _("Dovecot is not installed here ('%s' not found): "
                       'Dovecot checks skipped; install Dovecot or set '
                       'bin.doveadm') % missing)
            return
        config_file = self.dovecot_config or \
            self.config['misc.dovecot_config'] or DEFAULT_DOVECOT_CONFIG
        self._check_dovecot_driver(dovecot, doveconf, config_file)
        if not os.path.isfile(config_file):
            self.add(WARNING, 'dovecot:password_query',
                     _("no Dovecot configuration '%s': Dovecot checks "
                       'skipped (give --dovecot-config)') % config_file)
            return
        self._check_passdb(doveconf, config_file)
        if self.user is not None:
            self._check_user(doveadm, config_file)

    def _check_dovecot_driver(self, dovecot, doveconf, config_file):
        out = run([dovecot, '--build-options'])
        if not out.ok:
            self.add(FAIL, 'dovecot', _('`dovecot --build-options` failed: '
                                        '%s') % out.message())
            return
        line = next((line for line in out.stdout.splitlines()
                     if line.startswith('SQL driver')), '')
        drivers = line.partition(':')[2].split()
        if 'postgresql' not in drivers and 'pgsql' not in drivers:
            self.add(FAIL, 'dovecot',
                     _('Dovecot has no PostgreSQL driver (`dovecot '
                       '--build-options`: %s): install it (Debian: '
                       'dovecot-pgsql)') % (line or _('no SQL drivers')))
            return
        if line.startswith('SQL driver plugins'):
            args = [doveconf, '-h', 'mail_plugin_dir']
            if os.path.isfile(config_file):
                args[1:1] = ['-c', config_file]
            out = run(args)
            plugin_dir = out.stdout.strip() if out.ok else ''
            plugin = os.path.join(plugin_dir, 'libdriver_pgsql.so')
            if plugin_dir and os.path.isdir(plugin_dir) and \
                    not os.path.exists(plugin):
                self.add(FAIL, 'dovecot',
                         _("Dovecot's PostgreSQL driver plugin %s is missing:"
                           ' install it (Debian: dovecot-pgsql)') % plugin)
                return
        self.add(OK, 'dovecot', _('PostgreSQL driver (dovecot '
                                  '--build-options)'))

    def _sql_files(self, doveconf, config_file, section):
        """(args file, settings) of the enabled sql *section*s
        (passdb/userdb), or a FAIL detail."""
        out = run([doveconf, '-c', config_file, section])
        if not out.ok:
            return _('`doveconf -c %(file)s %(section)s` failed: %(error)s') \
                % {'file': config_file, 'section': section,
                   'error': out.message()}
        found = []
        for block in parse_doveconf_sections(out.stdout, section):
            if block.get('driver') != 'sql' or block.get('deny') == 'yes':
                continue
            path = block.get('args', '')
            try:
                with open(path, encoding='utf-8', errors='replace') as handle:
                    found.append((path, parse_dovecot_ext(handle.read())))
            except OSError as err:
                return _("the %(section)s file '%(file)s' cannot be read: "
                         '%(error)s') % {'section': section, 'file': path,
                                         'error': err.strerror}
        return found

    def _check_passdb(self, doveconf, config_file):
        name = 'dovecot:password_query'
        files = self._sql_files(doveconf, config_file, 'passdb')
        if isinstance(files, str):
            self.add(FAIL, name, files)
            return
        if not files:
            self.add(FAIL, name, _('%s has no passdb with driver = sql: '
                                   'include vmm.conf.example') % config_file)
            return
        problems = []
        for path, settings in files:
            connect = parse_connect(settings.get('connect'))
            if connect.get('user'):
                self.dovecot_roles.setdefault(connect['user'], path)
            if settings.get('driver') != 'pgsql':
                problems.append(_("%(file)s: driver = %(driver)s, not pgsql")
                                % {'file': path,
                                   'driver': settings.get('driver', '')})
            query = settings.get('password_query', '')
            if not query:
                problems.append(_('%s sets no password_query') % path)
            elif not re.search(r'%L?s\b|%L?\{(lcase:)?service\}', query):
                problems.append(_(
                    "%s: password_query does not filter by service (no "
                    "'WHERE %%Ls'): logins to services vmm disabled would "
                    'pass; use the query of pgsql/dovecot/'
                    'dovecot-sql.conf.ext') % path)
        if problems:
            self.add(FAIL, name, '; '.join(problems))
        else:
            self.add(OK, name, _('%s filters by service (%%Ls)')
                     % ', '.join(path for path, _s in files))
        # The user_query's file names the dovecot role too.
        userdbs = self._sql_files(doveconf, config_file, 'userdb')
        if not isinstance(userdbs, str):
            for path, settings in userdbs:
                connect = parse_connect(settings.get('connect'))
                if connect.get('user'):
                    self.dovecot_roles.setdefault(connect['user'], path)

    def _account(self):
        """The account's enabled services and dovecotuser() row, from vmm;
        None when the database is not usable, False when no such account."""
        if not self.db_ok:
            return None

        def work():
            local, domain = self.user.localpart, str(self.user.domain)
            self.cur.execute('SELECT smtp, pop3, imap, sieve FROM '
                             'dovecotpassword(%s, %s)', (local, domain))
            services = self.cur.fetchone()
            if services is None:
                return False
            self.cur.execute('SELECT uid, gid, home FROM dovecotuser(%s, %s)',
                             (local, domain))
            return (dict(zip(('smtp', 'pop3', 'imap', 'sieve'), services)),
                    self.cur.fetchone())
        return self._query('dovecot:auth', work)

    def _check_user(self, doveadm, config_file):
        address = str(self.user)
        account = self._account()
        if account is False:
            self.add(FAIL, 'dovecot:auth', _('%s is not an account in vmm\'s '
                                             'database') % address)
            return
        service = 'imap'
        if account:
            enabled = [s for s in ('imap', 'pop3', 'sieve', 'smtp')
                       if account[0][s]]
            if not enabled:
                self.add(WARNING, 'dovecot:auth',
                         _('%s may use no service: login not tried') % address)
                service = None
            else:
                service = enabled[0]
        if service:
            out = run([doveadm, '-c', config_file, 'auth', 'test', '-x',
                       'service=' + service, address],
                      input=self.password + '\n')
            # doveadm exits 77 for a refusal, a temporary failure and an
            # auth socket it cannot reach alike; its output tells them apart.
            if out.ok:
                self.add(OK, 'dovecot:auth',
                         _('`doveadm auth test` accepts %(user)s for '
                           '%(service)s') % {'user': address,
                                             'service': service})
            elif 'auth-client' in out.stderr and 'connect(' in out.stderr:
                self.add(FAIL, 'dovecot:auth',
                         _("Dovecot's auth socket does not answer (%(error)s):"
                           ' is Dovecot running with %(file)s?')
                         % {'error': out.message(), 'file': config_file})
            elif 'temp_fail' in out.stdout:
                self.add(FAIL, 'dovecot:auth',
                         _('Dovecot could not look %(user)s up (a temporary '
                           'failure): can its passdb reach the database, and '
                           'does password_query run? See the Dovecot log')
                         % {'user': address})
            elif out.returncode == 77:
                self.add(FAIL, 'dovecot:auth',
                         _('Dovecot refuses %(user)s for %(service)s: wrong '
                           'password (or password_query/default_pass_scheme '
                           'in the passdb file do not match vmm)')
                         % {'user': address, 'service': service})
            else:
                self.add(FAIL, 'dovecot:auth',
                         _('`doveadm auth test` failed for %(user)s: '
                           '%(error)s; is Dovecot running with %(file)s, and '
                           'can its passdb reach the database?')
                         % {'user': address, 'error': out.message(),
                            'file': config_file})
        out = run([doveadm, '-c', config_file, 'user', address])
        if out.returncode == 67:
            self.add(FAIL, 'dovecot:user',
                     _("Dovecot's userdb does not know %(user)s: check "
                       'user_query in the userdb file of %(file)s')
                     % {'user': address, 'file': config_file})
            return
        if not out.ok:
            self.add(FAIL, 'dovecot:user',
                     _('`doveadm user %(user)s` failed: %(error)s')
                     % {'user': address, 'error': out.message()})
            return
        fields = {}
        for line in out.stdout.splitlines():
            field, sep, value = line.partition('\t')
            if sep:
                fields[field.strip()] = value.strip()
        if account and account[1]:
            wrong = [
                '%s=%s (vmm: %s)' % (field, fields[field], want)
                for field, want in zip(('uid', 'gid', 'home'), account[1])
                if field in fields and fields[field] != str(want)]
            if wrong:
                self.add(FAIL, 'dovecot:user',
                         _("Dovecot's userdb answers %(wrong)s for %(user)s: "
                           'check user_query in the userdb file of %(file)s')
                         % {'wrong': ', '.join(wrong), 'user': address,
                            'file': config_file})
                return
        self.add(OK, 'dovecot:user', _('`doveadm user` knows %(user)s (home '
                                       '%(home)s)')
                 % {'user': address, 'home': fields.get('home', '?')})

    # -- the roles' privileges ---------------------------------------------

    def check_roles(self):
        if not self.db_ok:
            self.add(WARNING, 'roles', _('not checked: no usable vmm '
                                         'database'))
            return
        postfix = self.postfix_roles or {'postfix': None}
        dovecot = self.dovecot_roles or {'dovecot': None}
        for role, source in sorted(postfix.items()):
            self._query('role:' + role, lambda role=role, source=source:
                        self._check_role(role, source, 'postfix'))
        for role, source in sorted(dovecot.items()):
            if role in postfix:
                continue        # one role for both: checked as Postfix's
            self._query('role:' + role, lambda role=role, source=source:
                        self._check_role(role, source, 'dovecot'))

    def _relations(self, role, privilege):
        self.cur.execute(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n "
            "ON n.oid = c.relnamespace WHERE n.nspname = 'public' "
            "AND c.relkind IN ('r', 'v', 'm', 'p', 'f') AND "
            + ("has_any_column_privilege(%s, c.oid, 'SELECT')"
               if privilege == 'SELECT' else
               "has_table_privilege(%s, c.oid, "
               "'INSERT,UPDATE,DELETE,TRUNCATE')")
            + ' ORDER BY 1', (role,))
        return [row[0] for row in self.cur.fetchall()]

    def _lookup_functions(self, client):
        """The lookup functions of *client* (postfix or dovecot), as the
        schema's view vmm_lookup_function names them."""
        self.cur.execute('SELECT function::text FROM vmm_lookup_function '
                         'WHERE client = %s ORDER BY 1', (client,))
        return [row[0] for row in self.cur.fetchall()]

    def _may_execute(self, role, function):
        self.cur.execute("SELECT has_function_privilege(%s, p::oid, "
                         "'EXECUTE') FROM to_regprocedure(%s) p",
                         (role, function))
        return bool(self.cur.fetchone()[0])

    def _check_role(self, role, source, kind):
        name = 'role:' + role
        named = _(' (user in %s)') % source if source else ''
        self.cur.execute('SELECT rolsuper FROM pg_roles WHERE rolname = %s',
                         (role,))
        row = self.cur.fetchone()
        if row is None:
            self.add(FAIL if source else WARNING, name,
                     _('the %(kind)s role %(role)s%(named)s does not exist in '
                       'the database: create it (INSTALL, step 3)')
                     % {'kind': kind.capitalize(), 'role': role,
                        'named': named})
            return
        fix = _('run set-permissions.sql with -v %(kind)s=%(role)s '
                '(INSTALL, step 5)') % {'kind': kind, 'role': role}
        problems, notes = [], []
        if row[0]:
            problems.append(_('it is a superuser and can read everything'))
        readable = self._relations(role, 'SELECT')
        writable = self._relations(role, 'WRITE')
        if kind == 'postfix':
            extra = [r for r in readable if r != 'postfix_gid']
            if 'users' in extra:
                problems.append(_('it can read the users table, password '
                                  'hashes included'))
            others = [r for r in extra if r != 'users']
            if others:
                problems.append(_('it can read %s, which Postfix does not '
                                  'look up') % ', '.join(others))
            if writable:
                problems.append(_('it can change %s') % ', '.join(writable))
            if self._may_execute(role, 'dovecotpassword(varchar,varchar)'):
                problems.append(_('it can call dovecotpassword(), which '
                                  'returns password hashes'))
            missing = [function.split('(')[0] for function in
                       self._lookup_functions('postfix')
                       if not self._may_execute(role, function)]
            if 'postfix_gid' not in readable:
                missing.append('postfix_gid')
        else:
            self.cur.execute(
                "SELECT has_column_privilege(%s, 'users', 'passwd', "
                "'SELECT')", (role,))
            if self.cur.fetchone()[0]:
                problems.append(_('it can read users.passwd directly (only '
                                  'dovecotpassword() should see hashes)'))
            if 'vmm_log' in readable:
                problems.append(_('it can read the audit log vmm_log'))
            others = [r for r in readable if r not in (
                'users', 'domain_data', 'domain_name', 'userquota',
                'vmm_log')]
            if others:
                notes.append(_('it can read %s, which the shipped Dovecot '
                               'queries do not need') % ', '.join(others))
            changed = [r for r in writable if r != 'userquota']
            if changed:
                problems.append(_('it can change %s') % ', '.join(changed))
            missing = [f for f in ('dovecotpassword',)
                       if not self._may_execute(role, f + '(varchar,varchar)')]
            if not (self._may_execute(role, 'dovecotuser(varchar,varchar)') or
                    self._may_execute(role,
                                      'dovecotquotauser(varchar,varchar)')):
                missing.append('dovecotquotauser')
        if missing:
            problems.append(_('it lacks access to %s, which its lookups '
                              'need') % ', '.join(missing))
        if problems:
            self.add(FAIL, name, _('the %(kind)s role %(role)s%(named)s: '
                                   '%(problems)s; %(fix)s')
                     % {'kind': kind.capitalize(), 'role': role,
                        'named': named, 'problems': '; '.join(problems),
                        'fix': fix})
        elif notes:
            self.add(WARNING, name, _('the %(kind)s role %(role)s%(named)s: '
                                      '%(notes)s')
                     % {'kind': kind.capitalize(), 'role': role,
                        'named': named, 'notes': '; '.join(notes)})
        else:
            self.add(OK, name, _('the %(kind)s role %(role)s%(named)s reads '
                                 'only what its lookups need')
                     % {'kind': kind.capitalize(), 'role': role,
                        'named': named})

    # -- DKIM ------------------------------------------------------------

    def check_dkim(self):
        """The OpenDKIM role's rights, and each active key's record in
        DNS (vmm.dkim_check)."""
        if not self.db_ok:
            return
        from vmm import dkim_check
        nameserver = self.config['dkim.nameserver'] or None
        for results in (lambda: dkim_check.role_results(self.cur),
                        lambda: dkim_check.dns_results(self.cur, nameserver)):
            for result in self._query('dkim', results) or ():
                self.add(*result)


def run_checks(config, postfix_dir=None, dovecot_config=None, user=None,
               password=None):
    """Every check against *config*; the list of Results."""
    return Checker(config, postfix_dir, dovecot_config, user,
                   password).run()
