"""vmm.cfg: finding, reading, validating and rewriting the configuration.

Every option has a parser that turns the file's text into a typed value or
raises ConfigError naming the option and the file; values are parsed once,
when the file is read, so a bad file fails before anything is changed.
"""

import configparser
import os
import re
import stat

from vmm import errors
from vmm.errors import ConfigError
from vmm.i18n import _

SEARCH_PATH = ('/root/vmm.cfg', '/usr/local/etc/vmm.cfg', '/etc/vmm.cfg',
               '/etc/vmm/vmm.cfg')

# Options vmm 0.6/0.7 wrote that mean nothing any more; accepted and ignored
# so that an old vmm.cfg keeps working.
LEGACY_OPTIONS = {('database', 'module')}

_BOOLEAN_WORDS = configparser.ConfigParser.BOOLEAN_STATES


def _boolean(text):
    try:
        return _BOOLEAN_WORDS[text.strip().lower()]
    except KeyError:
        raise ValueError(_('not a boolean (use true or false)')) from None


def _integer(minimum=0, maximum=None):
    def parse(text):
        try:
            number = int(text.strip(), 10)
        except ValueError:
            raise ValueError(_('not a whole number')) from None
        if number < minimum or (maximum is not None and number > maximum):
            raise ValueError(_('out of range') + ' (%d…%s)' % (
                minimum, maximum if maximum is not None else '∞'))
        return number
    return parse


def _mode(text):
    """A directory mode, written as a decimal integer as in vmm 0.7."""
    return _integer(0, 0o7777)(text)


def _choice(*words):
    def parse(text):
        word = text.strip()
        if word not in words:
            raise ValueError(_('must be one of: %s') % ', '.join(words))
        return word
    return parse


def _text(text):
    return text.strip()


def _nonempty(text):
    text = text.strip()
    if not text:
        raise ValueError(_('must not be empty'))
    return text


def _absolute_path(text):
    text = text.strip()
    if not os.path.isabs(text):
        raise ValueError(_('must be an absolute path'))
    return os.path.normpath(text)


def _optional_path(text):
    """An absolute path, or empty for the program's own default."""
    return _absolute_path(text) if text.strip() else ''


def _directory_name(text):
    """A single directory name below the account's home (mailbox.root)."""
    text = text.strip()
    if not text or text in ('.', '..') or '/' in text or '\0' in text:
        raise ValueError(_('must be a single directory name'))
    return text


def _folders(text):
    from vmm.mailbox import parse_folders
    return parse_folders(text)


def _storage(text):
    from vmm.models.values import QuotaLimit
    return QuotaLimit.parse_bytes(text)


def _transport(text):
    from vmm.models.values import Transport
    return str(Transport(text.strip()))


def _password_scheme(text):
    from vmm.password import check_scheme
    return check_scheme(text.strip())


def _hosts(text):
    hosts = [h.strip() for h in text.split(',')]
    if not all(hosts):
        raise ValueError(_('empty host in list'))
    return ','.join(hosts)


def _ports(text):
    ports = [_integer(1, 65535)(p) for p in text.split(',')]
    return ','.join(str(p) for p in ports)


def _default_aliases(text):
    """``local=destination, …``: the aliases domainadd creates."""
    from vmm.models.values import EmailAddress, check_localpart
    pairs = []
    for item in text.split(','):
        item = item.strip()
        if not item:
            continue
        local, sep, destination = item.partition('=')
        if not sep:
            raise ValueError(_('%r is not local=destination') % item)
        local = check_localpart(local.strip())
        destination = destination.strip()
        EmailAddress.parse_destination(destination)
        pairs.append((local, destination))
    return tuple(pairs)


# section -> option -> (parser, default text)
OPTIONS = {
    'database': {
        'host': (_hosts, 'localhost'),
        'port': (_ports, '5432'),
        'sslmode': (_choice('disable', 'allow', 'prefer', 'require',
                            'verify-ca', 'verify-full'), 'prefer'),
        'user': (_nonempty, 'vmm'),
        'pass': (_text, ''),
        'name': (_nonempty, 'mailsys'),
    },
    'mailbox': {
        'format': (_choice('maildir', 'mdbox', 'sdbox'), 'maildir'),
        'folders': (_folders, 'Drafts:Sent:Templates:Trash'),
        'root': (_directory_name, 'Maildir'),
        'subscribe': (_boolean, 'true'),
    },
    'domain': {
        'auto_postmaster': (_boolean, 'true'),
        'delete_directory': (_boolean, 'false'),
        'directory_mode': (_mode, '504'),
        'force_deletion': (_boolean, 'false'),
        'smtp': (_boolean, 'true'),
        'pop3': (_boolean, 'true'),
        'imap': (_boolean, 'true'),
        'sieve': (_boolean, 'true'),
        'quota_bytes': (_storage, '0'),
        'quota_messages': (_integer(0, 2**31 - 1), '0'),
        'transport': (_transport, 'lmtp:unix:private/dovecot-lmtp'),
        'max_accounts': (_integer(0, 2**31 - 1), '0'),
        'max_aliases': (_integer(0, 2**31 - 1), '0'),
        'max_alias_domains': (_integer(0, 2**31 - 1), '0'),
        'default_aliases': (_default_aliases, ''),
    },
    'account': {
        'delete_directory': (_boolean, 'false'),
        'directory_mode': (_mode, '448'),
        'disk_usage': (_boolean, 'false'),
        'random_password': (_boolean, 'false'),
        'password_length': (_integer(8, 1024), '8'),
    },
    'bin': {
        'doveadm': (_absolute_path, '/usr/bin/doveadm'),
        'du': (_absolute_path, '/usr/bin/du'),
        'postconf': (_absolute_path, '/usr/sbin/postconf'),
    },
    'misc': {
        'base_directory': (_absolute_path, '/srv/mail'),
        'crypt_blowfish_rounds': (_integer(4, 31), '5'),
        'crypt_sha256_rounds': (_integer(1000, 999999999), '5000'),
        'crypt_sha512_rounds': (_integer(1000, 999999999), '5000'),
        'dovecot_config': (_optional_path, ''),
        'dovecot_version': (_text, ''),
        'password_scheme': (_password_scheme, 'SHA512-CRYPT'),
        'relay_transport': (_transport, 'smtp:'),
    },
}


def split_option(name):
    """``section.option`` → (section, option), or exit 46/44 naming it."""
    section, dot, option = name.partition('.')
    if not dot or section not in OPTIONS:
        raise ConfigError(_("Unknown section: '%s'") % section,
                          errors.INVALID_SECTION)
    if option not in OPTIONS[section]:
        raise ConfigError(_("Unknown option: '%s'") % name,
                          errors.INVALID_OPTION)
    return section, option


def find_config_file(explicit=None):
    """The file SPEC §1 names: --config, $VMM_CONFIG, then the search path."""
    if explicit:
        return explicit
    from_env = os.environ.get('VMM_CONFIG')
    if from_env:
        return from_env
    for path in SEARCH_PATH:
        if os.path.exists(path):
            return path
    raise ConfigError(
        _('No configuration file found; looked in: %s. Give one with '
          '--config or $VMM_CONFIG.') % ', '.join(SEARCH_PATH),
        errors.CONF_NOFILE)


def check_permissions(path, st):
    """Refuse a file that holds a database password and others may read."""
    if st.st_mode & (stat.S_IROTH | stat.S_IWOTH | stat.S_IWGRP):
        raise ConfigError(
            _("Configuration file '%(file)s' has mode %(mode)04o: others "
              "can read it or others can write it. Fix it with: chmod "
              "o-rwx,g-w %(file)s") % {'file': path,
                                       'mode': stat.S_IMODE(st.st_mode)},
            errors.CONF_WRONGPERM)


class Config:
    """The validated contents of one vmm.cfg."""

    def __init__(self, path, values, parser):
        self.path = path
        self._values = values
        self._parser = parser

    @classmethod
    def load(cls, path=None):
        path = find_config_file(path)
        try:
            with open(path, encoding='utf-8') as handle:
                check_permissions(path, os.fstat(handle.fileno()))
                text = handle.read()
        except FileNotFoundError:
            raise ConfigError(_("Configuration file '%s' does not exist")
                              % path, errors.CONF_NOFILE) from None
        except IsADirectoryError:
            raise ConfigError(_("Configuration file '%s' is a directory")
                              % path, errors.CONF_NOFILE) from None
        except PermissionError:
            raise ConfigError(_("Configuration file '%s' is not readable")
                              % path, errors.CONF_NOPERM) from None
        except UnicodeDecodeError:
            raise ConfigError(_("Configuration file '%s' is not UTF-8 text")
                              % path) from None
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read_string(text, source=path)
        except configparser.Error as err:
            first_line = str(err).splitlines()[0]
            raise ConfigError(_("Configuration file '%(file)s' cannot be "
                                "parsed: %(error)s")
                              % {'file': path, 'error': first_line}) from None
        return cls(path, cls._validate(path, parser), parser)

    @staticmethod
    def _validate(path, parser):
        values = {}
        for section in parser.sections():
            if section not in OPTIONS:
                raise ConfigError(_("Unknown section '%(section)s' in "
                                    "'%(file)s'")
                                  % {'section': section, 'file': path})
            for option in parser.options(section):
                if (option not in OPTIONS[section]
                        and (section, option) not in LEGACY_OPTIONS):
                    raise ConfigError(_("Unknown option '%(option)s' in "
                                        "'%(file)s'")
                                      % {'option': '%s.%s' % (section, option),
                                         'file': path})
        for section, options in OPTIONS.items():
            for option, (parse, default) in options.items():
                text = parser.get(section, option, fallback=default)
                values[section, option] = parse_value(
                    section, option, text, path)
        return values

    def get(self, name):
        """The typed value of ``section.option``."""
        return self._values[split_option(name)]

    def __getitem__(self, name):
        return self._values[tuple(name.split('.', 1))]

    def text(self, name):
        """The option as written in the file (or its default)."""
        section, option = split_option(name)
        return self._parser.get(section, option,
                                fallback=OPTIONS[section][option][1])

    def set(self, name, text):
        """Validate *text* for ``section.option`` and rewrite the file.

        Only the option's line changes, so the comments stay. The old file
        is kept as ``vmm.cfg.bak``; the new one keeps the old one's owner
        and mode and replaces it atomically.
        """
        self.set_many([(name, text)])

    def set_many(self, changes):
        """Validate and store several ``(name, text)`` pairs in one write."""
        parsed = []
        for name, text in changes:
            section, option = split_option(name)
            parsed.append((section, option, text.strip(),
                           parse_value(section, option, text, self.path)))
        with open(self.path, encoding='utf-8') as handle:
            lines = handle.read().splitlines()
        for section, option, text, _value in parsed:
            lines = _replace_option(lines, section, option, text)
        self._write('\n'.join(lines) + '\n')
        for section, option, text, value in parsed:
            if not self._parser.has_section(section):
                self._parser.add_section(section)
            self._parser.set(section, option, text)
            self._values[section, option] = value

    def _write(self, content):
        import shutil
        import tempfile
        st = os.stat(self.path)
        directory = os.path.dirname(os.path.abspath(self.path))
        shutil.copy2(self.path, self.path + '.bak')
        if os.geteuid() == 0:
            os.chown(self.path + '.bak', st.st_uid, st.st_gid)
        fd, tmp = tempfile.mkstemp(prefix='.vmm.cfg.', dir=directory)
        try:
            with os.fdopen(fd, 'w', encoding='utf-8') as handle:
                os.fchmod(handle.fileno(), stat.S_IMODE(st.st_mode))
                if os.geteuid() == 0:
                    os.fchown(handle.fileno(), st.st_uid, st.st_gid)
                handle.write(content)
            os.replace(tmp, self.path)
        except BaseException:
            os.unlink(tmp)
            raise


_SECTION_RE = re.compile(r'^\s*\[([^]]+)\]')


def _replace_option(lines, section, option, text):
    """Set *option* in *section* of the file's *lines*, keeping the rest."""
    option_re = re.compile(r'^\s*%s\s*[=:]' % re.escape(option), re.I)
    current, section_end = None, None
    for index, line in enumerate(lines):
        match = _SECTION_RE.match(line)
        if match:
            if current == section:
                break
            current = match.group(1).strip()
            if current == section:
                section_end = index + 1
            continue
        if current == section:
            if option_re.match(line):
                lines[index] = '%s = %s' % (option, text)
                return lines
            if line.strip() and not line.lstrip().startswith(('#', ';')):
                section_end = index + 1
    if section_end is None:
        return lines + ['', '[%s]' % section, '%s = %s' % (option, text)]
    return lines[:section_end] + ['%s = %s' % (option, text)] + \
        lines[section_end:]


def parse_value(section, option, text, path):
    """Parse one option's text, or raise ConfigError naming it and *path*."""
    parse = OPTIONS[section][option][0]
    try:
        return parse(text)
    except errors.VMMError as err:
        reason = err.msg
    except ValueError as err:
        reason = str(err)
    raise ConfigError(_("Invalid value for '%(option)s' in '%(file)s': "
                        "%(value)r: %(reason)s")
                      % {'option': '%s.%s' % (section, option), 'file': path,
                         'value': text, 'reason': reason})
