"""INSTALL's commands that adapt the shipped Postfix and Dovecot files,
run as written on copies of those files -- with INSTALL's names and with
other role, password and database names put into them -- and the result
read back the way Postfix and Dovecot read it."""

import os
import re
import shlex
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
POSTFIX = os.path.join(ROOT, 'pgsql', 'postfix')
DOVECOT = os.path.join(ROOT, 'pgsql', 'dovecot')


def install_commands(pattern):
    """The command lines of INSTALL (continuations joined) matching
    *pattern*."""
    with open(os.path.join(ROOT, 'INSTALL')) as handle:
        text = handle.read().replace('\\\n', ' ')
    return [line.strip() for line in text.splitlines()
            if re.match(pattern, line.strip())]


def run_sed(command, names, directory, targets):
    """Run INSTALL's sed *command* with *names* substituted for INSTALL's
    own, on the files of *directory* instead of *targets*' paths."""
    for ours, theirs in names.items():
        command = command.replace(ours, theirs)
    argv = shlex.split(command)
    assert argv[:2] == ['sed', '-i'], argv
    files = [a for a in argv if a.startswith(targets)]
    assert files, argv
    argv = [a for a in argv if not a.startswith(targets)]
    paths = []
    for path in files:
        base = os.path.basename(path)
        if '*' in base:
            paths += sorted(os.path.join(directory, n)
                            for n in os.listdir(directory)
                            if re.fullmatch(base.replace('.', r'\.')
                                            .replace('*', '.*'), n))
        else:
            paths.append(os.path.join(directory, base))
    subprocess.run(argv + paths, check=True)
    return paths


NAMES = [
    {},
    {'postfix-secret': 'pf-pw', 'dovecot-secret': 'dc-pw',
     'user = postfix': 'user = mx_lookup', 'user=dovecot': 'user=imap_lookup',
     'dbname = mailsys': 'dbname = mail2', 'dbname=mailsys': 'dbname=mail2'},
]


@pytest.mark.parametrize('names', NAMES)
def test_postfix_sed_sets_role_password_and_database(tmp_path, names):
    for name in os.listdir(POSTFIX):
        if name.startswith('pgsql-'):
            shutil.copy(os.path.join(POSTFIX, name), tmp_path)
    commands = install_commands(r'sed .*/etc/postfix/pgsql-')
    assert len(commands) == 1, commands
    paths = run_sed(commands[0], names, str(tmp_path), '/etc/postfix/')
    assert len(paths) == 10
    want = {'user': 'postfix', 'password': 'postfix-secret',
            'dbname': 'mailsys'}
    if names:
        want = {'user': 'mx_lookup', 'password': 'pf-pw', 'dbname': 'mail2'}
    for path in paths:
        with open(path) as handle:
            settings = dict(re.findall(r'^(\w+) = (.*)$', handle.read(),
                                       re.M))
        assert {k: settings[k] for k in want} == want, path
        assert 'CHANGE_ME' not in settings.values()


@pytest.mark.parametrize('names', NAMES)
def test_dovecot_sed_sets_role_password_and_database(tmp_path, names):
    for name in ('dovecot-sql.conf.ext', 'dovecot-dict-sql.conf.ext'):
        shutil.copy(os.path.join(DOVECOT, name), tmp_path)
    commands = install_commands(r'sed .*/etc/dovecot/dovecot-')
    assert len(commands) == 1, commands
    paths = run_sed(commands[0], names, str(tmp_path), '/etc/dovecot/')
    assert len(paths) == 2
    want = {'user': 'dovecot', 'password': 'dovecot-secret',
            'dbname': 'mailsys'}
    if names:
        want = {'user': 'imap_lookup', 'password': 'dc-pw',
                'dbname': 'mail2'}
    for path in paths:
        with open(path) as handle:
            connect = re.findall(r'^connect = (.*)$', handle.read(), re.M)
        assert len(connect) == 1, path
        fields = dict(item.split('=', 1) for item in connect[0].split())
        assert {k: fields[k] for k in want} == want, (path, connect)
        assert fields['host'] == 'localhost'
