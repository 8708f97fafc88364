"""``vmm check``'s first lines: the database and its schema, the base
directory, and the directory work of interrupted runs."""

import os
import stat

from vmm.check.base import FAIL, OK, TIMEOUT, WARNING
from vmm.i18n import _


def check_database(run):
    from vmm import database, schema
    from vmm.errors import VMMError
    cfg = run.config
    where = '%s@%s:%s' % (cfg['database.name'], cfg['database.host'],
                          cfg['database.port'])
    try:
        run.conn = database.connect(cfg, read_write=False)
    except VMMError as err:
        run.add(FAIL, 'database',
                _('%(error)s; check [database] in %(file)s')
                % {'error': err.msg, 'file': cfg.path})
        run.add(WARNING, 'schema', _('not checked: no database '
                                     'connection'))
        return
    run.conn.set_session(readonly=True, autocommit=False)
    run.cur = run.conn.cursor()
    run.cur.execute("SET statement_timeout = '%ds'" % TIMEOUT)
    run.add(OK, 'database', _('connected to %(where)s as %(user)s')
            % {'where': where, 'user': cfg['database.user']})
    try:
        version = schema.installed_version(run.cur)
    except VMMError as err:
        run.add(FAIL, 'schema', err.msg)
        return
    if version == schema.SCHEMA_VERSION:
        run.db_ok = True
        run.add(OK, 'schema', _('version %d, current') % version)
    elif version is not None and version > schema.SCHEMA_VERSION:
        run.add(FAIL, 'schema',
                _('the database schema (version %(db)d) is newer than '
                  'this vmm (version %(vmm)d): upgrade vmm')
                % {'db': version, 'vmm': schema.SCHEMA_VERSION})
    elif version is None:
        run.add(FAIL, 'schema', _('the database %s holds no vmm schema: '
                                  'run `vmm dbupgrade`')
                % cfg['database.name'])
    else:
        run.add(FAIL, 'schema',
                _('version %(db)d, this vmm needs %(vmm)d: run '
                  '`vmm dbupgrade`')
                % {'db': version, 'vmm': schema.SCHEMA_VERSION})


def check_base_directory(run):
    name = 'base_directory'
    path = run.config['misc.base_directory']
    try:
        st = os.stat(path)
    except FileNotFoundError:
        run.add(FAIL, name, _("'%(dir)s' (misc.base_directory) does not "
                              'exist: create it with `install -d -m '
                              "0711 %(dir)s`") % {'dir': path})
        return
    except OSError as err:
        run.add(FAIL, name, _("'%(dir)s' (misc.base_directory): "
                              '%(error)s') % {'dir': path,
                                              'error': err.strerror})
        return
    if not stat.S_ISDIR(st.st_mode):
        run.add(FAIL, name, _("'%s' (misc.base_directory) is not a "
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
        run.add(FAIL, name, _("'%s' (misc.base_directory): ") % path
                + '; '.join(problems))
    else:
        run.add(OK, name, _("'%(dir)s' exists, owner root, mode "
                            '%(mode)04o') % {'dir': path, 'mode': mode})


def check_interrupted_work(run):
    """Directory work of runs that were killed: every vmm run as root
    finishes it first, so anything here is waiting for one."""
    from vmm.staging import dead_runs
    name = 'interrupted_runs'
    runs = dead_runs(run.config['misc.base_directory'])
    removals = 0
    if run.db_ok:
        removals = run.query(name, lambda: run.scalar(
            'SELECT count(*) FROM directory_removal'))
        if removals is None:
            return
    if runs or removals:
        run.add(WARNING, name, _(
           'work of interrupted runs is waiting (runs with staged '
           'directories: %(runs)d, directory removals owed: '
           '%(removals)d): the next vmm command run as root finishes it')
           % {'runs': runs, 'removals': removals})
    else:
        run.add(OK, name, _('no directory work of an interrupted run '
                            'is waiting'))
