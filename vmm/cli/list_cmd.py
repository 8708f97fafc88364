"""listdomains, listaddresses, listaliases, listrelocated, listusers.

Rows are printed as they arrive from the database, so a listing of a
million addresses does not sit in memory."""

from vmm.cli import common
from vmm.cli.parser import add_command
from vmm.i18n import _

_KINDS = {
    'listaddresses': ('account', 'alias', 'relocated'),
    'listaliases': ('alias',),
    'listrelocated': ('relocated',),
    'listusers': ('account',),
}


_MARKS = {'primary': '[+]', 'alias': '    [-]', 'relay': '[r]'}
_KIND_NAMES = {'u': 'account', 'a': 'alias', 'r': 'relocated'}
_KIND_LETTERS = {name: letter for letter, name in _KIND_NAMES.items()}


@common.with_handler
def do_listdomains(args, handler):
    from vmm.models import listing
    from vmm.models.values import display_domain
    args.out.items('domains', _('Matching domains'), (
        {'name': display_domain(name), 'kind': kind,
         'primary': display_domain(primary)}
        for kind, name, primary in listing.domains(handler.conn,
                                                   args.pattern)),
        text=lambda e: '%s %s' % (_MARKS[e['kind']], e['name']))


@common.with_handler
def do_listaddresses(args, handler):
    from vmm.models import listing
    from vmm.models.values import display_domain
    show_kind = args.command == 'listaddresses'
    titles = {'listaddresses': _('Matching addresses'),
              'listaliases': _('Matching aliases'),
              'listrelocated': _('Matching relocated users'),
              'listusers': _('Matching user accounts')}

    def text(entry):
        return '%s %s%s' % (
            '[+]' if entry['primary_domain'] else '[-]',
            _KIND_LETTERS[entry['kind']] + ' ' if show_kind else '',
            entry['address'])
    args.out.items('addresses', titles[args.command], (
        {'address': '%s@%s' % (local, display_domain(domain)),
         'kind': _KIND_NAMES[kind], 'primary_domain': primary}
        for kind, local, domain, primary in listing.addresses(
            handler.conn, args.pattern, _KINDS[args.command])),
        text=text)


def _build(help_text, func):
    def build(sub, name, short):
        p = add_command(sub, name, short, help_text, func)
        p.add_argument('-p', '--pattern', metavar='PATTERN',
                       help=_('only entries matching PATTERN; %% at its '
                              'start or end is a wildcard, e.g. %%example%% '
                              'or %%user%%@%%example%%'))
        return p
    return build


BUILDERS = {
    'listdomains': _build(_('list the domains: [+] primary, [-] alias, '
                            '[r] relay'), do_listdomains),
    'listaddresses': _build(_('list all addresses: u account, a alias, '
                              'r relocated'), do_listaddresses),
    'listaliases': _build(_('list the aliases'), do_listaddresses),
    'listrelocated': _build(_('list the relocated users'), do_listaddresses),
    'listusers': _build(_('list the accounts'), do_listaddresses),
}
