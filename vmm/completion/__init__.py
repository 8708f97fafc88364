"""Shell completion: ``vmm _complete CWORD WORD…`` prints the candidates
for word number CWORD, one per line.  The bash and zsh functions in this
directory call it; domain names and addresses come from the database when
vmm.cfg is usable and the server answers within two seconds."""

import sys

_SERVICES = ('imap', 'pop3', 'sieve', 'smtp')
# Positional metavars whose candidates come from the database.
_FROM_DATABASE = {'FQDN': 'domains', 'ADDRESS': 'addresses',
                  'NEWADDRESS': 'addresses', 'DESTINATION': 'destinations'}


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
    metavars = [a.metavar or a.dest for a in parser._actions
                if not a.option_strings]
    metavar = metavars[min(len(positionals), len(metavars) - 1)] \
        if metavars else None
    if command in ('aliasdomainadd', 'aliasdomainswitch') and \
            metavar == 'DESTINATION':
        metavar = 'FQDN'
    if metavar in _FROM_DATABASE:
        return _from_database(_FROM_DATABASE[metavar], current, config)
    return []


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


def _from_database(kind, prefix, config_path):
    """Domain names or addresses starting with *prefix*; [] when the
    database cannot be asked quickly."""
    try:
        from vmm import database
        from vmm.config import Config
        config = Config.load(config_path)
        conn = database.connect(config, read_write=False, timeout=2)
    except Exception:  # no usable configuration or server: no candidates
        return []
    try:
        with conn.cursor() as cur:
            like = prefix.replace('\\', '\\\\').replace('%', '\\%') \
                .replace('_', '\\_') + '%'
            if kind == 'domains':
                cur.execute('SELECT domainname FROM domain_name WHERE '
                            'domainname LIKE %(p)s UNION SELECT domainname '
                            'FROM relay_domain WHERE domainname LIKE %(p)s '
                            'ORDER BY 1 LIMIT 500', {'p': like})
            else:
                cur.execute(
                    "SELECT a FROM (SELECT u.local_part || '@' || "
                    'n.domainname AS a FROM users u JOIN domain_name n '
                    "USING (gid) UNION SELECT a.address || '@' || "
                    'n.domainname FROM alias a JOIN domain_name n USING '
                    "(gid) UNION SELECT r.address || '@' || n.domainname "
                    'FROM relocated r JOIN domain_name n USING (gid)) x '
                    'WHERE a LIKE %s ORDER BY 1 LIMIT 500', (like,))
            return [row[0] for row in cur.fetchall()]
    except Exception:  # an old schema, a lost connection: no candidates
        return []
    finally:
        conn.close()


def main(argv):
    """``vmm _complete CWORD WORD…``."""
    try:
        index = int(argv[0])
    except (IndexError, ValueError):
        return 2
    for candidate in candidates(argv[1:], index):
        sys.stdout.write(candidate + '\n')
    return 0
