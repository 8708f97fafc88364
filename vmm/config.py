"""vmm.cfg: finding, reading, validating and rewriting the configuration.

Every option has a parser that turns the file's text into a typed value or
raises ConfigError naming the option and the file; values are parsed once,
when the file is read, so a bad file fails before anything is changed.
"""

import configparser
import os
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
    """A directory mode: a decimal integer as vmm 0.7 wrote it (504), or
    octal when written with a leading zero (0770), as chmod takes it."""
    text = text.strip()
    if len(text) > 1 and text.startswith('0'):
        if not text.isascii() or not text.isdigit() or '8' in text or \
                '9' in text:
            raise ValueError(_('not a mode: write it in octal with a '
                               'leading zero (0770) or in decimal (504)'))
        mode = int(text, 8)
        if mode > 0o7777:
            raise ValueError(_('out of range') + ' (0…07777)')
    else:
        mode = _integer(0, 0o7777)(text)
    if mode & 0o700 != 0o700:
        raise ValueError(_('mode %04o would keep the owner out of the '
                           'directory (the owner needs rwx, e.g. 0700; '
                           'in decimal that is 448)') % mode)
    return mode


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


def _nameserver(text):
    """host[:port] of a DNS server, or empty for the system resolver."""
    text = text.strip()
    if not text:
        return ''
    host, sep, port = text.rpartition(':')
    if sep and not host.endswith(']') and ':' in host:
        host, port = text, ''    # a bare IPv6 address
    elif not sep:
        host, port = text, ''
    if not host.strip('[]') or (port and not port.isdigit()) \
            or (port and not 0 < int(port) < 65536):
        raise ValueError(_('not a host or host:port'))
    return text


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
    return QuotaLimit.parse_bytes(text.strip())


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
        'allow_others_write': (_boolean, 'false'),
    },
    'dkim': {
        'nameserver': (_nameserver, ''),
        'retire_days': (_integer(0, 36500), '7'),
    },
}

# Modes that must not let others (neither the owner nor the group) write
# unless misc.allow_others_write says so.
_MODE_OPTIONS = (('domain', 'directory_mode'), ('account', 'directory_mode'))


def others_may_write(values):
    """The mode options in *values* that let others write."""
    return ['%s.%s' % key for key in _MODE_OPTIONS if values[key] & 0o002]


def _check_modes(values, path=None):
    """Refuse a mode that lets others write, unless chosen explicitly;
    *path* None: the values came from the command line."""
    if values['misc', 'allow_others_write']:
        return
    for name in others_may_write(values):
        section, option = name.split('.')
        reason = _('mode %04o lets others write in the directories; set '
                   'misc.allow_others_write = true first if that is really '
                   'meant') % values[section, option]
        raise _invalid_value(name, values[section, option], reason, path)


def _invalid_value(name, value, reason, path):
    if path is None:
        return ConfigError(_("Invalid value for '%(option)s': %(value)r: "
                             "%(reason)s") % {'option': name, 'value': value,
                                              'reason': reason})
    return ConfigError(_("Invalid value for '%(option)s' in '%(file)s': "
                         "%(value)r: %(reason)s")
                       % {'option': name, 'file': path, 'value': value,
                          'reason': reason})


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
    """The file to read (vmm(1) FILES): --config, $VMM_CONFIG, then the
    search path."""
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
    mode = st.st_mode
    if mode & (stat.S_IROTH | stat.S_IWOTH | stat.S_IWGRP):
        problems = []
        if mode & stat.S_IROTH:
            problems.append(_('others can read it'))
        if mode & stat.S_IWOTH:
            problems.append(_('others can write it'))
        if mode & stat.S_IWGRP:
            problems.append(_('its group can write it'))
        raise ConfigError(
            _("Configuration file '%(file)s' has mode %(mode)04o: "
              "%(problems)s. Fix it with: chmod o-rwx,g-w %(file)s")
            % {'file': path, 'mode': stat.S_IMODE(mode),
               'problems': '; '.join(problems)},
            errors.CONF_WRONGPERM)


def _parse_problem(err):
    """What is wrong where in the file, in words (configparser's own
    message spans lines and is not translated)."""
    if isinstance(err, configparser.MissingSectionHeaderError):
        return _('line %(line)d: %(text)s is not a section header such as '
                 '[database], and no section has begun') % {
                     'line': err.lineno, 'text': repr(err.line.strip())}
    if isinstance(err, configparser.ParsingError) and err.errors:
        lineno, text = err.errors[0]
        try:    # configparser keeps the line as its repr()
            import ast
            text = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            pass
        return _('line %(line)d: %(text)s is neither a [section] header, '
                 'an option = value line nor a comment') % {
                     'line': lineno, 'text': repr(text.strip())}
    if isinstance(err, configparser.DuplicateOptionError):
        return _('line %(line)d: option %(option)s appears twice in '
                 '[%(section)s]') % {'line': err.lineno,
                                     'option': err.option,
                                     'section': err.section}
    if isinstance(err, configparser.DuplicateSectionError):
        return _('line %(line)d: section [%(section)s] appears twice') % {
            'line': err.lineno, 'section': err.section}
    return str(err).splitlines()[0]


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
            raise ConfigError(_("Configuration file '%(file)s' cannot be "
                                "parsed: %(error)s")
                              % {'file': path,
                                 'error': _parse_problem(err)}) from None
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
            for option, (_parse, default) in options.items():
                text = parser.get(section, option, fallback=default)
                values[section, option] = parse_value(
                    section, option, text, path)
        _check_modes(values, path)
        return values

    def get(self, name):
        """The typed value of ``section.option``."""
        return self._values[split_option(name)]

    def __getitem__(self, name):
        return self._values[tuple(name.split('.', 1))]

    def values(self):
        """Every typed value, by (section, option)."""
        return dict(self._values)

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
                           parse_value(section, option, text)))
        values = dict(self._values)
        values.update({(section, option): value
                       for section, option, _text, value in parsed})
        _check_modes(values)
        with open(self.path, encoding='utf-8') as handle:
            content = handle.read()
        self._write(_edited(content, [change[:3] for change in parsed]))
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


def _edited(content, changes):
    """*content* with each (section, option, text) of *changes* set: the
    option's lines (continuation lines too) replaced where it is, else
    added to its section, which is added when missing; comments and
    everything else stay as they are."""
    from configupdater import ConfigUpdater
    updater = ConfigUpdater()
    updater.read_string(content)
    for section, option, text in changes:
        if not updater.has_section(section):
            sections = updater.sections()
            if sections:
                updater[sections[-1]].add_after.space().section(section)
            else:
                updater.add_section(section)
        updater[section][option] = text
    return str(updater)


def parse_value(section, option, text, path=None):
    """Parse one option's text, or raise ConfigError naming it and *path*
    (None: the value was given on the command line)."""
    parse = OPTIONS[section][option][0]
    try:
        return parse(text)
    except errors.VMMError as err:
        reason = err.msg
    except ValueError as err:
        reason = str(err)
    raise _invalid_value('%s.%s' % (section, option), text, reason, path)
