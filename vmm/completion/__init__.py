"""Shell completion: ``vmm _complete CWORD WORD…`` prints the candidates
for word number CWORD, one per line.  The bash and zsh functions in this
directory call it; domain names and addresses come from the database when
vmm.cfg is usable and the server answers within two seconds."""

import sys

_SERVICES = ('imap', 'pop3', 'sieve', 'smtp')
_ACCOUNT_COMMANDS = ('userdelete', 'userinfo', 'username', 'usernote',
                     'userpassword', 'userquota', 'userservices',
                     'usertransport', 'uservacation')
_PRIMARY_COMMANDS = ('domaindelete', 'domaininfo', 'domainlimits',
                     'domainnote', 'domainquota', 'domainservices',
                     'domaintransport', 'catchallinfo', 'dkimadd',
                     'dkiminfo', 'dkimrotate', 'dkimactivate', 'dkimdelete')
# For each command, what its positionals accept from the database, one
# kind per positional (the last repeats); None: a new name, nothing to
# offer.  Only what the command takes is offered: no alias domain to
# domaininfo, no relocated user to userinfo.
_KINDS = dict(
    [(command, ('accounts',)) for command in _ACCOUNT_COMMANDS] +
    [(command, ('primary',)) for command in _PRIMARY_COMMANDS],
    catchalladd=('primary', 'accounts'),
    catchalldelete=('primary', 'catchall'),
    aliasdomainadd=(None, 'primary'),
    aliasdomaindelete=('aliasdomains',),
    aliasdomaininfo=('aliasdomains',),
    aliasdomainswitch=('aliasdomains', 'primary'),
    relaydomaindelete=('relays',),
    relaydomaininfo=('relays',),
    aliasadd=('primary aliases', 'accounts'),
    aliasdelete=('aliases', 'destinations'),
    aliasinfo=('aliases',),
    relocatedadd=(None, 'accounts'),
    relocateddelete=('relocated',),
    relocatedinfo=('relocated',))
_DOMAIN_SQL = {
    'primary': 'SELECT domainname FROM domain_name WHERE is_primary',
    'aliasdomains': 'SELECT domainname FROM domain_name WHERE NOT '
                    'is_primary',
    'relays': 'SELECT domainname FROM relay_domain',
}
# local part, domain name of the addresses of each kind; %(l)s a LIKE
# pattern for the local part, %(d)s the domain names that may follow it.
_ADDRESS_SQL = {
    'accounts': 'SELECT u.local_part, n.domainname FROM users u JOIN '
                'domain_name n USING (gid)',
    'aliases': 'SELECT DISTINCT a.address, n.domainname FROM alias a JOIN '
               'domain_name n USING (gid)',
    'primary aliases': 'SELECT DISTINCT a.address, n.domainname FROM alias '
                       'a JOIN domain_name n ON n.gid = a.gid AND '
                       'n.is_primary',
    'relocated': 'SELECT r.address, n.domainname FROM relocated r JOIN '
                 'domain_name n USING (gid)',
}


def candidates(words, index):
    """Completions for ``words[index]`` of the command line *words*."""
    from vmm.cli import COMMANDS, SHORT_NAMES, command_name
    current = words[index] if index < len(words) else ''
    before = words[1:index]
    config, command, positionals = None, None, []
    skip = False
    for position, word in enumerate(before):
        if skip:
            skip = False
            if before[position - 1] in ('-c', '--config'):
                config = word
            continue
        if word in ('-c', '--config'):
            skip = True
        elif word.startswith('-'):
            continue
        elif command is None:
            command = command_name(word)
            if command is None:
                return []
        else:
            positionals.append(word)
    if command is None:
        if current.startswith('-'):
            return _match(['--config', '--json', '--help', '--version'],
                          current)
        return _match(sorted(list(COMMANDS) + list(SHORT_NAMES)), current)
    parser = _subparser(command)
    previous = before[-1] if before else ''
    option = _option(parser, previous)
    if option is not None and option.nargs != 0:
        return _option_values(option, current)
    if current.startswith('-'):
        return _match(sorted(s for a in parser._actions
                             for s in a.option_strings), current)
    if command in ('configget', 'configset') and not positionals:
        from vmm.config import OPTIONS
        return _match(['%s.%s' % (section, name) for section in OPTIONS
                       for name in OPTIONS[section]], current)
    kinds = _KINDS.get(command)
    kind = kinds[min(len(positionals), len(kinds) - 1)] if kinds else None
    if kind is None:
        return []
    return _from_database(kind, current, config, positionals[:1])


def _subparser(command):
    from vmm.cli.parser import build_parser
    return build_parser(command).subparsers.choices[command]


def _option(parser, word):
    for action in parser._actions:
        if word in action.option_strings:
            return action
    return None


def _option_values(option, current):
    if option.choices:
        return _match(sorted(option.choices), current)
    if option.dest in ('enable', 'disable'):
        return _match(_SERVICES, current)
    if option.dest == 'section':
        from vmm.config import OPTIONS
        return _match(sorted(OPTIONS), current)
    return []


def _match(words, prefix):
    return [word for word in words if word.startswith(prefix)]


def _from_database(kind, prefix, config_path, first):
    """Names or addresses of *kind* starting with *prefix*, in Unicode as
    vmm shows them; [] when the database cannot be asked quickly.
    *first* holds the command's first positional, whose destinations
    ``destinations`` and ``catchall`` offer."""
    try:
        from vmm import database
        from vmm.config import Config
        config = Config.load(config_path)
        conn = database.connect(config, read_write=False, timeout=2)
    except Exception:  # no usable configuration or server: no candidates
        return []
    try:
        with conn.cursor() as cur:
            if kind in _DOMAIN_SQL:
                cur.execute(_DOMAIN_SQL[kind])
                found = _shown_domains(cur, prefix)
            elif kind in ('destinations', 'catchall'):
                found = _destinations(cur, kind, first, prefix)
            else:
                found = _addresses(cur, kind, prefix)
    except Exception:  # an old schema, a lost connection: no candidates
        return []
    finally:
        conn.close()
    from vmm.models.values import display_order
    return sorted(found, key=display_order)[:500]


def _shown_domains(cur, prefix):
    """The Unicode forms of the names *cur* returned that start with
    *prefix*."""
    from vmm.models.values import display_domain
    shown = (display_domain(row[0]) for row in cur.fetchall())
    return [name for name in shown if name.startswith(prefix)]


def _addresses(cur, kind, prefix):
    from vmm.models.values import display_domain
    local, at, _domain = prefix.partition('@')
    like = local.replace('\\', '\\\\').replace('%', '\\%') \
        .replace('_', '\\_') + ('' if at else '%')
    cur.execute('SELECT * FROM (%s) x (local_part, domainname) WHERE '
                'local_part LIKE %%(l)s LIMIT 5000' % _ADDRESS_SQL[kind],
                {'l': like})
    shown = ('%s@%s' % (row[0], display_domain(row[1]))
             for row in cur.fetchall())
    return [address for address in shown if address.startswith(prefix)]


def _destinations(cur, kind, first, prefix):
    """The destinations of the alias or catch-all domain named first."""
    from vmm.models.alias import Alias, CatchallAlias
    from vmm.models.domain import Domain
    from vmm.models.values import DomainName, EmailAddress
    if not first:
        return []
    if kind == 'catchall':
        owner = CatchallAlias(cur, Domain.get(cur, DomainName(first[0])))
    else:
        address = EmailAddress(first[0])
        owner = Alias(cur, Domain.owning(cur, address.domain),
                      address.localpart)
    shown = (EmailAddress.display(d) for d in owner.destinations())
    return [destination for destination in shown
            if destination.startswith(prefix)]


def main(argv):
    """``vmm _complete CWORD WORD…``."""
    try:
        index = int(argv[0])
    except (IndexError, ValueError):
        return 2
    for candidate in candidates(argv[1:], index):
        sys.stdout.write(candidate + '\n')
    return 0
