"""aliasdomainadd, aliasdomaindelete, aliasdomaininfo, aliasdomainswitch,
and the relay domains: relaydomainadd, relaydomaindelete,
relaydomaininfo."""

from vmm.cli import common
from vmm.cli.parser import add_command
from vmm.i18n import _


@common.with_handler
def do_aliasdomainadd(args, handler):
    handler.aliasdomain_add(args.fqdn, args.destination)


@common.with_handler
def do_aliasdomaindelete(args, handler):
    handler.aliasdomain_delete(args.fqdn)


@common.with_handler
def do_aliasdomaininfo(args, handler):
    info = handler.aliasdomain_info(args.fqdn)
    args.out.info('aliasdomain', _('Alias domain information'), [
        ('name', _('Alias domain'), info.name),
        ('primary', _('Primary domain'), info.primary)])


@common.with_handler
def do_aliasdomainswitch(args, handler):
    handler.aliasdomain_switch(args.fqdn, args.destination)


@common.with_handler
def do_relaydomainadd(args, handler):
    handler.relaydomain_add(args.fqdn, args.transport, args.recipient or ())


@common.with_handler
def do_relaydomaindelete(args, handler):
    handler.relaydomain_delete(args.fqdn)


@common.with_handler
def do_relaydomaininfo(args, handler):
    from vmm.models.values import EmailAddress
    info = handler.relaydomain_info(args.fqdn)
    shown = [EmailAddress.display(r) for r in info.recipients]
    args.out.info('relaydomain', _('Relay domain information'), [
        ('name', _('Relay domain'), info.name),
        ('transport', _('Transport'), info.transport),
        ('recipients', _('Recipients'),
         ', '.join(shown) if shown else _('any'), shown or None),
        ('note', _('Note'), info.note)])


def _with_fqdn(sub, name, short, help_text, func):
    p = add_command(sub, name, short, help_text, func)
    p.add_argument('fqdn', metavar='FQDN')
    return p


def build_aliasdomainadd(sub, name, short):
    p = _with_fqdn(sub, name, short,
                   _('create an alias domain of a primary domain'),
                   do_aliasdomainadd)
    p.add_argument('destination', metavar='DESTINATION',
                   help=_('the primary domain'))
    return p


def build_aliasdomaindelete(sub, name, short):
    return _with_fqdn(sub, name, short, _('delete an alias domain'),
                      do_aliasdomaindelete)


def build_aliasdomaininfo(sub, name, short):
    return _with_fqdn(sub, name, short,
                      _('show the primary domain of an alias domain'),
                      do_aliasdomaininfo)


def build_aliasdomainswitch(sub, name, short):
    p = _with_fqdn(sub, name, short,
                   _('move an alias domain to another primary domain'),
                   do_aliasdomainswitch)
    p.add_argument('destination', metavar='DESTINATION',
                   help=_('the new primary domain'))
    return p


def build_relaydomainadd(sub, name, short):
    p = _with_fqdn(sub, name, short,
                   _('create a relay (backup MX) domain'), do_relaydomainadd)
    p.add_argument('-t', '--transport',
                   help=_('where to pass its mail on (default: '
                          'misc.relay_transport)'))
    p.add_argument('--recipient', nargs='+', metavar='ADDRESS',
                   help=_('accept only these addresses (default: any)'))
    return p


def build_relaydomaindelete(sub, name, short):
    return _with_fqdn(sub, name, short, _('delete a relay domain'),
                      do_relaydomaindelete)


def build_relaydomaininfo(sub, name, short):
    return _with_fqdn(sub, name, short,
                      _('show information about a relay domain'),
                      do_relaydomaininfo)


BUILDERS = {
    'aliasdomainadd': build_aliasdomainadd,
    'aliasdomaindelete': build_aliasdomaindelete,
    'aliasdomaininfo': build_aliasdomaininfo,
    'aliasdomainswitch': build_aliasdomainswitch,
    'relaydomainadd': build_relaydomainadd,
    'relaydomaindelete': build_relaydomaindelete,
    'relaydomaininfo': build_relaydomaininfo,
}
