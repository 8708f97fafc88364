"""aliasadd, aliasdelete, aliasinfo, relocatedadd, relocateddelete,
relocatedinfo, catchalladd, catchalldelete, catchallinfo."""

from vmm.cli import common
from vmm.cli.parser import add_command
from vmm.i18n import _


def _display(address):
    from vmm.models.values import EmailAddress
    return EmailAddress.display(address)


@common.with_handler
def do_aliasadd(args, handler):
    handler.alias_add(args.address, args.destination)


@common.with_handler
def do_aliasdelete(args, handler):
    handler.alias_delete(args.address, args.destination or None)


def _destinations(args, key, title, info):
    args.out.field(key, info.name)
    args.out.items('destinations', title % info.name,
                   (_display(d) for d in info.destinations))


@common.with_handler
def do_aliasinfo(args, handler):
    _destinations(args, 'alias', _('Alias information: %s'),
                  handler.alias_info(args.address))


@common.with_handler
def do_relocatedadd(args, handler):
    handler.relocated_add(args.address, args.newaddress)


@common.with_handler
def do_relocateddelete(args, handler):
    handler.relocated_delete(args.address)


@common.with_handler
def do_relocatedinfo(args, handler):
    info = handler.relocated_info(args.address)
    args.out.info('relocated', _('Relocated information'), [
        ('address', _('Address'), info.address),
        ('destination', _('New address'), _display(info.destination))])


@common.with_handler
def do_catchalladd(args, handler):
    handler.catchall_add(args.fqdn, args.destination)


@common.with_handler
def do_catchalldelete(args, handler):
    handler.catchall_delete(args.fqdn, args.destination or None)


@common.with_handler
def do_catchallinfo(args, handler):
    _destinations(args, 'domain', _('Catch-all information: %s'),
                  handler.catchall_info(args.fqdn))


def _address_command(sub, name, short, help_text, func):
    p = add_command(sub, name, short, help_text, func)
    p.add_argument('address', metavar='ADDRESS')
    return p


def build_aliasadd(sub, name, short):
    p = _address_command(sub, name, short,
                         _('create an alias or add destinations to it'),
                         do_aliasadd)
    p.add_argument('destination', metavar='DESTINATION', nargs='+',
                   help=_('addresses; %%n, %%d and %%= are filled in with '
                          'the local part, the domain and local=domain of '
                          'the address looked up'))
    return p


def build_aliasdelete(sub, name, short):
    p = _address_command(sub, name, short,
                         _('delete an alias or some of its destinations'),
                         do_aliasdelete)
    p.add_argument('destination', metavar='DESTINATION', nargs='*',
                   help=_('the destinations to remove (default: all)'))
    return p


def build_aliasinfo(sub, name, short):
    return _address_command(sub, name, short,
                            _("show an alias's destinations"), do_aliasinfo)


def build_relocatedadd(sub, name, short):
    p = _address_command(sub, name, short,
                         _('create a relocated user: mail is refused with '
                           'the new address'), do_relocatedadd)
    p.add_argument('newaddress', metavar='NEWADDRESS')
    return p


def build_relocateddelete(sub, name, short):
    return _address_command(sub, name, short,
                            _('delete a relocated user'), do_relocateddelete)


def build_relocatedinfo(sub, name, short):
    return _address_command(sub, name, short,
                            _("show a relocated user's new address"),
                            do_relocatedinfo)


def _domain_command(sub, name, short, help_text, func):
    p = add_command(sub, name, short, help_text, func)
    p.add_argument('fqdn', metavar='FQDN')
    return p


def build_catchalladd(sub, name, short):
    p = _domain_command(sub, name, short,
                        _("add catch-all destinations for a domain's unknown "
                          "addresses"), do_catchalladd)
    p.add_argument('destination', metavar='DESTINATION', nargs='+')
    return p


def build_catchalldelete(sub, name, short):
    p = _domain_command(sub, name, short,
                        _('delete catch-all destinations of a domain'),
                        do_catchalldelete)
    p.add_argument('destination', metavar='DESTINATION', nargs='*',
                   help=_('the destinations to remove (default: all)'))
    return p


def build_catchallinfo(sub, name, short):
    return _domain_command(sub, name, short,
                           _("show a domain's catch-all destinations"),
                           do_catchallinfo)


BUILDERS = {
    'aliasadd': build_aliasadd,
    'aliasdelete': build_aliasdelete,
    'aliasinfo': build_aliasinfo,
    'relocatedadd': build_relocatedadd,
    'relocateddelete': build_relocateddelete,
    'relocatedinfo': build_relocatedinfo,
    'catchalladd': build_catchalladd,
    'catchalldelete': build_catchalldelete,
    'catchallinfo': build_catchallinfo,
}
