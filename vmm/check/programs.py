"""Running Postfix's and Dovecot's programs with a timeout, and reading
what they print and the files they name."""

import os
import re
import shutil
import subprocess

from vmm.check.base import TIMEOUT
from vmm.i18n import _, ngettext


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


def run_program(argv, input=None, timeout=TIMEOUT):
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
